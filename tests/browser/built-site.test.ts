// The built site, served as users get it (`vite build`, then `vite preview` with the config's headers), trains
// one step on each backend this machine has: wasm (the threaded SIMD binary, cross-origin isolated) and WebGPU
// (SwiftShader here, on the tiny preset). The dev server hides build-only faults: minification once broke the
// wasm backend's pthread workers ("ReferenceError: e is not defined"), and the header stayed at "starting".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { preview, type PreviewServer } from 'vite';
import type { Browser, Page } from 'playwright-core';
import type { Server as HttpServer } from 'node:http';
import { buildSite, launchChromium } from './chromium';
import { countingServer, gpuWorker, probeWorker } from './worker-csp';
import { LAB_CSP } from '../../scripts/csp';

let browser: Browser;
let server: PreviewServer | undefined;
let outDir = '';
let base = '';

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'memgen-built-'));
  await buildSite(outDir);
  // The preview server with the config's own headers, exactly as `npm run preview` serves the site.
  server = await preview({ logLevel: 'error', build: { outDir }, preview: { port: 0, host: '127.0.0.1', strictPort: false } });
  base = server.resolvedUrls!.local[0].replace(/\/$/, '');
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  if (server) {
    (server.httpServer as HttpServer).closeAllConnections?.();
    await server.close();
  }
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

/** Opens the Train page of the built site on `backend`, collecting page errors and console errors. */
async function openTrain(backend: 'wasm' | 'webgpu'): Promise<{ page: Page; errors: string[]; requests: string[]; close: () => Promise<void> }> {
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 1000 } });
  const requests: string[] = [];
  // what the page and its workers ask for (the service worker's precache fetches every file, so not its own)
  ctx.on('request', (r) => {
    if (!r.serviceWorker()) requests.push(new URL(r.url()).pathname);
  });
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(`${base}/?page=train&backend=${backend}&task=cipher&preset=tiny`);
  return { page, errors, requests, close: () => ctx.close() };
}

async function trainOneStep(page: Page): Promise<void> {
  await page.waitForSelector('[data-testid=train-start]:not([disabled])', { timeout: 120_000 });
  await page.fill('[data-testid=train-steps]', '1');
  await page.fill('[data-testid=train-eval-every]', '1');
  await page.fill('[data-testid=train-eval-limit]', '1');
  await page.click('[data-testid=train-start]');
  await page.waitForSelector('text=Training finished', { timeout: 300_000 });
  expect(await page.textContent('[data-testid=runs-table] tbody tr')).toContain('1 / 1');
}

describe('the built site', () => {
  it('starts the wasm backend (threaded, cross-origin isolated) and trains one step', async () => {
    const { page, errors, requests, close } = await openTrain('wasm');
    await page.waitForSelector('[data-testid=backend-badge] >> text=backend: wasm', { timeout: 120_000 });
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    // the worker loaded the threaded SIMD binary (the one whose pthread workers the minifier used to break)
    const binaries = [...new Set(requests.filter((p) => /\/tfjs-backend-wasm[^/]*\.wasm$/.test(p)))];
    expect(binaries).toEqual([expect.stringMatching(/\/tfjs-backend-wasm-threaded-simd-[\w-]+\.wasm$/)]);
    await trainOneStep(page);
    // its pthread pool really runs: the Device page counts one thread per logical core
    await page.goto(`${base}/?page=device&backend=wasm`);
    await page.waitForSelector('[data-testid=wasm-threads]:not(:has-text("not started"))', { timeout: 120_000 });
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    expect(Number(await page.textContent('[data-testid=wasm-threads]'))).toBe(cores);
    expect(errors).toEqual([]);
    await close();
  });

  it('sends the CSP header, which covers the GPU worker: eval, new Function and a foreign fetch are refused inside it', async () => {
    const foreign = await countingServer();
    const { page, close } = await openTrain('wasm');
    const worker = await gpuWorker(page);
    await page.waitForSelector('[data-testid=backend-badge] >> text=backend: wasm', { timeout: 120_000 });
    const res = await page.request.get(worker.url());
    expect(res.headers()['content-security-policy']).toBe(LAB_CSP);
    const probe = await probeWorker(worker, foreign.url);
    expect(probe).toMatchObject({ eval: 'EvalError', fn: 'EvalError', fetch: 'TypeError' });
    expect(probe.violations).toEqual(expect.arrayContaining(['script-src eval', `connect-src ${foreign.url}`]));
    expect(foreign.hits()).toBe(0);
    await close();
    await foreign.close();
  });

  it('starts the WebGPU backend and trains one step', async () => {
    const { page, errors, close } = await openTrain('webgpu');
    await page.waitForSelector('[data-testid=backend-badge] >> text=backend: webgpu', { timeout: 120_000 });
    await trainOneStep(page);
    expect(errors).toEqual([]);
    await close();
  });
});
