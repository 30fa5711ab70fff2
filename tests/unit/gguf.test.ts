// GGUF reader/writer, block formats against hand-built blocks, and the LLaMA-3 tokenizer on the fixture vocabulary.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { GGUFError, GGUFValueType, parseGGUF, readGGUFHeader, readTensorBytes, findTensor } from '../../src/lib/gguf/reader';
import { writeGGUF } from '../../src/lib/gguf/writer';
import { dequantize, quantize, floatToHalf, halfToFloat } from '../../src/lib/gguf/quant';
import { LlamaTokenizer, LLAMA3_PRETOKENIZE } from '../../src/lib/models/llama/tokenizer';
import { configFromGGUF } from '../../src/lib/models/llama/config';
import { mulberry32, normalSampler } from '../../src/lib/util/rng';
import { qMatMulRef } from '../../src/lib/kernels/qmatmul';

const fixture = (f: string) => new Uint8Array(readFileSync(`tests/fixtures/${f}`));

/** A hand-assembled GGUF byte stream, to test value types the writer does not emit. */
class Raw {
  b: number[] = [];
  u8(v: number) { this.b.push(v & 255); return this; }
  u32(v: number) { for (let i = 0; i < 4; i++) this.b.push((v >>> (8 * i)) & 255); return this; }
  u64(v: number) { this.u32(v % 2 ** 32); this.u32(Math.floor(v / 2 ** 32)); return this; }
  str(s: string) { const e = new TextEncoder().encode(s); this.u64(e.length); e.forEach((x) => this.b.push(x)); return this; }
  bytes() { return new Uint8Array(this.b); }
}

