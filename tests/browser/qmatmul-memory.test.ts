// The quantized matmul's gradient must not keep a copy of the base weight: tfjs clones every input a gradient
// saves, and on wasm a clone is a copy, so saving `w` duplicated each base weight on every training pass.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium, openHarness, loadModules } from './chromium';

let browser: Browser;
beforeAll(async () => { browser = await launchChromium(); });
afterAll(async () => { await browser?.close(); });

describe('qMatMul gradient memory on wasm', () => {
  it('a recorded forward allocates its output only, not a copy of the weight, and the x-gradient is right', async () => {
    const page = await openHarness(browser);
    await loadModules(page, { q: '/src/lib/kernels/qmatmul/index.ts', quant: '/src/lib/gguf/quant.ts' });
    const r = await page.evaluate(async () => {
      const { useBackend, tf } = (window as any).lab;
      const q = (window as any).q;
      const { quantize } = (window as any).quant;
      q.registerQMatMulKernels();
      await useBackend('wasm');
      const N = 1024, K = 512, M = 2;
      let s = 3;
      const rnd = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648 - 0.5; };
      const w = q.makeQWeight('Q8_0', N, K, quantize('Q8_0', Float32Array.from({ length: N * K }, rnd)));
      const xv = Float32Array.from({ length: M * K }, rnd), gv = Float32Array.from({ length: M * N }, rnd);
      const x = tf.tensor2d(xv, [M, K]), g = tf.tensor2d(gv, [M, N]);
      let grown = -1;
      const dx = tf.grad((a: any) => {
        const before = tf.memory().numBytes;
        const y = q.qMatMul(a, w); // recorded on the tape
        grown = tf.memory().numBytes - before;
        return tf.sum(tf.mul(y, g));
      })(x);
      const dxv = await dx.data();
      const dxr = q.qMatMulDxRef(gv, M, new Int32Array(await w.data.data()), { format: 'Q8_0', N, K });
      let err = 0;
      for (let i = 0; i < dxr.length; i++) err = Math.max(err, Math.abs(dxv[i] - dxr[i]));
      return { backend: tf.getBackend(), grown, yBytes: M * N * 4, wBytes: w.data.size * 4, err };
    });
    expect(r.backend).toBe('wasm');
    expect(r.grown).toBe(r.yBytes); // was yBytes + wBytes (the saved copy of w)
    expect(r.wBytes).toBeGreaterThan(10 * r.yBytes);
    expect(r.err).toBeLessThan(1e-4);
  });
});
