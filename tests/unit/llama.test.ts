// The LLaMA model on the cpu backend: quantized kernels vs dequantized weights, an independent float64
// reference written with HF's layout (un-permuted Q/K, rotate-half RoPE), KV-cache consistency and hooks.
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { parseGGUF, findTensor, readTensorBytes, type GGUFHeader } from '../../src/lib/gguf/reader';
import { dequantize } from '../../src/lib/gguf/quant';
import { LlamaModel, generate } from '../../src/lib/models/llama/model';
import { registerQMatMulKernels, makeQWeight, qMatMul, qGather } from '../../src/lib/kernels/qmatmul';
import { mulberry32 } from '../../src/lib/util/rng';
import type { HookContext } from '../../src/lib/models/types';

const load = (f: string) => {
  const bytes = new Uint8Array(readFileSync(`tests/fixtures/${f}`));
  return { bytes, h: parseGGUF(bytes) };
};
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

beforeAll(async () => {
  registerQMatMulKernels();
  await tf.setBackend('cpu');
});

/** Float64 LLaMA forward in plain JS with HF conventions: the independent reference. */
async function referenceLogits(bytes: Uint8Array, h: GGUFHeader, ids: number[]): Promise<Float64Array> {
  const md = h.metadata as Record<string, number>;
  const L = md['llama.block_count'], C = md['llama.embedding_length'], D = md['llama.feed_forward_length'];
  const NH = md['llama.attention.head_count'], NKV = md['llama.attention.head_count_kv'], HS = C / NH;
  const base = md['llama.rope.freq_base'], eps = md['llama.attention.layer_norm_rms_epsilon'];
  const W = async (n: string) => { const t = findTensor(h, n); return Float64Array.from(dequantize(t.type, await readTensorBytes(bytes, h, t), t.nElements)); };
  // Undo llama.cpp's permutation: GGUF row h*HS + 2i + j holds HF row h*HS + j*HS/2 + i.
  const unpermute = (w: Float64Array, heads: number) => {
    const out = new Float64Array(w.length);
    for (let hh = 0; hh < heads; hh++) for (let i = 0; i < HS / 2; i++) for (let j = 0; j < 2; j++) {
      out.set(w.subarray((hh * HS + 2 * i + j) * C, (hh * HS + 2 * i + j + 1) * C), (hh * HS + j * (HS / 2) + i) * C);
    }
    return out;
  };
  const mv = (w: Float64Array, x: Float64Array, N: number, K: number) => { const y = new Float64Array(N); for (let n = 0; n < N; n++) { let s = 0; for (let k = 0; k < K; k++) s += w[n * K + k] * x[k]; y[n] = s; } return y; };
  const rms = (x: Float64Array, g: Float64Array) => { let s = 0; for (const v of x) s += v * v; const r = 1 / Math.sqrt(s / x.length + eps); return x.map((v, i) => v * r * g[i]); };
  const ff = h.tensors.some((t) => t.name === 'rope_freqs.weight') ? await W('rope_freqs.weight') : new Float64Array(HS / 2).fill(1);
  const ropeHF = (v: Float64Array, heads: number, p: number) => { // rotate halves (i, i + HS/2)
    const o = v.slice();
    for (let hh = 0; hh < heads; hh++) for (let i = 0; i < HS / 2; i++) {
      const th = (p * Math.pow(base, (-2 * i) / HS)) / ff[i];
      const a = v[hh * HS + i], b = v[hh * HS + i + HS / 2];
      o[hh * HS + i] = a * Math.cos(th) - b * Math.sin(th);
      o[hh * HS + i + HS / 2] = a * Math.sin(th) + b * Math.cos(th);
    }
    return o;
  };
  const emb = await W('token_embd.weight');
  let xs = ids.map((t) => emb.slice(t * C, (t + 1) * C));
  for (let l = 0; l < L; l++) {
    const b = `blk.${l}`;
    const [an, wq, wk, wv, wo, fn, wg, wu, wd] = await Promise.all(['attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down'].map((n) => W(`${b}.${n}.weight`)));
    const q = unpermute(wq, NH), k = unpermute(wk, NKV);
    const hs = xs.map((x) => rms(x, an));
    const Q = hs.map((x, p) => ropeHF(mv(q, x, C, C), NH, p)), K = hs.map((x, p) => ropeHF(mv(k, x, NKV * HS, C), NKV, p)), V = hs.map((x) => mv(wv, x, NKV * HS, C));
    xs = xs.map((x, t) => {
      const z = new Float64Array(C);
      for (let hh = 0; hh < NH; hh++) {
        const kv = Math.floor(hh / (NH / NKV));
        const s = Array.from({ length: t + 1 }, (_, j) => { let d = 0; for (let e = 0; e < HS; e++) d += Q[t][hh * HS + e] * K[j][kv * HS + e]; return d / Math.sqrt(HS); });
        const mx = Math.max(...s), ex = s.map((v) => Math.exp(v - mx)), tot = ex.reduce((a, c) => a + c, 0);
        for (let j = 0; j <= t; j++) for (let e = 0; e < HS; e++) z[hh * HS + e] += (ex[j] / tot) * V[j][kv * HS + e];
      }
      const x1 = x.map((v, i) => v + mv(wo, z, C, C)[i]);
      const hn = rms(x1, fn);
      const g = mv(wg, hn, D, C), u = mv(wu, hn, D, C);
      const m = g.map((v, i) => (v / (1 + Math.exp(-v))) * u[i]);
      const dn = mv(wd, m, C, D);
      return x1.map((v, i) => v + dn[i]);
    });
  }
  const on = await W('output_norm.weight');
  const out = h.tensors.some((t) => t.name === 'output.weight') ? await W('output.weight') : emb;
  const V = out.length / C;
  const res = new Float64Array(ids.length * V);
  xs.forEach((x, t) => res.set(mv(out, rms(x, on), V, C), t * V));
  return res;
}