describe('GGUF reader', () => {
  it('reads every metadata value type, nested arrays, alignment and tensor offsets', () => {
    const r = new Raw().u32(0x46554747).u32(3).u64(1).u64(9);
    r.str('a.u8').u32(GGUFValueType.UINT8).u8(200);
    r.str('a.i8').u32(GGUFValueType.INT8).u8(0xff);
    r.str('a.u16').u32(GGUFValueType.UINT16).u8(0x34).u8(0x12);
    r.str('a.i64').u32(GGUFValueType.INT64).u32(0xfffffffe).u32(0xffffffff);
    r.str('a.f64').u32(GGUFValueType.FLOAT64);
    new Uint8Array(new Float64Array([Math.PI]).buffer).forEach((x) => r.u8(x));
    r.str('a.bool').u32(GGUFValueType.BOOL).u8(1);
    r.str('a.str').u32(GGUFValueType.STRING).str('héllo');
    r.str('a.nested').u32(GGUFValueType.ARRAY).u32(GGUFValueType.ARRAY).u64(2);
    r.u32(GGUFValueType.UINT8).u64(2).u8(1).u8(2);
    r.u32(GGUFValueType.STRING).u64(1).str('x');
    r.str('general.alignment').u32(GGUFValueType.UINT32).u32(64);
    r.str('w').u32(2).u64(4).u64(2).u32(0).u64(0); // F32 [4, 2]
    while (r.b.length % 64) r.u8(0);
    const dataStart = r.b.length;
    for (let i = 0; i < 8; i++) new Uint8Array(new Float32Array([i + 0.5]).buffer).forEach((x) => r.u8(x));
    const h = parseGGUF(r.bytes());
    expect(h.metadata['a.u8']).toBe(200);
    expect(h.metadata['a.i8']).toBe(-1);
    expect(h.metadata['a.u16']).toBe(0x1234);
    expect(h.metadata['a.i64']).toBe(-2);
    expect(h.metadata['a.f64']).toBe(Math.PI);
    expect(h.metadata['a.bool']).toBe(true);
    expect(h.metadata['a.str']).toBe('héllo');
    expect(h.metadata['a.nested']).toEqual([[1, 2], ['x']]);
    expect(h.alignment).toBe(64);
    expect(h.dataOffset).toBe(dataStart);
    expect(h.tensors[0]).toMatchObject({ name: 'w', dims: [4, 2], type: 'F32', nBytes: 32 });
  });

  it('round-trips the writer and reads a Blob lazily with the same result', async () => {
    const bytes = fixture('tiny-llama-q4_k_m.gguf');
    const h = parseGGUF(bytes);
    const hb = await readGGUFHeader(new Blob([bytes]));
    expect(hb.tensors).toEqual(h.tensors);
    expect(hb.dataOffset).toBe(h.dataOffset);
    const t = findTensor(h, 'blk.1.ffn_down.weight');
    expect(t.type).toBe('Q6_K');
    expect(await readTensorBytes(new Blob([bytes]), hb, t)).toEqual(await readTensorBytes(bytes, h, t));
    const cfg = configFromGGUF(h);
    expect(cfg).toMatchObject({ nLayer: 2, dModel: 256, dMlp: 256, nHead: 4, nHeadKv: 2, headDim: 64, tiedOutput: true, hasRopeFreqs: true });
    expect(h.metadata['tokenizer.ggml.tokens']).toHaveLength(cfg.vocabSize);
  });

  it('rejects bad files with messages that name the problem', () => {
    const good = fixture('tiny-llama-q8_0.gguf');
    const bad = good.slice();
    bad[0] = 0x47; bad[1] = 0x47; bad[2] = 0x4d; bad[3] = 0x4c;
    expect(() => parseGGUF(bad)).toThrow(/not a GGUF file \(magic 0x4c4d4747/);
    expect(() => parseGGUF(good.slice(0, good.length - 100))).toThrow(/truncated: tensor output\.weight needs bytes up to \d+ but the file has \d+/);
    expect(() => parseGGUF(good.slice(0, 40))).toThrow(GGUFError);
    const v9 = good.slice();
    v9[4] = 9;
    expect(() => parseGGUF(v9)).toThrow(/unsupported GGUF version 9/);
    // A tensor of type Q5_K (13).
    const q5 = new Raw().u32(0x46554747).u32(3).u64(1).u64(0).str('blk.0.attn_q.weight').u32(2).u64(256).u64(1).u32(13).u64(0);
    while (q5.b.length % 32) q5.u8(0);
    for (let i = 0; i < 176; i++) q5.u8(0);
    expect(() => parseGGUF(q5.bytes())).toThrow(/unsupported quantization type Q5_K for tensor blk\.0\.attn_q\.weight: supported are F32, F16, Q8_0, Q4_0, Q4_K, Q6_K/);
    expect(parseGGUF(q5.bytes(), { allowUnsupported: true }).tensors[0].typeId).toBe(13);
    // Lengths that cannot fit are refused before anything is allocated.
    const huge = new Raw().u32(0x46554747).u32(3).u64(0).u64(1).str('k').u32(GGUFValueType.ARRAY).u32(GGUFValueType.UINT32).u64(2 ** 40);
    expect(() => parseGGUF(huge.bytes())).toThrow(/corrupt: array "k" says 1099511627776 items/);
    const longKey = new Raw().u32(0x46554747).u32(3).u64(0).u64(1).u64(1e9).u64(0).u64(0);
    expect(() => parseGGUF(longKey.bytes())).toThrow(/corrupt: length of metadata key #0/);
  });

  it('survives random corruption with a GGUFError, never another exception', () => {
    const good = fixture('tiny-llama-q4_0.gguf').subarray(0, 4000);
    const rand = mulberry32(7);
    for (let trial = 0; trial < 300; trial++) {
      const b = good.slice();
      for (let k = 0; k < 4; k++) b[8 + Math.floor(rand() * 3000)] = Math.floor(rand() * 256);
      try { parseGGUF(b); } catch (e) { expect(e).toBeInstanceOf(GGUFError); }
    }
  });
});

describe('block formats', () => {
  it('f16 conversion rounds to nearest even and keeps specials', () => {
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(-2)).toBe(0xc000);
    expect(floatToHalf(65504)).toBe(0x7bff);
    expect(floatToHalf(1e6)).toBe(0x7c00);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(floatToHalf(1 + 2 ** -11))).toBe(1); // tie -> even
    expect(halfToFloat(floatToHalf(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9);
  });

  it('decodes hand-built Q8_0 and Q4_0 blocks', () => {
    const q8 = new Uint8Array(34);
    q8[0] = 0x00; q8[1] = 0x38; // d = 0.5
    for (let j = 0; j < 32; j++) q8[2 + j] = (j - 16) & 255;
    expect(Array.from(dequantize('Q8_0', q8, 32))).toEqual(Array.from({ length: 32 }, (_, j) => 0.5 * (j - 16)));
    const q4 = new Uint8Array(18);
    q4[0] = 0x00; q4[1] = 0x40; // d = 2
    for (let j = 0; j < 16; j++) q4[2 + j] = j | ((15 - j) << 4);
    const want = [...Array.from({ length: 16 }, (_, j) => 2 * (j - 8)), ...Array.from({ length: 16 }, (_, j) => 2 * (7 - j))];
    expect(Array.from(dequantize('Q4_0', q4, 32))).toEqual(want);
  });

  it('decodes a hand-built Q4_K super-block (6-bit packed scales and mins)', () => {
    const sc = [1, 2, 3, 4, 17, 33, 50, 63], m = [0, 1, 2, 3, 20, 40, 5, 63];
    const b = new Uint8Array(144);
    b[0] = 0x00; b[1] = 0x3c; // d = 1
    b[2] = 0x00; b[3] = 0x38; // dmin = 0.5
    // Spec: bytes 0-3 = sc[0..3] + top 2 bits of sc[4..7]; bytes 4-7 = m[0..3] + top 2 bits of m[4..7];
    // bytes 8-11 = low 4 bits of sc[4..7] | low 4 bits of m[4..7] << 4.
    for (let j = 0; j < 4; j++) {
      b[4 + j] = sc[j] + 64 * Math.floor(sc[j + 4] / 16);
      b[8 + j] = m[j] + 64 * Math.floor(m[j + 4] / 16);
      b[12 + j] = (sc[j + 4] % 16) + 16 * (m[j + 4] % 16);
    }
    for (let c = 0; c < 4; c++) for (let l = 0; l < 32; l++) b[16 + 32 * c + l] = (l % 16) + 16 * (15 - (l % 16));
    const y = dequantize('Q4_K', b, 256);
    for (let c = 0; c < 4; c++) {
      for (let l = 0; l < 32; l++) {
        expect(y[64 * c + l]).toBe(sc[2 * c] * (l % 16) - 0.5 * m[2 * c]);
        expect(y[64 * c + 32 + l]).toBe(sc[2 * c + 1] * (15 - (l % 16)) - 0.5 * m[2 * c + 1]);
      }
    }
  });

  it('decodes a hand-built Q6_K super-block (ql/qh split, int8 scales)', () => {
    const b = new Uint8Array(210);
    const q = (e: number) => (e * 7) % 64; // the 6-bit code of element e
    for (let half = 0; half < 2; half++) {
      for (let l = 0; l < 32; l++) {
        const e = 128 * half + l;
        // Spec: ql[l] = low4(q[l]) | low4(q[l+64]) << 4; ql[l+32] = low4(q[l+32]) | low4(q[l+96]) << 4;
        // qh[l] = hi2(q[l]) | hi2(q[l+32]) << 2 | hi2(q[l+64]) << 4 | hi2(q[l+96]) << 6.
        b[64 * half + l] = (q(e) % 16) + 16 * (q(e + 64) % 16);
        b[64 * half + l + 32] = (q(e + 32) % 16) + 16 * (q(e + 96) % 16);
        b[128 + 32 * half + l] = (q(e) >> 4) + 4 * (q(e + 32) >> 4) + 16 * (q(e + 64) >> 4) + 64 * (q(e + 96) >> 4);
      }
    }
    for (let s = 0; s < 16; s++) b[192 + s] = (s - 8) & 255;
    b[208] = 0x00; b[209] = 0x34; // d = 0.25
    const y = dequantize('Q6_K', b, 256);
    for (let e = 0; e < 256; e++) expect(y[e]).toBe(0.25 * (Math.floor(e / 16) - 8) * (q(e) - 32));
  });

  it('quantize -> dequantize stays within each format’s error bound', () => {
    const rand = mulberry32(3);
    const x = Float32Array.from({ length: 4096 }, normalSampler(rand));
    const rel = (t: 'F16' | 'Q8_0' | 'Q4_0' | 'Q4_K' | 'Q6_K') => {
      const y = dequantize(t, quantize(t, x), x.length);
      let e = 0, s = 0;
      for (let i = 0; i < x.length; i++) { e += (x[i] - y[i]) ** 2; s += x[i] ** 2; }
      return Math.sqrt(e / s);
    };
    const errs = { F16: rel('F16'), Q8_0: rel('Q8_0'), Q6_K: rel('Q6_K'), Q4_K: rel('Q4_K'), Q4_0: rel('Q4_0') };
    console.log('relative RMS quantization error', errs);
    expect(errs.F16).toBeLessThan(5e-4);
    expect(errs.Q8_0).toBeLessThan(0.01);
    expect(errs.Q6_K).toBeLessThan(0.03);
    expect(errs.Q4_K).toBeLessThan(0.12);
    expect(errs.Q4_0).toBeLessThan(0.12);
    expect(errs.Q4_K).toBeGreaterThan(errs.Q6_K);
    expect(Array.from(dequantize('F32', quantize('F32', x), x.length))).toEqual(Array.from(x));
  });

  it('the CPU matmul twin (fused dot for few rows, dequantized rows otherwise) matches dequantize + dot in float64', () => {
    const rand = mulberry32(11);
    const N = 5, K = 512;
    for (const format of ['F16', 'Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'] as const) {
      const wf = Float32Array.from({ length: N * K }, () => rand() * 2 - 1);
      const bytes = quantize(format, wf);
      const words = new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      const W = dequantize(format, bytes, N * K);
      for (const M of [1, 3, 6]) { // 1 and 3 take the fused dot, 6 the dequantized rows
        const x = Float32Array.from({ length: M * K }, () => rand() * 2 - 1);
        const y = qMatMulRef(x, M, words, { format, N, K });
        for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
          let want = 0;
          for (let k = 0; k < K; k++) want += x[m * K + k] * W[n * K + k];
          expect(Math.abs(y[m * N + n] - want), `${format} M=${M} (${m}, ${n})`).toBeLessThan(1e-4 * (1 + Math.abs(want)));
        }
      }
    }
  });
});

describe('LLaMA-3 tokenizer', () => {
  const tok = LlamaTokenizer.fromGGUF(parseGGUF(fixture('tiny-llama-f32.gguf')));
  it('pre-tokenizes as the Llama-3 regex does', () => {
    expect(Array.from("I'm 12345 ok!!\n\n".matchAll(LLAMA3_PRETOKENIZE), (m) => m[0])).toEqual(['I', "'m", ' ', '123', '45', ' ok', '!!\n\n']);
  });
  it('applies merges by rank and round-trips arbitrary text', () => {
    const id = (s: string) => tok.tokenId(s)!;
    expect(tok.encode(' the')).toEqual([id('Ġthe')]);
    expect(tok.encode('the')).toEqual([id('t'), id('he')]);
    // By merge rank " and" would end as Ġ|an|d ("a n" outranks "Ġ a"); Llama-3's ignore_merges takes the whole
    // word from the vocabulary, as llama.cpp does (checked against wllama in tests/browser/llama-wllama.test.ts).
    expect(tok.encode(' and')).toEqual([id('Ġand')]);
    expect(tok.encode(' cat and')).toEqual([id('Ġ'), id('c'), id('a'), id('t'), id('Ġand')]);
    for (const s of ['héllo wörld 12 and 😀\n\ntabs\t', ' the cat sat on the mat', '']) expect(tok.decode(tok.encode(s))).toBe(s);
  });
  it('parses special tokens and formats Llama-3 chat', () => {
    const text = tok.formatChat([{ role: 'user', content: 'hi' }]);
    expect(text).toBe('<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n');
    const ids = tok.encode(text);
    expect(ids[0]).toBe(tok.bosId);
    expect(ids).toContain(tok.tokenId('<|eot_id|>'));
    expect(tok.eosId).toBe(tok.tokenId('<|eot_id|>'));
    expect(tok.encode('<|eot_id|>', { parseSpecial: false })).not.toContain(tok.eosId);
    expect(tok.decode(ids, { skipSpecial: true })).toBe('user\n\nhiassistant\n\n');
  });
});
