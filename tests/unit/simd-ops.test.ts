// The wasm SIMD kernels of GPT-2's lab ops (src/lib/kernels/wasm-simd/asm/ops.ts) against their JS twins'
// reference (float64): GELU, LayerNorm, causal attention and cross-entropy, forward and every gradient, and the
// embedding's gradient, on random data in
// sizes that exercise the four-lane loops and their scalar tails (1, 3, 4, 5, 7 ... values per row); GELU over
// the whole range where tanh saturates; and the committed binaries against a fresh build.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { geluBackward, geluForward } from '../../src/lib/kernels/gelu/reference';
import { layernormBackward, layernormForward } from '../../src/lib/kernels/layernorm/reference';
import { attentionBackward, attentionForward } from '../../src/lib/kernels/attention/reference';
import { crossEntropyBackward, crossEntropyForward } from '../../src/lib/kernels/crossentropy/reference';
import { embeddingBackward } from '../../src/lib/kernels/embedding/reference';
import { runStandalone } from '../../src/lib/kernels/wasm-simd';

function rng(seed: number) {
  let s = seed;
  return () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648 - 0.5; };
}
const rand = (n: number, rnd: () => number, amp = 2) => Float32Array.from({ length: n }, () => rnd() * amp);

/** max over i of |a - ref| / (atol + rtol |ref|); <= 1 passes */
function worst(a: Float32Array, ref: Float64Array, atol: number, rtol: number): number {
  expect(a.length).toBe(ref.length);
  let w = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - ref[i]) / (atol + rtol * Math.abs(ref[i]));
    if (!(e <= w)) w = Number.isNaN(e) ? Infinity : e;
  }
  return w;
}

function run(arrays: Array<Float32Array | Int32Array>, outs: number[], fn: Parameters<typeof runStandalone>[2]): Float32Array[] {
  const r = runStandalone(arrays, outs, fn);
  if (!r) throw new Error('wasm SIMD did not load in Node');
  return r;
}