describe('qmatmul cpu twin', () => {
  it('matches dequantize-then-matmul for every format, and its x-gradient matches tf.matMul', async () => {
    const rand = mulberry32(11);
    const N = 8, K = 256, M = 3;
    const wf = Float32Array.from({ length: N * K }, () => rand() * 2 - 1);
    const { quantize } = await import('../../src/lib/gguf/quant');
    for (const f of ['F16', 'Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'] as const) {
      const bytes = quantize(f, wf);
      const w = makeQWeight(f, N, K, bytes);
      const wd = tf.tensor2d(dequantize(f, bytes, N * K), [N, K]);
      const x = tf.tensor2d(Float32Array.from({ length: M * K }, () => rand() - 0.5), [M, K]);
      const y = await qMatMul(x, w).data(), yr = await tf.matMul(x, wd, false, true).data();
      expect(maxAbs(y, yr)).toBeLessThan(1e-4);
      const gq = await tf.grad((a: tf.Tensor) => tf.sum(tf.square(qMatMul(a as tf.Tensor2D, w))))(x).data();
      const gr = await tf.grad((a: tf.Tensor) => tf.sum(tf.square(tf.matMul(a, wd, false, true))))(x).data();
      expect(maxAbs(gq, gr)).toBeLessThan(1e-3);
      const e = await qGather(tf.tensor1d([5, 0, 7], 'int32'), w).data();
      const wdv = await wd.data();
      expect(maxAbs(e.subarray(0, K), wdv.subarray(5 * K, 6 * K))).toBe(0);
      expect(maxAbs(e.subarray(2 * K), wdv.subarray(7 * K, 8 * K))).toBe(0);
    }
  });
  it('rejects a weight whose byte length does not match its shape', () => {
    expect(() => makeQWeight('Q4_K', 2, 256, new Uint8Array(100))).toThrow(/Q4_K \[2, 256\] weight has 288 bytes, got 100/);
    expect(() => makeQWeight('Q4_0', 2, 48, new Uint8Array(100))).toThrow(/K=48 is not a multiple of the Q4_0 block size 32/);
  });
});

