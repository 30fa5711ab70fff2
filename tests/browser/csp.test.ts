// The GPU worker runs under the lab's Content-Security-Policy on the dev server: eval, new Function and a fetch
// to a foreign host are refused inside it (the built site is checked in built-site.test.ts); and a model URL
// that redirects to a host outside the model-URL rule is refused, the request never leaving the browser.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { baseUrl, launchChromium } from './chromium';
import { countingServer, gpuWorker, probeWorker } from './worker-csp';
import { LAB_CSP } from '../../scripts/csp';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe('Content-Security-Policy on the dev server', () => {
  it('covers the GPU worker: eval, new Function and a foreign fetch are refused inside it', async () => {
    const foreign = await countingServer();
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const workerHeaders: Record<string, string>[] = [];
    page.on('response', (r) => {
      if (/gpu\.worker/.test(r.url())) workerHeaders.push(r.headers());
    });
    await page.goto(`${baseUrl()}/?page=train&backend=wasm&task=cipher&preset=tiny`);
    const headers = await (await page.request.get(`${baseUrl()}/`)).headers();
    expect(headers['content-security-policy']).toBe(LAB_CSP);
    const worker = await gpuWorker(page);
    await page.waitForSelector('[data-testid=backend-badge] >> text=backend: wasm', { timeout: 120_000 });
    expect(workerHeaders.map((h) => h['content-security-policy'])).toContain(LAB_CSP);
    const probe = await probeWorker(worker, foreign.url);
    expect(probe).toMatchObject({ eval: 'EvalError', fn: 'EvalError', fetch: 'TypeError' });
    expect(probe.violations).toEqual(expect.arrayContaining([expect.stringMatching(/^script-src eval$/), `connect-src ${foreign.url}`]));
    expect(foreign.hits()).toBe(0);
    await ctx.close();
    await foreign.close();
  });

  it('refuses a model URL that redirects outside the rule, and shows the final host of an allowed redirect', async () => {
    const foreign = await countingServer();
    const file = readFileSync('tests/fixtures/tiny-llama-q4_k_m.gguf');
    const cors = { 'Access-Control-Allow-Origin': '*', 'Cross-Origin-Resource-Policy': 'cross-origin' };
    const server = createServer((req, res) => {
      const port = (server.address() as AddressInfo).port;
      if (req.url === '/redir.gguf') res.writeHead(302, { ...cors, location: foreign.url }).end();
      else if (req.url === '/ok.gguf') res.writeHead(302, { ...cors, location: `http://localhost:${port}/tiny.gguf` }).end();
      else if (req.url === '/tiny.gguf') res.writeHead(200, { ...cors, 'content-length': String(file.length) }).end(file);
      else res.writeHead(404, cors).end();
    });
    await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
    const local = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${baseUrl()}/?page=llama&backend=wasm`);
    await page.waitForSelector('[data-testid=backend-badge] >> text=backend: wasm', { timeout: 120_000 });

    await page.fill('[data-testid=llama-url]', `${local}/redir.gguf`);
    await page.click('[data-testid=llama-url-load]');
    await page.waitForSelector('[data-testid=llama-error]', { timeout: 60_000 });
    expect(await page.textContent('[data-testid=llama-error]')).toMatch(/redir\.gguf redirects, and the redirect was refused.*must be https \(or http on localhost\)/);
    expect(foreign.hits()).toBe(0);

    await page.fill('[data-testid=llama-url]', `${local}/ok.gguf`);
    await page.click('[data-testid=llama-url-load]');
    await page.waitForSelector('[data-testid=llama-download-host]', { timeout: 60_000 });
    expect(await page.textContent('[data-testid=llama-download]')).toMatch(new RegExp(`From localhost:\\d+ \\(redirected from ${new URL(local).host.replace(/\./g, '\\.')}\\)`));
    await ctx.close();
    server.closeAllConnections();
    server.close();
    await foreign.close();
  });
});