describe('wasm SIMD kernels of the GPT-2 ops', () => {
  it('GELU and its gradient equal the reference at every size from 0 to 9 and on 1031 values from -12 to 12', () => {
    const rnd = rng(3);
    for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 9, 1031]) {
      const x = n === 1031 ? Float32Array.from({ length: n }, (_, i) => -12 + (24 * i) / (n - 1)) : rand(n, rnd, 8);
      const dy = rand(n, rnd);
      const [y] = run([x], [n], (k, [xp, yp]) => k.gelu(xp, yp, n));
      const [dx] = run([dy, x], [n], (k, [dyp, xp, dxp]) => k.geluGrad(dyp, xp, dxp, n));
      const yr = new Float64Array(n), dxr = new Float64Array(n);
      geluForward(yr, x, n);
      geluBackward(dxr, x, dy, n);
      expect(worst(y, yr, 1e-6, 1e-5), `gelu n=${n}`).toBeLessThanOrEqual(1);
      expect(worst(dx, dxr, 1e-6, 1e-5), `geluGrad n=${n}`).toBeLessThanOrEqual(1);
    }
    // far in the tails: exactly x and 0 (the exp underflows to 0, no NaN)
    const [y] = run([Float32Array.of(-100, 100, -1e30, 1e30)], [4], (k, [xp, yp]) => k.gelu(xp, yp, 4));
    expect(Array.from(y)).toEqual([-0, 100, -0, 1e30].map((v) => Math.fround(v)));
  });

  it('LayerNorm forward and dx, dgamma, dbeta equal the reference for C from 1 to 67 and rows with an offset', () => {
    const rnd = rng(5);
    for (const [N, C] of [[1, 1], [3, 3], [2, 4], [5, 5], [7, 7], [4, 64], [33, 67]]) {
      const x = rand(N * C, rnd, 4).map((v, i) => v + (i % 3 === 0 ? 10 : 0)); // a mean far from 0
      const g = rand(C, rnd), b = rand(C, rnd), dy = rand(N * C, rnd);
      const eps = 1e-5;
      const [y] = run([x, g, b], [N * C], (k, [xp, gp, bp, yp]) => k.layerNorm(xp, gp, bp, yp, N, C, eps));
      const [dx, dg, db] = run([dy, x, g], [N * C, C, C], (k, [dyp, xp, gp, dxp, dgp, dbp]) =>
        k.layerNormGrad(dyp, xp, gp, dxp, dgp, dbp, N, C, eps),
      );
      const yr = new Float64Array(N * C), dxr = new Float64Array(N * C), dgr = new Float64Array(C), dbr = new Float64Array(C);
      layernormForward(yr, x, g, b, N, C, eps);
      layernormBackward(dxr, dgr, dbr, dy, x, g, N, C, eps);
      const at = `N=${N} C=${C}`;
      expect(worst(y, yr, 1e-5, 1e-4), `y ${at}`).toBeLessThanOrEqual(1);
      expect(worst(dx, dxr, 1e-4, 1e-4), `dx ${at}`).toBeLessThanOrEqual(1);
      expect(worst(dg, dgr, 1e-4, 1e-4), `dgamma ${at}`).toBeLessThanOrEqual(1);
      expect(worst(db, dbr, 1e-5, 1e-5), `dbeta ${at}`).toBeLessThanOrEqual(1);
    }
  });

  it('causal attention and dq, dk, dv equal the reference for head sizes 1 to 16 and T from 1 to 21', () => {
    const rnd = rng(7);
    for (const [B, NH, T, HS] of [[1, 1, 1, 1], [1, 2, 3, 3], [2, 1, 5, 4], [1, 3, 9, 5], [2, 2, 21, 16]]) {
      const n = B * NH * T * HS, scale = 1 / Math.sqrt(HS);
      const q = rand(n, rnd, 3), k = rand(n, rnd, 3), v = rand(n, rnd), dy = rand(n, rnd);
      const [y] = run([q, k, v], [n, T], (m, [qp, kp, vp, yp, s]) => m.attention(qp, kp, vp, yp, B * NH, T, HS, scale, s));
      const [dq, dk, dv] = run([dy, q, k, v, y], [n, n, n, T], (m, [dyp, qp, kp, vp, yp, dqp, dkp, dvp, s]) =>
        m.attentionGrad(dyp, qp, kp, vp, yp, dqp, dkp, dvp, B * NH, T, HS, scale, s),
      );
      const yr = new Float64Array(n), dqr = new Float64Array(n), dkr = new Float64Array(n), dvr = new Float64Array(n);
      attentionForward(yr, q, k, v, B, NH, T, HS, scale);
      attentionBackward(dqr, dkr, dvr, dy, q, k, v, B, NH, T, HS, scale);
      const at = `[${B},${NH},${T},${HS}]`;
      expect(worst(y, yr, 2e-5, 2e-4), `y ${at}`).toBeLessThanOrEqual(1);
      expect(worst(dq, dqr, 2e-5, 2e-4), `dq ${at}`).toBeLessThanOrEqual(1);
      expect(worst(dk, dkr, 2e-5, 2e-4), `dk ${at}`).toBeLessThanOrEqual(1);
      expect(worst(dv, dvr, 2e-5, 2e-4), `dv ${at}`).toBeLessThanOrEqual(1);
    }
  });

  it('cross-entropy and its gradient equal the reference for V from 1 to 67, with unweighted rows whose target is -1', () => {
    const rnd = rng(9);
    for (const [N, V] of [[1, 1], [3, 3], [4, 4], [5, 5], [9, 7], [17, 67]]) {
      const logits = rand(N * V, rnd, 20);
      const targets = Int32Array.from({ length: N }, (_, n) => (n % 4 === 3 ? -1 : (n * 5) % V));
      const weights = Float32Array.from({ length: N }, (_, n) => (n % 4 === 3 ? 0 : 0.5 + (n % 3)));
      const dl = rand(N, rnd);
      const [loss] = run([logits, targets, weights], [N], (k, [lp, tp, wp, op]) => k.crossEntropy(lp, tp, wp, op, N, V));
      const [dlogits] = run([dl, logits, targets, weights], [N * V], (k, [dp, lp, tp, wp, op]) => k.crossEntropyGrad(dp, lp, tp, wp, op, N, V));
      const lr = new Float64Array(N), dr = new Float64Array(N * V);
      crossEntropyForward(lr, logits, targets, weights, N, V);
      crossEntropyBackward(dr, dl, logits, targets, weights, N, V);
      expect(worst(loss, lr, 1e-5, 1e-5), `loss N=${N} V=${V}`).toBeLessThanOrEqual(1);
      expect(worst(dlogits, dr, 1e-6, 1e-5), `dlogits N=${N} V=${V}`).toBeLessThanOrEqual(1);
    }
  });

  it('the embedding gradient equals the reference scatter-add for C from 1 to 9, repeated ids and a skipped bad id', () => {
    const rnd = rng(13);
    for (const [N, V, C] of [[1, 1, 1], [6, 3, 3], [10, 5, 4], [33, 7, 9]]) {
      const ids = Int32Array.from({ length: N }, (_, n) => (n === 4 ? V : (n * 3) % V));
      const dy = rand(N * C, rnd);
      const [dt] = run([dy, ids], [V * C], (k, [dp, ip, op]) => k.embeddingGrad(dp, ip, op, N, V, C));
      const ref = new Float64Array(V * C);
      embeddingBackward(ref, dy, ids, N, V, C);
      expect(worst(dt, ref, 1e-6, 1e-6), `N=${N} V=${V} C=${C}`).toBeLessThanOrEqual(1);
    }
  });

  it('the committed wasm (ops-wasm.ts) is what scripts/build-simd.mjs builds from asm/ops.ts', () => {
    const out = execFileSync(process.execPath, ['scripts/build-simd.mjs', '--check'], { encoding: 'utf8' });
    expect(out).toContain('up to date');
  });
});