describe('LLaMA forward', () => {
  const ids = [256 + 2, 5, 99, 200, 17, 42];
  for (const f of ['tiny-llama-f32.gguf', 'tiny-llama-q4_k_m.gguf']) {
    it(`${f}: matches an independent float64 HF-layout reference (checks the Q/K permutation and LLaMA-3 RoPE)`, async () => {
      const { bytes, h } = load(f);
      const m = await LlamaModel.fromGGUF(bytes, h);
      const logits = m.forward(tf.tensor2d(ids, [1, ids.length], 'int32'));
      const got = await logits.data();
      const ref = await referenceLogits(bytes, h, ids);
      const err = maxAbs(got, ref);
      const scale = maxAbs(ref, new Float64Array(ref.length));
      console.log(f, 'max |ours - ref|', err, 'max |logit|', scale);
      expect(err).toBeLessThan(2e-3 * scale);
      logits.dispose();
      m.dispose();
    });
  }

  it('quantized kernels equal dequantized tf.matMul weights for every fixture', async () => {
    for (const f of ['tiny-llama-f16.gguf', 'tiny-llama-q8_0.gguf', 'tiny-llama-q4_0.gguf', 'tiny-llama-q4_k_m.gguf']) {
      const { bytes, h } = load(f);
      const q = await LlamaModel.fromGGUF(bytes, h);
      const d = await LlamaModel.fromGGUF(bytes, h, { dequantize: true });
      expect(Object.values(q.weightTypes()).some((t) => t !== 'F32')).toBe(true);
      const tok = tf.tensor2d(ids, [1, ids.length], 'int32');
      const err = maxAbs(await q.forward(tok).data(), await d.forward(tok).data());
      expect(err).toBeLessThan(2e-3);
      q.dispose();
      d.dispose();
    }
  });

  it('KV-cached decoding gives the logits of the full forward; generate is greedy argmax', async () => {
    const { bytes, h } = load('tiny-llama-q8_0.gguf');
    const m = await LlamaModel.fromGGUF(bytes, h);
    const full = await m.forward(tf.tensor2d(ids, [1, ids.length], 'int32')).data();
    const cache = m.newCache();
    const a = await m.run(tf.tensor2d(ids.slice(0, 4), [1, 4], 'int32'), 0, cache).data();
    const b = await m.run(tf.tensor2d(ids.slice(4, 5), [1, 1], 'int32'), 4, cache).data();
    const c = await m.run(tf.tensor2d(ids.slice(5), [1, 1], 'int32'), 5, cache).data();
    const V = m.dims.vocabSize;
    expect(maxAbs(a, full.subarray(0, 4 * V))).toBeLessThan(1e-4);
    expect(maxAbs(b, full.subarray(4 * V, 5 * V))).toBeLessThan(1e-4);
    expect(maxAbs(c, full.subarray(5 * V))).toBeLessThan(1e-4);
    expect(() => m.run(tf.tensor2d([1], [1, 1], 'int32'), 3, cache)).toThrow(/KV cache holds 6 positions but the call starts at 3/);
    m.disposeCache(cache);
    const gen = await generate(m, ids, { maxTokens: 3, greedy: true, stopIds: [] });
    let best = 0;
    const last = full.subarray(5 * V);
    for (let v = 1; v < V; v++) if (last[v] > last[best]) best = v;
    expect(gen[0]).toBe(best);
    expect(gen).toHaveLength(3);
    m.dispose();
  });

  it('runs hooks by name: zeroing mlp.hook_post of the last block changes logits, identity hooks do not', async () => {
    const { bytes, h } = load('tiny-llama-f32.gguf');
    const m = await LlamaModel.fromGGUF(bytes, h);
    const tok = tf.tensor2d(ids, [1, ids.length], 'int32');
    expect(m.hookNames()).toContain('blocks.1.mlp.hook_post');
    const base = await m.forward(tok).data();
    const seen: string[] = [];
    const id = await m.runWithHooks(tok, Object.fromEntries(m.hookNames().map((n) => [n, (t: tf.Tensor, ctx: HookContext) => { seen.push(`${ctx.name}:${t.shape.join('x')}`); }]))).data();
    expect(maxAbs(base, id)).toBe(0);
    expect(seen).toContain('blocks.1.mlp.hook_post:1x6x128');
    expect(seen).toContain('blocks.0.attn.hook_pattern:1x4x6x6');
    expect(seen.length).toBe(m.hookNames().length);
    const z = await m.runWithHooks(tok, { 'blocks.1.mlp.hook_post': (t) => tf.zerosLike(t) }).data();
    expect(maxAbs(base, z)).toBeGreaterThan(1e-3);
    m.dispose();
  });
});
