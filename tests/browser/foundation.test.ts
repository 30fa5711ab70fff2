// The foundation in a real headless Chromium: WebGPU really computes (and equals wasm), and every page renders.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { join } from 'node:path';
import { baseUrl, launchChromium, openHarness, screenshotDir } from './chromium';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe('backends', () => {
  it('runs a matmul + gelu-like chain on WebGPU (SwiftShader here) and gets the wasm result', async () => {
    const page = await openHarness(browser);
    const r = await page.evaluate(async () => {
      const { useBackend, tf } = (window as any).lab;
      const a = Array.from({ length: 48 * 40 }, (_, i) => Math.sin(i * 0.7));
      const b = Array.from({ length: 40 * 24 }, (_, i) => Math.cos(i * 0.3));
      const run = async () => {
        const y = tf.tidy(() => tf.tanh(tf.matMul(tf.tensor2d(a, [48, 40]), tf.tensor2d(b, [40, 24]))));
        const v = await y.data();
        y.dispose();
        return v;
      };
      await useBackend('webgpu');
      const adapter = await navigator.gpu.requestAdapter();
      const onGpu = Array.from((await run()) as Float32Array);
      const backendGpu = tf.getBackend();
      await useBackend('wasm');
      const onWasm = Array.from((await run()) as Float32Array);
      let maxErr = 0;
      for (let i = 0; i < onGpu.length; i++) maxErr = Math.max(maxErr, Math.abs(onGpu[i] - onWasm[i]));
      return { backendGpu, arch: adapter?.info?.architecture, maxErr, n: onGpu.length, sample: onGpu[5] };
    });
    expect(r.backendGpu).toBe('webgpu');
    expect(r.n).toBe(48 * 24);
    expect(Number.isFinite(r.sample)).toBe(true);
    expect(r.maxErr).toBeLessThan(1e-4);
  });
});

describe('pages', () => {
  const pages = ['home', 'tasks', 'train', 'neurons', 'steer', 'llama', 'runs', 'report', 'device'];
  for (const p of pages) {
    it(`renders the ${p} page without errors`, async () => {
      const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${baseUrl()}/?page=${p}`);
      await page.waitForSelector('main h1', { timeout: 60_000 });
      await page.waitForTimeout(500);
      await page.screenshot({ path: join(screenshotDir(), `page-${p}.png`), fullPage: true });
      expect(errors).toEqual([]);
      await page.close();
    });
  }

  it('shows the adapter and backend on the device panel', async () => {
    const page = await browser.newPage();
    await page.goto(`${baseUrl()}/?page=device`);
    await page.waitForSelector('[data-testid=device-backend]:has-text("webgpu")', { timeout: 120_000 });
    expect(await page.textContent('[data-testid=adapter-arch]')).toMatch(/\S/);
    await page.click('text=Run a self-test');
    const t = await page.waitForSelector('[data-testid=self-test]', { timeout: 120_000 });
    expect(await t.textContent()).toContain('webgpu');
    await page.close();
  });

  it('runs wasm on every logical core and says so on the device panel', async () => {
    // tfjs-wasm alone would cap its pool at hardwareConcurrency / 2 (1 thread on a 2-core machine)
    const page = await browser.newPage();
    await page.goto(`${baseUrl()}/?page=device&backend=wasm`);
    await page.waitForSelector('[data-testid=device-backend]:has-text("wasm")', { timeout: 120_000 });
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    await page.waitForSelector('[data-testid=wasm-threads]:not(:has-text("not started"))', { timeout: 60_000 });
    expect(Number(await page.textContent('[data-testid=wasm-threads]'))).toBe(cores);
    expect(Number(await page.textContent('[data-testid=logical-cores]'))).toBe(cores);
    await page.close();
  });

  it('names unknown link parameters and ignores them', async () => {
    const page = await browser.newPage();
    await page.goto(`${baseUrl()}/?page=tasks&bogus=1&seed=abc`);
    await page.waitForSelector('main h1');
    const text = await page.textContent('main');
    expect(text).toContain('Unknown link parameter "bogus"');
    expect(text).toContain('seed="abc" is not valid');
    await page.close();
  });
});
