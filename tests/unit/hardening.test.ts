// Issue 17: small hostile files and nonsense values, each refused with a message naming the problem and the fix,
// before anything is allocated from them. Each case was reproduced by hand against the readers first.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { GGUFError, parseGGUF } from '../../src/lib/gguf/reader';
import { floatToHalf } from '../../src/lib/gguf/quant';
import { checkFiniteTensor, firstNonFinite } from '../../src/lib/gguf/finite';
import { configFromGGUF } from '../../src/lib/models/llama/config';
import { LlamaModel } from '../../src/lib/models/llama/model';
import { planFromHeader } from '../../src/lib/models/llama/service';
import { registerQMatMulKernels } from '../../src/lib/kernels/qmatmul';
import { fixture, ggufBlockCountBomb, ggufOverlap, renameInPlace, rewriteGGUF } from './hostile-files';

beforeAll(async () => {
  registerQMatMulKernels();
  await tf.setBackend('cpu');
});

const FIX = /re-convert|fetch the file again|fetch or convert it again/;

describe('GGUF: memory bombs and nonsense metadata', () => {
  it('refuses llama.block_count = 1e8 in a small file at the load plan, before sizing anything from it', () => {
    const b = ggufBlockCountBomb();
    expect(b.length).toBeLessThan(1 << 20);
    const h = parseGGUF(b);
    const before = process.memoryUsage().heapUsed;
    expect(() => planFromHeader(h, 'bomb.gguf')).toThrow(/llama\.block_count is 100000000: it must be a whole number from 1 to 1024.*re-convert/);
    expect(() => configFromGGUF(h)).toThrow(GGUFError);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 2 ** 20);
  });

  it('refuses block_count 0, -1 (i32), 2.5 (f32), more blocks than the file holds and fewer', () => {
    const f = 'tiny-llama-q8_0.gguf';
    const cfg = (v: Parameters<typeof rewriteGGUF>[1]) => () => configFromGGUF(parseGGUF(rewriteGGUF(f, v)));
    expect(cfg({ 'llama.block_count': { type: 'u32', value: 0 } })).toThrow(/llama\.block_count is 0: it must be a whole number/);
    expect(cfg({ 'llama.block_count': { type: 'i32', value: -1 } })).toThrow(/llama\.block_count is -1/);
    expect(cfg({ 'llama.block_count': { type: 'f32', value: 2.5 } })).toThrow(/llama\.block_count is 2\.5/);
    expect(cfg({ 'llama.block_count': { type: 'u32', value: 3 } })).toThrow(/llama\.block_count is 3 but the file holds tensors for 2 block/);
    expect(cfg({ 'llama.block_count': { type: 'u32', value: 1 } })).toThrow(/llama\.block_count is 1 but the file holds tensors for block 1.*fewer blocks than the file holds.*re-convert/);
    expect(cfg({})).not.toThrow();
  });

  it('refuses a negative or NaN epsilon and a RoPE base of 0', () => {
    const f = 'tiny-llama-q8_0.gguf';
    const cfg = (v: Parameters<typeof rewriteGGUF>[1]) => () => configFromGGUF(parseGGUF(rewriteGGUF(f, v)));
    expect(cfg({ 'llama.attention.layer_norm_rms_epsilon': { type: 'f32', value: -1e-5 } })).toThrow(/layer_norm_rms_epsilon is -0\.0000\d+: it must be between 0 and 1.*re-convert/);
    expect(cfg({ 'llama.attention.layer_norm_rms_epsilon': { type: 'f32', value: NaN } })).toThrow(/layer_norm_rms_epsilon is NaN/);
    expect(cfg({ 'llama.rope.freq_base': { type: 'f32', value: 0 } })).toThrow(/llama\.rope\.freq_base is 0: it must be a finite number above 1/);
    expect(cfg({ 'llama.rope.freq_base': { type: 'f32', value: Infinity } })).toThrow(/freq_base is Infinity/);
  });

  it('refuses a metadata key given twice (llama.cpp refuses it; the last value used to win)', () => {
    const b = rewriteGGUF('tiny-llama-q8_0.gguf', { 'llama.block_coun2': { type: 'u32', value: 7 } });
    expect(parseGGUF(b).metadata['llama.block_coun2']).toBe(7);
    expect(() => parseGGUF(renameInPlace(b, 'llama.block_coun2', 'llama.block_count'))).toThrow(/metadata key "llama\.block_count" appears twice.*re-convert/);
  });

  it('refuses general.alignment stored as f32 (GGUF requires UINT32)', () => {
    const b = rewriteGGUF('tiny-llama-q8_0.gguf', { 'general.alignment': { type: 'f32', value: 32 } });
    expect(() => parseGGUF(b)).toThrow(/general\.alignment is stored as FLOAT32: GGUF requires UINT32.*re-convert/);
    expect(() => parseGGUF(rewriteGGUF('tiny-llama-q8_0.gguf', { 'general.alignment': { type: 'u32', value: 32 } }))).not.toThrow();
  });

  it('refuses tensors whose data overlaps or is out of file order', () => {
    expect(() => parseGGUF(fixture('tiny-llama-q8_0.gguf'))).not.toThrow();
    expect(() => parseGGUF(ggufOverlap())).toThrow(/corrupt: tensor \S+ starts at data offset 0, inside or before tensor \S+.*must not overlap/);
  });
});

