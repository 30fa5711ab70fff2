// The GPU worker runs under the lab's Content-Security-Policy on the dev server: eval, new Function and a fetch
// to a foreign host are refused inside it (the built site is checked in built-site.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
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
});
