// The wasm SIMD quantized matmul (src/lib/kernels/qmatmul/wasm-simd/asm/qdot.ts) against its JS twin (int8.ts): the same
// int8 math, so the results must be identical bit for bit; the twin against the float path (dequantize + dot)
// within llama.cpp's tolerance for quantized matmuls; and the committed binaries against a fresh build.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { quantize } from '../../src/lib/gguf/quant';
import { qMatMulRef, rowBytes } from '../../src/lib/kernels/qmatmul';
import { qMatMulInt8Ref, quantizeRows } from '../../src/lib/kernels/qmatmul/wasm-simd/int8';
import { qMatMulInt8Wasm, relaxed, setRelaxedSimd } from '../../src/lib/kernels/qmatmul/wasm-simd';

const FORMATS = ['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'] as const;

function rng(seed: number) {
  let s = seed;
  return () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648 - 0.5; };
}

/** x with a few awkward rows: an all-zero block (scale 0), a huge value, values on rounding ties. */
function makeX(M: number, K: number, rnd: () => number): Float32Array {
  const x = Float32Array.from({ length: M * K }, () => rnd() * 4);
  x.fill(0, 0, 256); // row 0, first block of 256 (and of 32): scale 0
  x[K + 5] = 1e4; // row 1: one value dominates its block
  for (let i = 0; i < 32; i++) x[2 * K + 300 + i] = (i - 16) * 0.5; // 127/amax scale puts some on .5 ties
  return x;
}

function words(bytes: Uint8Array): Int32Array {
  const w = new Int32Array(Math.ceil(bytes.length / 4));
  new Uint8Array(w.buffer).set(bytes);
  return w;
}

describe('wasm SIMD quantized matmul', () => {
  it('equals its JS twin bit for bit on every format, in the baseline and (where the engine has it) the relaxed-SIMD build', () => {
    const rnd = rng(11);
    const N = 37, K = 1024, M = 7; // 7 rows: one group of four (the prefill path) and three single rows
    const builds = relaxed() ? [false, true] : [false];
    let compared = 0;
    for (const f of FORMATS) {
      const bytes = quantize(f, Float32Array.from({ length: N * K }, rnd));
      const x = makeX(M, K, rnd);
      const twin = qMatMulInt8Ref(x, M, bytes, f, N, K, rowBytes(f, K));
      for (const r of builds) {
        setRelaxedSimd(r);
        const simd = qMatMulInt8Wasm(x, M, bytes, f, N, K);
        expect(simd, 'wasm SIMD must load in Node').not.toBeNull();
        const bad = Array.from(simd!).findIndex((v, i) => !Object.is(v, twin[i]));
        expect(bad, `${f} relaxed=${r}: first differing output ${bad}: ${simd![bad]} vs ${twin[bad]}`).toBe(-1);
        compared++;
      }
    }
    setRelaxedSimd(true);
    expect(compared).toBe(FORMATS.length * builds.length);
  });

  it('quantizes x to int8 with a zero scale for an all-zero block and ties rounded to even', () => {
    const K = 256;
    const x = new Float32Array(2 * K);
    x[K + 7] = -100; // row 1: the largest |x| sets the scale to 100/127
    const X = quantizeRows('Q4_K', x, 2, K);
    expect(X.dx[0]).toBe(0);
    expect(Array.from(X.qx.subarray(0, K)).every((v) => v === 0)).toBe(true);
    expect(X.dx[K >> 5]).toBeCloseTo(100 / 127, 6);
    expect(X.qx[K + 7]).toBe(-127);
    // scale 1: every value is its own int8, and the ties 2.5, 3.5, -2.5 round to even
    const Y = quantizeRows('Q4_K', Float32Array.from([127, 2.5, 3.5, -2.5, ...new Array(K - 4).fill(0)]), 1, K);
    expect(Array.from(Y.qx.subarray(0, 4))).toEqual([127, 2, 4, -2]);
    expect(Y.bs[0]).toBe(127 + 2 + 4 - 2);
  });

  it('stays within llama.cpp\'s quantized-matmul tolerance of the float path (normalized squared error < 5e-4)', () => {
    const rnd = rng(5);
    const N = 64, K = 2048, M = 2;
    for (const f of FORMATS) {
      const bytes = quantize(f, Float32Array.from({ length: N * K }, rnd));
      const x = Float32Array.from({ length: M * K }, rnd);
      const a = qMatMulInt8Ref(x, M, bytes, f, N, K, rowBytes(f, K));
      const b = qMatMulRef(x, M, words(bytes), { format: f, N, K });
      let e = 0, s = 0;
      for (let i = 0; i < a.length; i++) { e += (a[i] - b[i]) ** 2; s += b[i] ** 2; }
      expect(s, f).toBeGreaterThan(1);
      expect(e / s, f).toBeLessThan(5e-4);
      expect(e, `${f}: int8 activations must change the result a little`).toBeGreaterThan(0);
    }
  });

  it('the committed wasm (qdot-wasm.ts) is what scripts/build-qdot.mjs builds from asm/qdot.ts', () => {
    const out = execFileSync(process.execPath, ['scripts/build-qdot.mjs', '--check'], { encoding: 'utf8' });
    expect(out).toMatch(/up to date/);
  });
});
