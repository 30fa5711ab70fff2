// Quantized WGSL kernels against their CPU reference, and the LLaMA model on webgpu == wasm, in headless Chromium.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium, openHarness, loadModules } from './chromium';

/**
 * Loads lab modules into the page as window globals. (`await import()` written inside page.evaluate is
 * rewritten by vitest's transform into __vite_ssr_dynamic_import__, which does not exist in the page.)
 */

let browser: Browser;
beforeAll(async () => { browser = await launchChromium(); });
afterAll(async () => { await browser?.close(); });

describe('qmatmul WGSL kernels', () => {
  it('forward, x-gradient and gather equal the CPU reference for F16, Q8_0, Q4_0, Q4_K, Q6_K', async () => {
    const page = await openHarness(browser);
    await loadModules(page, { q: '/src/lib/kernels/qmatmul/index.ts', quant: '/src/lib/gguf/quant.ts' });
    const r = await page.evaluate(async () => {
      const { useBackend, tf } = (window as any).lab;
      const q = (window as any).q;
      const { quantize } = (window as any).quant;
      q.registerQMatMulKernels();
      await useBackend('webgpu');
      let s = 5;
      const rnd = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648 - 0.5; };
      const N = 12, K = 512, M = 3;
      const out: Record<string, number[]> = {};
      for (const f of ['F16', 'Q8_0', 'Q4_0', 'Q4_K', 'Q6_K']) {
        const wf = Float32Array.from({ length: N * K }, rnd);
        const bytes = quantize(f, wf);
        const w = q.makeQWeight(f, N, K, bytes);
        const xv = Float32Array.from({ length: M * K }, rnd), gv = Float32Array.from({ length: M * N }, rnd);
        const x = tf.tensor2d(xv, [M, K]);
        const y = await q.qMatMul(x, w).data();
        // d/dx sum(y * g) = g W: the registered gradient runs the dx kernel.
        const dx = await tf.grad((a: any) => tf.sum(tf.mul(q.qMatMul(a, w), tf.tensor2d(gv, [M, N]))))(x).data();
        const e = await q.qGather(tf.tensor1d([3, 11, 0], 'int32'), w).data();
        const words = new Int32Array(await w.data.data());
        const attrs = { format: f, N, K };
        const yr = q.qMatMulRef(xv, M, words, attrs), dxr = q.qMatMulDxRef(gv, M, words, attrs), er = q.qGatherRef(new Int32Array([3, 11, 0]), words, attrs);
        const err = (a: ArrayLike<number>, b: ArrayLike<number>) => { let m = 0; for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); return a.length === b.length ? m : Infinity; };
        out[f] = [err(y, yr), err(dx, dxr), err(e, er), Math.max(...Array.from(yr, Math.abs))];
      }
      // More than 65535 workgroups (one per output in the block kernel): tfjs folds the dispatch into 2D.
      {
        const Nb = 66000, Kb = 64;
        const wf = Float32Array.from({ length: Nb * Kb }, rnd);
        const w = q.makeQWeight('Q4_0', Nb, Kb, quantize('Q4_0', wf));
        const xv = Float32Array.from({ length: Kb }, rnd);
        const y = await q.qMatMul(tf.tensor2d(xv, [1, Kb]), w).data();
        const yr = q.qMatMulRef(xv, 1, new Int32Array(await w.data.data()), { format: 'Q4_0', N: Nb, K: Kb });
        let m = 0;
        for (let i = 0; i < Nb; i++) m = Math.max(m, Math.abs(y[i] - yr[i]));
        out.bigDispatch = [m, y.length === Nb ? 0 : Infinity, 0, Math.max(...Array.from(yr, Math.abs))];
      }
      return { backend: tf.getBackend(), out };
    });
    console.log('webgpu vs CPU reference [y, dx, gather, max|y|]', r.out);
    expect(r.backend).toBe('webgpu');
    for (const [f, [ey, edx, eg, scale]] of Object.entries(r.out)) {
      expect(scale, f).toBeGreaterThan(0.1);
      expect(ey, f).toBeLessThan(1e-4);
      expect(edx, f).toBeLessThan(1e-4);
      expect(eg, f).toBe(0);
    }
  });
});

describe('LLaMA on webgpu == wasm', () => {
  it('gives the same logits and greedy continuation on webgpu and wasm (Q4_K_M-like and Q4_0 fixtures)', async () => {
    const page = await openHarness(browser);
    await loadModules(page, { q: '/src/lib/kernels/qmatmul/index.ts', reader: '/src/lib/gguf/reader.ts', model: '/src/lib/models/llama/model.ts' });
    const r = await page.evaluate(async () => {
      const { useBackend, tf } = (window as any).lab;
      const q = (window as any).q;
      const { parseGGUF } = (window as any).reader;
      const { LlamaModel, generate } = (window as any).model;
      q.registerQMatMulKernels();
      const files = ['tiny-llama-q4_k_m.gguf', 'tiny-llama-q4_0.gguf'];
      const bufs = await Promise.all(files.map(async (f) => (await fetch(`/tests/fixtures/${f}`)).arrayBuffer()));
      const run = async (buf: ArrayBuffer) => {
        const m = await LlamaModel.fromGGUF(buf, parseGGUF(buf));
        const ids = m.tokenizer.encode(' the cat and 12', { addBos: true });
        const l = m.forward(tf.tensor2d(ids, [1, ids.length], 'int32'));
        const logits = Array.from((await l.data()) as Float32Array);
        l.dispose();
        const gen = await generate(m, ids, { maxTokens: 5, greedy: true, stopIds: [] });
        m.dispose();
        return { logits, gen };
      };
      // All webgpu runs first, then wasm: switching back to webgpu after wasm lost the GPU instance here.
      await useBackend('webgpu');
      const gpu = [];
      for (const b of bufs) gpu.push(await run(b));
      await useBackend('wasm');
      q.setQMatMulActivations('float'); // the float math of webgpu; the default int8 path is checked in qdot.test.ts
      const res: Record<string, unknown> = {};
      for (let i = 0; i < files.length; i++) {
        const g = gpu[i], w = await run(bufs[i]);
        let err = 0, scale = 0;
        g.logits.forEach((v: number, j: number) => { err = Math.max(err, Math.abs(v - w.logits[j])); scale = Math.max(scale, Math.abs(w.logits[j])); });
        res[files[i]] = { err, scale, genGpu: g.gen, genWasm: w.gen };
      }
      return res;
    });
    console.log('webgpu vs wasm', r);
    for (const v of Object.values(r) as Array<{ err: number; scale: number; genGpu: number[]; genWasm: number[] }>) {
      expect(v.scale).toBeGreaterThan(1);
      expect(v.err).toBeLessThan(1e-4 * v.scale + 1e-4);
      expect(v.genGpu).toEqual(v.genWasm);
    }
  });
});