describe('GGUF: NaN and infinite weights are refused at load', () => {
  const NAN16 = 0x7e00, INF16 = 0x7c00;

  it('finds a NaN/Inf in F32 and F16 values, and in the f16 scales of every block format', () => {
    const f32 = new Float32Array([1, 2, 3, 4]);
    expect(firstNonFinite('F32', new Uint8Array(f32.buffer))).toBe(-1);
    f32[2] = -Infinity;
    expect(firstNonFinite('F32', new Uint8Array(f32.buffer))).toBe(2);
    // an unaligned view takes the DataView path
    const odd = new Uint8Array(17);
    odd.set(new Uint8Array(f32.buffer), 1);
    expect(firstNonFinite('F32', odd.subarray(1))).toBe(2);
    const f16 = new Uint16Array([floatToHalf(1), floatToHalf(65504), NAN16]);
    expect(firstNonFinite('F16', new Uint8Array(f16.buffer))).toBe(2);
    expect(firstNonFinite('F16', new Uint8Array(f16.buffer, 0, 4))).toBe(-1);
    for (const [type, size, scales] of [['Q8_0', 34, [0]], ['Q4_0', 18, [0]], ['Q4_K', 144, [0, 2]], ['Q6_K', 210, [208]]] as const) {
      for (const at of scales) {
        const raw = new Uint8Array(size * 3).fill(0x11); // quants are small integers; 0x1111 is a finite f16
        expect(firstNonFinite(type, raw)).toBe(-1);
        new DataView(raw.buffer).setUint16(size * 2 + at, INF16, true);
        expect(firstNonFinite(type, raw)).toBe(2);
        expect(() => checkFiniteTensor('w', type, raw)).toThrow(/tensor w \(\w+\) holds a NaN or infinite number at the scale of block 2.*fetch the file again/);
      }
    }
  });

  it('LlamaModel.fromGGUF refuses a fixture with one NaN weight (F32) and one infinite scale (Q8_0)', async () => {
    const nanF32 = rewriteGGUF('tiny-llama-f32.gguf', {}, (ts) => ts.map((t) => {
      if (t.name !== 'blk.1.ffn_up.weight') return t;
      const d = t.data.slice();
      new DataView(d.buffer).setFloat32(40, NaN, true);
      return { ...t, data: d };
    }));
    await expect(LlamaModel.fromGGUF(nanF32, parseGGUF(nanF32))).rejects.toThrow(/tensor blk\.1\.ffn_up\.weight \(F32\) holds a NaN or infinite number at value 10/);
    const infQ8 = rewriteGGUF('tiny-llama-q8_0.gguf', {}, (ts) => ts.map((t) => {
      if (t.name !== 'blk.0.attn_q.weight') return t;
      const d = t.data.slice();
      new DataView(d.buffer).setUint16(34 * 5, INF16, true);
      return { ...t, data: d };
    }));
    await expect(LlamaModel.fromGGUF(infQ8, parseGGUF(infQ8))).rejects.toThrow(/tensor blk\.0\.attn_q\.weight \(Q8_0\) holds a NaN or infinite number at the scale of block 5/);
    const before = tf.memory().numTensors;
    const m = await LlamaModel.fromGGUF(fixture('tiny-llama-q8_0.gguf'), parseGGUF(fixture('tiny-llama-q8_0.gguf')));
    expect(m.config.nLayer).toBe(2);
    expect(tf.memory().numTensors).toBeGreaterThan(before);
  });
});


