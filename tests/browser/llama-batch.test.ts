// Every LLaMA forward path with a batch of 2 or more rows on WebGPU (SwiftShader), against wasm on the same file:
// a LoRA step's loss and adapter gradients, recording (last-token activations), multi-row greedy decoding, the
// raw (B, T, V) logits, and a hook edit landing from a per-row position on (the hook dispatcher's masked tf.where). A batch once failed on WebGPU (RoPE used a rank-5 reverse that tfjs-webgpu drops a
// dimension of), so each path here runs with B >= 2 and right-padded rows of different lengths.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium, openHarness, loadModules } from './chromium';

let browser: Browser;
beforeAll(async () => { browser = await launchChromium(); });
afterAll(async () => { await browser?.close(); });

interface PathResult {
  logits: number[];
  steered: number[];
  T: number;
  lens: number[];
  loss: number;
  grads: Record<string, number[]>;
  acts: Record<string, number[]>;
  decoded: number[][];
  generated: number[];
}

describe('LLaMA with batch >= 2 on webgpu == wasm', () => {
  it('LoRA step, recording, multi-row decoding and batched logits agree (Q4_0 fixture, tied output)', async () => {
    const page = await openHarness(browser);
    await loadModules(page, {
      q: '/src/lib/kernels/qmatmul/index.ts', reader: '/src/lib/gguf/reader.ts', model: '/src/lib/models/llama/model.ts',
      lora: '/src/lib/models/llama/lora.ts', gen: '/src/lib/models/generate.ts', pipe: '/src/lib/neurons/pipeline.ts',
      hooks: '/src/lib/models/hooks.ts',
    });
    const r = await page.evaluate(async () => {
      const w = window as any;
      const { useBackend, tf } = w.lab;
      const { parseGGUF } = w.reader;
      const { LlamaModel, generate } = w.model;
      const { LoraAdapters, lmLoss } = w.lora;
      w.q.registerQMatMulKernels();
      const buf = await (await fetch('/tests/fixtures/tiny-llama-q4_0.gguf')).arrayBuffer();
      const run = async () => {
        const m = await LlamaModel.fromGGUF(buf, parseGGUF(buf));
        const tok = m.tokenizer;
        const texts = [' the cat and 12', ' an ant', ' so there are = 1212 and the'];
        const prompts: number[][] = texts.map((t) => tok.encode(t, { addBos: true }));
        // raw batched logits, rows right-padded with token 0
        const T = Math.max(...prompts.map((p) => p.length));
        const flat = new Int32Array(prompts.length * T);
        prompts.forEach((p, b) => flat.set(p, b * T));
        const l = m.forward(tf.tensor2d(flat, [prompts.length, T], 'int32'));
        const logits = Array.from((await l.data()) as Float32Array);
        l.dispose();
        // a steering-like edit on block 0's output from each row's second-to-last token on (padding untouched)
        const bb = w.hooks.padRight(prompts, 0);
        const delta = Array.from({ length: m.dims.dModel }, (_, i) => (i % 5 === 0 ? 0.7 : 0));
        const sl = tf.tidy(() => m.runWithHooks(w.hooks.batchTensor(bb), { 'blocks.0.hook_resid_post': (x: any) => tf.add(x, tf.tensor1d(delta)) },
          { editFrom: bb.seqLengths.map((n: number) => n - 2), seqLengths: bb.seqLengths }));
        const steered = Array.from((await sl.data()) as Float32Array);
        sl.dispose();
        // LoRA step: adapters with a nonzero B (so both A and B get gradients), dropout off for determinism
        const a = LoraAdapters.create(m, { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'] }, 7);
        for (const [k, v] of Object.entries(a.vars) as Array<[string, any]>) {
          if (k.endsWith('lora_b')) v.assign(tf.mul(tf.randomUniform(v.shape, -1, 1, 'float32', 3), 0.05));
        }
        m.attachAdapters(a);
        const batch = { tokens: prompts, lossMask: prompts.map((p) => p.map(() => 1)) };
        const { value, grads } = a.grads(() => lmLoss(m, batch));
        const loss = (await value.data())[0];
        const g: Record<string, number[]> = {};
        for (const [k, t] of Object.entries(grads) as Array<[string, any]>) g[k] = Array.from(await t.data());
        tf.dispose([value, Object.values(grads)]);
        m.detachAdapters();
        a.dispose();
        // recording: activations at each row's last prompt token
        const names = ['blocks.0.hook_resid_pre', 'blocks.1.hook_resid_post', 'blocks.1.mlp.hook_post', 'blocks.0.hook_attn_out'];
        const rec = await w.pipe.lastTokenActivations(m, prompts, names);
        const acts: Record<string, number[]> = {};
        for (const n of names) acts[n] = Array.from(rec[n] as Float32Array);
        // multi-row greedy decoding (whole rows per forward, batch of 3)
        const decoded = await w.gen.greedyDecode(m, prompts, { maxNewTokens: 3, batchSize: 3 });
        // KV-cached decoding of one row (B = 1 path, for completeness)
        const generated = await generate(m, prompts[2], { maxTokens: 3, greedy: true, stopIds: [] });
        m.dispose();
        return { logits, steered, T, lens: bb.seqLengths, loss, grads: g, acts, decoded, generated };
      };
      // All webgpu runs first, then wasm: switching back to webgpu after wasm lost the GPU instance here.
      await useBackend('webgpu');
      const backendGpu = tf.getBackend();
      let gpu: unknown, gpuError = '';
      try { gpu = await run(); } catch (e) { gpuError = String((e as Error).message ?? e); }
      await useBackend('wasm');
      w.q.setQMatMulActivations('float'); // webgpu's float math; the default int8 path is checked in qdot.test.ts
      const wasm = await run();
      return { backendGpu, gpu, gpuError, wasm };
    });
    expect(r.backendGpu).toBe('webgpu');
    expect(r.gpuError).toBe('');
    const gpu = r.gpu as PathResult, wasm = r.wasm as PathResult;
    const close = (a: number[], b: number[], what: string) => {
      expect(a.length, what).toBe(b.length);
      let err = 0, scale = 0;
      for (let i = 0; i < b.length; i++) { err = Math.max(err, Math.abs(a[i] - b[i])); scale = Math.max(scale, Math.abs(b[i])); }
      expect(scale, `${what} is all zeros`).toBeGreaterThan(0);
      expect(err, what).toBeLessThan(1e-4 * scale + 1e-5);
    };
    close(gpu.logits, wasm.logits, 'batched logits');
    close(gpu.steered, wasm.steered, 'logits with an edit from a per-row position');
    // on each backend the edit lands from position seqLength - 2 of each row on: earlier positions keep their logits
    for (const res of [gpu, wasm]) {
      const V = res.logits.length / (3 * res.T);
      res.lens.forEach((n, b) => {
        for (let t = 0; t < n; t++) {
          let d = 0;
          for (let v = 0; v < V; v++) d = Math.max(d, Math.abs(res.steered[(b * res.T + t) * V + v] - res.logits[(b * res.T + t) * V + v]));
          if (t < n - 2) expect(d, `row ${b} position ${t} before the edit`).toBeLessThan(1e-6);
          else expect(d, `row ${b} position ${t} edited`).toBeGreaterThan(1e-3);
        }
      });
    }
    expect(Math.abs(gpu.loss - wasm.loss)).toBeLessThan(1e-4 * Math.abs(wasm.loss));
    expect(Object.keys(gpu.grads).sort()).toEqual(Object.keys(wasm.grads).sort());
    for (const k of Object.keys(wasm.grads)) close(gpu.grads[k], wasm.grads[k], `gradient ${k}`);
    for (const k of Object.keys(wasm.acts)) close(gpu.acts[k], wasm.acts[k], `activation ${k}`);
    expect(wasm.decoded.length).toBe(3);
    expect(wasm.decoded.every((d) => d.length > 0)).toBe(true);
    expect(gpu.decoded).toEqual(wasm.decoded);
    expect(gpu.generated).toEqual(wasm.generated);
  });
});
