// GPT-2's lab ops (GELU, LayerNorm, attention, cross-entropy, the embedding's gradient) on the wasm backend through their wasm SIMD kernels (src/lib/kernels/wasm-simd) against the
// JS twins, in headless Chromium (in tfjs-wasm's heap, threaded build): a whole training step's loss and every
// weight gradient of a small GPT-2, SIMD on and off (the LAB_WASM_SIMD_OPS flag).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openHarness } from './chromium';

let browser: Browser;
let page: Page;
beforeAll(async () => {
  browser = await launchChromium();
  page = await openHarness(browser);
});
afterAll(async () => {
  await browser?.close();
});

describe('wasm SIMD kernels of the GPT-2 ops', () => {
  it("give a GPT-2 training step's loss and gradients of the JS twins", async () => {
    const r = await page.evaluate(async () => {
      const { useBackend, tf } = (window as any).lab;
      await useBackend('wasm');
      const imp = (p: string) => new Function('p', 'return import(p)')(p);
      const { GPT2, initWeights, getOps } = await imp('/src/lib/models/gpt2/index.ts');
      const simd = await imp('/src/lib/kernels/wasm-simd/index.ts');
      // C = 20 and HS = 5 (4 lanes + a tail), T = 11, V = 13
      const cfg = { nLayer: 2, nHead: 4, dModel: 20, nCtx: 16, vocabSize: 13, eps: 1e-5 };
      const m = new GPT2(cfg, initWeights(cfg, 7), {}, getOps('fused'));
      const ids = tf.tensor2d(Array.from({ length: 3 * 12 }, (_, i) => (i * 7 + 3) % 13), [3, 12], 'int32');
      const w = tf.tensor2d(Array.from({ length: 3 * 12 }, (_, i) => (i % 12 < 2 ? 0 : 1)), [3, 12], 'float32');
      const step = async () => {
        const { value, grads } = m.valueAndGrads(() => m.loss(ids, w));
        const out: Record<string, number[]> = {};
        for (const [n, g] of Object.entries(grads)) out[n] = Array.from(await (g as any).data());
        const loss = (await value.data())[0];
        tf.dispose([value, ...Object.values(grads)]);
        return { loss, grads: out };
      };
      const calls0 = simd.simdOpsStats.calls;
      const on = await step();
      const calls = simd.simdOpsStats.calls - calls0;
      tf.env().set('LAB_WASM_SIMD_OPS', false);
      let off;
      try {
        off = await step();
      } finally {
        tf.env().set('LAB_WASM_SIMD_OPS', true);
      }
      const calls2 = simd.simdOpsStats.calls - calls0 - calls;
      let worst = 0, worstName = '';
      for (const n of Object.keys(on.grads)) {
        const a = on.grads[n], b = off.grads[n];
        let scale = 0;
        for (const v of b) scale = Math.max(scale, Math.abs(v));
        for (let i = 0; i < a.length; i++) {
          const e = Math.abs(a[i] - b[i]) / (1e-6 + 1e-4 * scale);
          if (!(e <= worst)) { worst = Number.isNaN(e) ? Infinity : e; worstName = n; }
        }
      }
      tf.dispose([ids, w]);
      m.dispose();
      return { unavailable: simd.simdOpsUnavailable(), calls, calls2, loss: [on.loss, off.loss], worst, worstName, n: Object.keys(on.grads).length };
    });
    expect(r.unavailable).toBeNull();
    // per layer: 2 LayerNorms, GELU, attention, forward and gradient; plus the final LayerNorm's, the
    // cross-entropy's and the token embedding's gradient
    expect(r.calls).toBe(2 * 2 * 4 + 2 + 2 + 1);
    expect(r.calls2).toBe(0);
    expect(r.n).toBe(2 * 12 + 4);
    expect(Math.abs(r.loss[0] - r.loss[1])).toBeLessThan(1e-5);
    expect(r.worst, `worst gradient ${r.worstName}`).toBeLessThanOrEqual(1);
  });
});
