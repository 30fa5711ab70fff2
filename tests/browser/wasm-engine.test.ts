// The GPT-2 training step on wasm in headless Chromium: every matmul untransposed (XNNPACK), one fused
// clip + AdamW kernel, gradient-saving clones that share data, and the same losses as tfjs' own transposed
// matmuls and op-by-op optimizer (the CPU-backend agreement tests are in tests/unit/matmul and adamw).
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

describe('GPT-2 training on wasm', () => {
  it('clones without copying (Identity shares the data) and frees it when both are gone', async () => {
    const r = await page.evaluate(async () => {
      const { useBackend, tf } = (window as any).lab;
      await useBackend('wasm');
      const be = tf.backend();
      const x = tf.tensor1d([1, 2, 3]);
      const n0 = be.numDataIds();
      const y = tf.clone(x);
      const n1 = be.numDataIds();
      x.dispose();
      const v = Array.from(await y.data());
      y.dispose();
      return { added: n1 - n0, v, leftover: be.numDataIds() - n0 };
    });
    expect(r.added).toBe(0);
    expect(r.v).toEqual([1, 2, 3]);
    expect(r.leftover).toBe(-1); // x's buffer freed once y was disposed too
  });

  it('runs a tiny step with untransposed matmuls and one optimizer kernel, with the losses of the stock path', async () => {
    const r = await page.evaluate(async () => {
      const { useBackend, tf } = (window as any).lab;
      await useBackend('wasm');
      const imp = (p: string) => new Function('p', 'return import(p)')(p);
      const { TrainRun, defaultTrainConfig } = await imp('/src/lib/train/trainer.ts');
      const { getOps } = await imp('/src/lib/models/gpt2/index.ts');
      const { setTransposeMode } = await imp('/src/lib/kernels/matmul/index.ts');
      const { AdamW, clipByGlobalNorm } = await imp('/src/lib/train/adamw.ts');
      const cfg = { ...defaultTrainConfig('cipher', 'tiny'), batchSize: 4, steps: 10 };
      const fast = TrainRun.create(cfg, getOps('fused'));
      const prof = await tf.profile(async () => { await fast.trainStep(); });
      const mm = prof.kernels.filter((k: any) => k.name === 'BatchMatMul' || k.name === '_FusedMatMul');
      const transposed = mm.filter((k: any) => k.inputShapes[0][k.inputShapes[0].length - 1] !== k.inputShapes[1][k.inputShapes[1].length - 2]).length;
      const names = prof.kernels.map((k: any) => k.name);
      const losses = { fast: [] as number[], slow: [] as number[] };
      for (let i = 0; i < 2; i++) losses.fast.push((await fast.trainStep()).loss);
      // the old path: tfjs' transposed matmuls and the op-by-op optimizer
      setTransposeMode('never');
      const slow = TrainRun.create(cfg, getOps('fused'));
      const apply = AdamW.prototype.clipAndApply;
      AdamW.prototype.clipAndApply = function (this: any, g: any, lr: number, maxNorm: number) {
        const { grads, norm } = clipByGlobalNorm(g, maxNorm);
        this.apply(grads, lr);
        tf.dispose(Object.values(grads));
        return norm;
      };
      try {
        await slow.trainStep();
        for (let i = 0; i < 2; i++) losses.slow.push((await slow.trainStep()).loss);
      } finally {
        AdamW.prototype.clipAndApply = apply;
        setTransposeMode('auto');
      }
      fast.dispose();
      slow.dispose();
      return { matmuls: mm.length, transposed, optimizerKernels: names.filter((n: string) => n === 'LabClipAdamW').length, squares: names.filter((n: string) => n === 'Square').length, losses };
    });
    expect(r.matmuls).toBe(3 * (4 * 2 + 1)); // tiny: 2 layers x 4 linears + head, forward, dX, dW
    expect(r.transposed).toBe(0);
    expect(r.optimizerKernels).toBe(1);
    expect(r.squares).toBe(0); // no op-by-op norm or second moment
    for (let i = 0; i < 2; i++) expect(Math.abs(r.losses.fast[i] - r.losses.slow[i]), `step ${i + 2}`).toBeLessThan(1e-4);
  });
});

describe('gradient clipping on webgpu', () => {
  it('computes the global norm of many gradients right (tfjs-webgpu AddN of 8+ inputs did not)', async () => {
    const r = await page.evaluate(async () => {
      const { useBackend, tf } = (window as any).lab;
      const { clipByGlobalNorm } = await new Function('p', 'return import(p)')('/src/lib/train/adamw.ts');
      await useBackend('webgpu');
      const out: Array<{ n: number; got: number; want: number }> = [];
      for (const n of [2, 9, 28]) {
        const grads: Record<string, any> = {};
        let want = 0;
        for (let i = 0; i < n; i++) {
          grads[`g${i}`] = tf.tensor1d([i + 1, -(i + 1)]);
          want += 2 * (i + 1) ** 2;
        }
        const { grads: clipped, norm } = clipByGlobalNorm(grads, 1);
        out.push({ n, got: (await norm.data())[0], want: Math.sqrt(want) });
        tf.dispose([norm, Object.values(grads), Object.values(clipped)]);
      }
      return { backend: tf.getBackend(), out };
    });
    expect(r.backend).toBe('webgpu');
    for (const { n, got, want } of r.out) expect(Math.abs(got - want), `${n} gradients`).toBeLessThan(1e-4 * want);
  });
});
