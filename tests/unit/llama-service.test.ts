// LlamaService in Node (cpu backend): load, info, generate, URL checks, and a download interrupted mid-stream
// that resumes with a Range request from a local server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as tf from '@tensorflow/tfjs';
import { LlamaService } from '../../src/lib/worker/llama';
import { checkModelUrl, type DownloadProgress } from '../../src/lib/store/download';
import { registerQMatMulKernels } from '../../src/lib/kernels/qmatmul';

const file = readFileSync('tests/fixtures/tiny-llama-q4_k_m.gguf');
let server: Server;
let base = '';
const log: string[] = [];

beforeAll(async () => {
  registerQMatMulKernels();
  await tf.setBackend('cpu');
  let firstCut = true;
  server = createServer((req, res) => {
    const range = /bytes=(\d+)-/.exec(req.headers.range ?? '');
    log.push(`${req.url} ${req.headers.range ?? 'full'}`);
    if (req.url === '/missing.gguf') { res.writeHead(404); res.end(); return; }
    // redirects: to another host outside the rule (127.0.0.2 over http), and to an allowed one (localhost)
    const port = (server.address() as AddressInfo).port;
    if (req.url === '/redir-foreign.gguf') { res.writeHead(302, { location: `http://127.0.0.2:${port}/foreign.gguf` }); res.end(); return; }
    if (req.url === '/redir-twice.gguf') { res.writeHead(301, { location: '/redir-foreign.gguf' }); res.end(); return; }
    if (req.url === '/redir-local.gguf') { res.writeHead(302, { location: `http://localhost:${port}/target.gguf` }); res.end(); return; }
    const start = range ? Number(range[1]) : 0;
    res.writeHead(range ? 206 : 200, { 'content-length': String(file.length - start), 'accept-ranges': 'bytes' });
    if (req.url === '/cut.gguf' && firstCut) {
      firstCut = false;
      res.write(file.subarray(0, 200_000), () => res.destroy()); // drop the connection part-way
      return;
    }
    res.end(file.subarray(start));
  });
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', r)); // 127.0.0.2 (a "foreign host") reaches it too
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => server?.close());

describe('LlamaService', () => {
  it('loads from a buffer and reports dims, quant types and memory; generates greedily', async () => {
    const s = new LlamaService();
    expect(() => s.info()).toThrow(/No LLaMA model is loaded/);
    const info = await s.loadFromBuffer(file.buffer.slice(file.byteOffset, file.byteOffset + file.length), 'tiny');
    expect(info).toMatchObject({ name: 'tiny', nLayer: 2, dModel: 256, nHead: 4, nHeadKv: 2, headDim: 64, tiedOutput: true, fileBytes: file.length });
    expect(info.quantTypes).toMatchObject({ Q4_K: 10, Q6_K: 5, F32: 6 });
    expect(info.weightBytes).toBeLessThan(file.length); // weights stay packed
    expect(info.estimatedGpuBytes).toBe(info.weightBytes + 2 * 2 * 256 * 2 * 64 * 4);
    const a = await s.generate(' the cat', { maxTokens: 4, greedy: true });
    const b = await s.generate(' the cat', { maxTokens: 4, greedy: true });
    expect(a.ids.length).toBeGreaterThan(0);
    expect(a).toEqual(b);
    expect(a.promptIds[0]).toBe(s.getModel().tokenizer.bosId);
    const c = await s.generate('hi', { maxTokens: 2, chat: true });
    expect(c.promptIds.slice(-3)).toEqual(s.getModel().tokenizer.encode('assistant<|end_header_id|>\n\n').slice(-3));
    s.unload();
  });

  it('downloads over http from localhost, resuming with Range after a dropped connection', async () => {
    const s = new LlamaService();
    const seen: DownloadProgress[] = [];
    const info = await s.loadFromUrl(`${base}/cut.gguf`, (p) => seen.push(p));
    expect(info.fileBytes).toBe(file.length);
    expect(log).toContain('/cut.gguf bytes=200000-');
    const last = seen[seen.length - 1];
    expect(last).toMatchObject({ loaded: file.length, total: file.length, resumes: 1, fromCache: false });
    expect(seen.some((p) => Number.isFinite(p.etaSec))).toBe(true);
    const direct = new LlamaService();
    await direct.loadFromBuffer(file.buffer.slice(file.byteOffset, file.byteOffset + file.length), 'x');
    expect(await s.generate(' the', { maxTokens: 3 })).toEqual(await direct.generate(' the', { maxTokens: 3 }));
    s.unload();
    direct.unload();
  });

  it('refuses non-local http, bad URLs and failed downloads with clear messages', async () => {
    expect(() => checkModelUrl('http://example.com/m.gguf')).toThrow(/must be https \(or http on localhost\)/);
    expect(() => checkModelUrl('ftp://localhost/m.gguf')).toThrow(/must be https/);
    expect(() => checkModelUrl('not a url')).toThrow(/not a valid URL/);
    expect(checkModelUrl('https://huggingface.co/x/m.gguf').hostname).toBe('huggingface.co');
    await expect(new LlamaService().loadFromUrl(`${base}/missing.gguf`)).rejects.toThrow(/HTTP 404/);
    expect(() => checkModelUrl('http://[::1]:8080/m.gguf')).toThrow(/must be https/); // the CSP cannot name IPv6 hosts
  });

  it('checks every redirect hop: a redirect to a host outside the rule is refused before it is followed', async () => {
    for (const path of ['/redir-foreign.gguf', '/redir-twice.gguf']) {
      log.length = 0;
      const err = await new LlamaService().loadFromUrl(`${base}${path}`).catch((e: Error) => e.message);
      expect(err).toMatch(new RegExp(`redir-foreign\\.gguf redirects to http://127\\.0\\.0\\.2:\\d+, which is refused: model URLs must be https`));
      expect(log.filter((l) => l.startsWith('/foreign.gguf'))).toEqual([]); // never asked
    }
  });

  it('follows a redirect to an allowed host and reports the final host before the body', async () => {
    log.length = 0;
    const seen: DownloadProgress[] = [];
    const info = await new LlamaService().loadFromUrl(`${base}/redir-local.gguf`, (p) => seen.push(p));
    expect(info.fileBytes).toBe(file.length);
    const port = new URL(base).port;
    expect(seen[0]).toMatchObject({ loaded: 0, host: `localhost:${port}`, redirectedFrom: `127.0.0.1:${port}` });
    expect(log).toEqual(['/redir-local.gguf full', '/target.gguf full']);
  });
});
