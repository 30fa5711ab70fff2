// LlamaService in the browser: loadFromUrl streams from the dev server (localhost), caches in the Cache API,
// and the second load comes from the cache; generation runs on WebGPU.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium, openHarness, loadModules } from './chromium';

let browser: Browser;
beforeAll(async () => { browser = await launchChromium(); });
afterAll(async () => { await browser?.close(); });

describe('LlamaService in the browser', () => {
  it('downloads with progress, caches, reloads from the cache, and generates on webgpu', async () => {
    const page = await openHarness(browser);
    await loadModules(page, { q: '/src/lib/kernels/qmatmul/index.ts', svc: '/src/lib/worker/llama.ts' });
    const r = await page.evaluate(async () => {
      const { useBackend } = (window as any).lab;
      (window as any).q.registerQMatMulKernels();
      await useBackend('webgpu');
      await caches.delete('memgen-models');
      const url = `${location.origin}/tests/fixtures/tiny-llama-q4_k_m.gguf`;
      const s = new (window as any).svc.LlamaService();
      const p1: any[] = [], p2: any[] = [];
      const info = await s.loadFromUrl(url, (p: any) => p1.push(p));
      const g1 = await s.generate(' the cat', { maxTokens: 4 });
      const info2 = await s.loadFromUrl(url, (p: any) => p2.push(p));
      const g2 = await s.generate(' the cat', { maxTokens: 4 });
      const cached = await (await caches.open('memgen-models')).match(url);
      s.unload();
      let refused = '';
      try { await s.loadFromUrl('http://example.com/x.gguf'); } catch (e) { refused = String(e); }
      return { info, info2, last1: p1[p1.length - 1], p2, g1, g2, cachedSize: (await cached?.blob())?.size, refused };
    });
    expect(r.info.fileBytes).toBe(563168);
    expect(r.info2).toEqual(r.info);
    expect(r.last1).toMatchObject({ loaded: 563168, fromCache: false });
    expect(r.p2).toEqual([expect.objectContaining({ fromCache: true, loaded: 563168 })]);
    expect(r.cachedSize).toBe(563168);
    expect(r.g1.ids.length).toBeGreaterThan(0);
    expect(r.g2).toEqual(r.g1);
    expect(r.refused).toMatch(/must be https/);
  });
});
