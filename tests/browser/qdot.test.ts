// The wasm backend's quantized matmul runs the SIMD kernel (asm/qdot.ts) in tfjs-wasm's heap: in headless
// Chromium it must give exactly what its JS twin gives (the same int8 math), for one row (decode) and many
// (prefill), and the LLaMA fixture's logits must stay close to the float path (setQMatMulActivations('float')).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium, openHarness, loadModules } from './chromium';

let browser: Browser;
beforeAll(async () => { browser = await launchChromium(); });
afterAll(async () => { await browser?.close(); });

describe('wasm SIMD quantized matmul in tfjs-wasm', () => {
  it('equals the JS twin bit for bit in the heap of tfjs-wasm, and LLaMA logits stay near the float path', async () => {
    const page = await openHarness(browser);
    await loadModules(page, {
      q: '/src/lib/kernels/qmatmul/index.ts', int8: '/src/lib/kernels/qmatmul/wasm-simd/int8.ts', simd: '/src/lib/kernels/qmatmul/wasm-simd/index.ts',
      quant: '/src/lib/gguf/quant.ts', reader: '/src/lib/gguf/reader.ts', model: '/src/lib/models/llama/model.ts',
    });
    const r = await page.evaluate(async () => {
      const w = window as any;
      const { useBackend, tf } = w.lab;
      const q = w.q, { qMatMulInt8Ref } = w.int8, { quantize } = w.quant;
      q.registerQMatMulKernels();
      await useBackend('wasm');
      let s = 9;
      const rnd = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648 - 0.5; };
      const kernel: Record<string, number> = {};
      for (const f of ['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K']) {
        for (const M of [1, 7]) {
          const N = 40, K = 512;
          const bytes = quantize(f, Float32Array.from({ length: N * K }, rnd));
          const wt = q.makeQWeight(f, N, K, bytes);
          const xv = Float32Array.from({ length: M * K }, () => 3 * rnd());
          const y = await q.qMatMul(tf.tensor2d(xv, [M, K]), wt).data();
          const t = qMatMulInt8Ref(xv, M, bytes, f, N, K, q.rowBytes(f, K));
          let diff = 0;
          for (let i = 0; i < t.length; i++) if (!Object.is(y[i], t[i])) diff++;
          kernel[`${f} M=${M}`] = y.length === t.length ? diff : Infinity;
        }
      }
      // a product large enough for the helper threads (tfjs-wasm's threaded build, 2 cores here): the same bits
      {
        const f = 'Q4_K', N = 2304, K = 512;
        const bytes = quantize(f, Float32Array.from({ length: N * K }, rnd));
        const wt = q.makeQWeight(f, N, K, bytes);
        for (const M of [1, 3]) {
          const xv = Float32Array.from({ length: M * K }, () => 3 * rnd());
          await q.qMatMul(tf.tensor2d(xv, [M, K]), wt).data(); // the first call starts the helpers
          await new Promise((res) => setTimeout(res, 1000));
          const jobs = w.simd.qdotPoolStats.jobs;
          const y = await q.qMatMul(tf.tensor2d(xv, [M, K]), wt).data();
          const t = qMatMulInt8Ref(xv, M, bytes, f, N, K, q.rowBytes(f, K));
          let diff = 0;
          for (let i = 0; i < t.length; i++) if (!Object.is(y[i], t[i])) diff++;
          kernel[`${f} M=${M} threads`] = y.length === t.length ? diff : Infinity;
          kernel[`${f} M=${M} ran on threads (1 = yes)`] = w.simd.qdotPoolStats.jobs > jobs ? 0 : 1;
        }
      }
      // the LLaMA fixtures, int8 (default) against float activations
      const { parseGGUF } = w.reader, { LlamaModel, generate } = w.model;
      const llama: Record<string, { nmse: number; top1Same: number; rows: number; gen: number[][] }> = {};
      for (const file of ['tiny-llama-q4_k_m.gguf', 'tiny-llama-q4_0.gguf', 'tiny-llama-q8_0.gguf']) {
        const buf = await (await fetch(`/tests/fixtures/${file}`)).arrayBuffer();
        const m = await LlamaModel.fromGGUF(buf, parseGGUF(buf));
        const ids = m.tokenizer.encode(' the cat and the dog and 12 = 3', { addBos: true });
        const run = async (mode: string) => {
          q.setQMatMulActivations(mode);
          const l = m.forward(tf.tensor2d(ids, [1, ids.length], 'int32'));
          const v = Float32Array.from(await l.data());
          l.dispose();
          const gen = await generate(m, ids, { maxTokens: 4, greedy: true, stopIds: [] });
          return { v, gen };
        };
        const a = await run('int8'), b = await run('float');
        q.setQMatMulActivations('int8');
        const V = a.v.length / ids.length;
        let e = 0, ss = 0, same = 0;
        for (let i = 0; i < a.v.length; i++) { e += (a.v[i] - b.v[i]) ** 2; ss += b.v[i] ** 2; }
        for (let t = 0; t < ids.length; t++) {
          let ia = 0, ib = 0;
          for (let j = 1; j < V; j++) { if (a.v[t * V + j] > a.v[t * V + ia]) ia = j; if (b.v[t * V + j] > b.v[t * V + ib]) ib = j; }
          if (ia === ib) same++;
        }
        llama[file] = { nmse: e / ss, top1Same: same, rows: ids.length, gen: [a.gen, b.gen] };
        m.dispose();
      }
      return { backend: tf.getBackend(), threads: w.simd.qdotPoolStats.threads, hc: navigator.hardwareConcurrency, relaxed: w.simd.relaxed(), unavailable: w.simd.qdotUnavailable(), kernel, llama };
    });
    console.log('wasm SIMD qmatmul', JSON.stringify(r));
    expect(r.backend).toBe('wasm');
    expect(r.unavailable).toBeNull();
    for (const [k, v] of Object.entries(r.kernel)) expect(v, `${k}: outputs differing from the twin`).toBe(0);
    expect(r.threads).toBe(r.hc);
    for (const [f, v] of Object.entries(r.llama)) {
      // llama.cpp's tolerance for one quantized matmul is a normalized squared error of 5e-4 (test-backend-ops);
      // the logits come after 15 of them in 2 layers: 2e-3 (measured 8.1e-4 Q4_K_M, 2.9e-4 Q4_0, 1.4e-4 Q8_0)
      expect(v.nmse, f).toBeLessThan(2e-3);
      expect(v.nmse, `${f}: the int8 path must really run`).toBeGreaterThan(0);
      expect(v.top1Same, f).toBeGreaterThanOrEqual(v.rows - 1);
    }
  });
});
