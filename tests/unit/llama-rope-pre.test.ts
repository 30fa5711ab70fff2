// RoPE metadata (llama.rope.scaling.*, rope.dimension_count) and tokenizer.ggml.pre, on files written by the
// lab's GGUF writer (scripts/make-fixtures.ts build, the tiny F32 shape): honoured as llama.cpp does, or refused
// by name; never ignored.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { parseGGUF } from '../../src/lib/gguf/reader';
import { LlamaModel } from '../../src/lib/models/llama/model';
import { registerQMatMulKernels } from '../../src/lib/kernels/qmatmul';
import { build, FIXTURES, type BuildOptions } from '../../scripts/make-fixtures';

const spec = FIXTURES.find((f) => f.file === 'tiny-llama-f32.gguf')!;
const SEED = 1234;

beforeAll(async () => {
  registerQMatMulKernels();
  await tf.setBackend('cpu');
});

async function logits(opts: BuildOptions = {}): Promise<Float32Array> {
  const bytes = build(spec, SEED, opts);
  const m = await LlamaModel.fromGGUF(bytes, parseGGUF(bytes));
  // 40 positions: long enough that every pair's rotation matters
  const ids = Array.from({ length: 40 }, (_, i) => (i * 37 + 5) % 270);
  const l = m.forward(tf.tensor2d(ids, [1, ids.length], 'int32'));
  const v = (await l.data()) as Float32Array;
  l.dispose();
  m.dispose();
  return v;
}
const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('RoPE scaling metadata', () => {
  it('linear factor 2 halves the rotation (== rope_freqs doubled), and changes the logits', async () => {
    const plain = await logits();
    const linear = await logits({ metadata: { 'llama.rope.scaling.type': { type: 'string', value: 'linear' }, 'llama.rope.scaling.factor': { type: 'f32', value: 2 } } });
    const doubled = await logits({ ropeFreqs: (f) => f.map((v) => 2 * v) });
    const older = await logits({ metadata: { 'llama.rope.scale_linear': { type: 'f32', value: 2 } } }); // pre-2024 key
    expect(maxAbs(linear, plain)).toBeGreaterThan(1e-2);
    expect(maxAbs(linear, doubled)).toBeLessThan(1e-4);
    expect(maxAbs(older, doubled)).toBeLessThan(1e-4);
    const none = await logits({ metadata: { 'llama.rope.scaling.type': { type: 'string', value: 'none' } } });
    expect(maxAbs(none, plain)).toBe(0);
  });

  it('rope.dimension_count below the head size rotates only those dims (== rope_freqs that stop the rest)', async () => {
    const HS = spec.C / spec.NH, nRot = HS / 2, base = 500000;
    const partial = await logits({ ropeDims: nRot });
    // the same angles with every pair rotated: factors turn base^(-2i/HS) into base^(-2i/nRot), and huge for i >= nRot/2
    const full = await logits({
      ropeFreqs: () => {
        const f3 = build(spec, SEED, { ropeDims: nRot }); // the partial file's factors, to match them exactly
        const h = parseGGUF(f3), t = h.tensors.find((x) => x.name === 'rope_freqs.weight')!;
        const ff = new Float32Array(f3.slice(h.dataOffset + t.offset, h.dataOffset + t.offset + t.nBytes).buffer);
        return Float32Array.from({ length: HS / 2 }, (_, i) => (i < nRot / 2 ? ff[i] * Math.pow(base, (-2 * i) / HS) / Math.pow(base, (-2 * i) / nRot) : 1e30));
      },
    });
    expect(maxAbs(partial, full)).toBeLessThan(1e-4);
    expect(maxAbs(partial, await logits())).toBeGreaterThan(1e-2);
  });

  it('refuses YaRN and other scaling types by name, and a bad dimension_count', async () => {
    for (const type of ['yarn', 'longrope']) {
      const bytes = build(spec, SEED, { metadata: { 'llama.rope.scaling.type': { type: 'string', value: type } } });
      await expect(LlamaModel.fromGGUF(bytes, parseGGUF(bytes))).rejects.toThrow(new RegExp(`scaling.type is "${type}".*"none" and "linear"`));
    }
    const bad = build(spec, SEED, { metadata: { 'llama.rope.dimension_count': { type: 'u32', value: 33 } } });
    await expect(LlamaModel.fromGGUF(bad, parseGGUF(bad))).rejects.toThrow(/dimension_count 33/);
  });
});

describe('tokenizer.ggml.pre', () => {
  it('takes the LLaMA-3 pre-tokenizer names and refuses others, listing the supported ones', async () => {
    for (const pre of ['llama-bpe', 'llama3']) {
      const bytes = build(spec, SEED, { metadata: { 'tokenizer.ggml.pre': { type: 'string', value: pre } } });
      const m = await LlamaModel.fromGGUF(bytes, parseGGUF(bytes));
      m.dispose();
    }
    for (const pre of ['qwen2', 'gpt-2', 'default']) {
      const bytes = build(spec, SEED, { metadata: { 'tokenizer.ggml.pre': { type: 'string', value: pre } } });
      await expect(LlamaModel.fromGGUF(bytes, parseGGUF(bytes))).rejects.toThrow(new RegExp(`pre is "${pre}".*"llama-bpe", "llama3"`));
    }
  });
});
