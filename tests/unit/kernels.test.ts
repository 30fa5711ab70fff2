// The lab kernels on tfjs' cpu backend (Node): each op against its float64 reference.ts and against the
// stock-op version; each gradient against the stock-op gradient and against central finite differences of
// the float64 reference. Tolerances: |a - b| <= atol + rtol * |ref|, the worst element printed on failure.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { causalAttention, embedding, gelu, layerNorm, softmaxCrossEntropy, stock } from '../../src/lib/kernels';
import { registerLabKernels } from '../../src/lib/kernels/registry';
import { geluForward } from '../../src/lib/kernels/gelu/reference';
import { layernormForward } from '../../src/lib/kernels/layernorm/reference';
import { crossEntropyForward } from '../../src/lib/kernels/crossentropy/reference';
import { embeddingForward } from '../../src/lib/kernels/embedding/reference';
import { attentionForward } from '../../src/lib/kernels/attention/reference';
import { mulberry32 } from '../../src/lib/util/rng';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  registerLabKernels();
});

// ---- helpers -------------------------------------------------------------------------------------------

/** Deterministic uniform numbers in [lo, hi) (mulberry32). */
function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const u = mulberry32(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * u());
}
const randInts = (n: number, seed: number, max: number) => Int32Array.from(rand(n, seed, 0, max), (v) => Math.floor(v));

/** Asserts |got - want| <= atol + rtol |want| everywhere; the message names the worst element. */
function expectClose(name: string, got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): void {
  expect(got.length, `${name}: length`).toBe(want.length);
  let worst = -1;
  let worstExcess = -Infinity;
  for (let i = 0; i < want.length; i++) {
    const excess = Math.abs(got[i] - want[i]) - (atol + rtol * Math.abs(want[i]));
    if (!(excess <= worstExcess) || Number.isNaN(got[i])) {
      worstExcess = Number.isNaN(got[i]) ? Infinity : excess;
      worst = i;
    }
  }
  const msg = `${name}: worst element ${worst}: got ${got[worst]}, want ${want[worst]} (|diff| ${Math.abs(got[worst] - want[worst]).toExponential(2)}, atol ${atol}, rtol ${rtol})`;
  expect(worstExcess <= 0, msg).toBe(true);
}

/** Central differences of f (float64 in, scalar out) with respect to x. */
function finiteDiff(f: (x: Float64Array) => number, x0: ArrayLike<number>, h = 1e-5): Float64Array {
  const x = Float64Array.from(x0);
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + h;
    const up = f(x);
    x[i] = keep - h;
    const down = f(x);
    x[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

const dotR = (y: ArrayLike<number>, r: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < r.length; i++) s += y[i] * r[i];
  return s;
};

/** Gradients of sum(op(...) * r) with respect to the float inputs at `wrt`, via tf.grads. */
function gradsOf(fn: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], r: tf.Tensor): Float32Array[] {
  const g = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(fn(...xs), r)));
  const out = g(inputs);
  const arr = out.map((t) => t.dataSync() as Float32Array);
  out.forEach((t) => t.dispose());
  return arr;
}

// ---- ops ------------------------------------------------------------------------------------------------

describe('gelu', () => {
  const shape = [3, 7, 5];
  const n = 105;
  const xv = rand(n, 1, -4, 4);
  it('forward matches the float64 reference and the stock ops', () => {
    const x = tf.tensor(xv, shape);
    const y = gelu(x);
    expect(y.shape).toEqual(shape);
    const ref = new Float64Array(n);
    geluForward(ref, xv, n);
    expectClose('gelu vs reference', y.dataSync(), ref, 1e-6, 1e-6);
    expectClose('gelu vs stock', y.dataSync(), stock.gelu(x).dataSync(), 1e-6, 1e-5);
  });
  it('gradient matches stock ops and finite differences', () => {
    const x = tf.tensor(xv, shape);
    const rv = rand(n, 2);
    const r = tf.tensor(rv, shape);
    const [g] = gradsOf((a) => gelu(a), [x], r);
    const [gs] = gradsOf((a) => stock.gelu(a), [x], r);
    expectClose('dgelu vs stock', g, gs, 1e-6, 1e-5);
    const fd = finiteDiff((xx) => {
      const y = new Float64Array(n);
      geluForward(y, xx, n);
      return dotR(y, rv);
    }, xv);
    expectClose('dgelu vs finite differences', g, fd, 1e-5, 1e-4);
  });
});

describe('layerNorm', () => {
  const [B, T, C] = [2, 3, 13];
  const N = B * T;
  const xv = rand(N * C, 3, -2, 3);
  const gv = rand(C, 4, 0.5, 1.5);
  const bv = rand(C, 5, -0.5, 0.5);
  it('forward matches the float64 reference and the stock ops', () => {
    const x = tf.tensor(xv, [B, T, C]);
    const y = layerNorm(x, tf.tensor1d(gv), tf.tensor1d(bv));
    expect(y.shape).toEqual([B, T, C]);
    const ref = new Float64Array(N * C);
    layernormForward(ref, xv, gv, bv, N, C, 1e-5);
    expectClose('layerNorm vs reference', y.dataSync(), ref, 1e-5, 1e-5);
    expectClose('layerNorm vs stock', y.dataSync(), stock.layerNorm(x, tf.tensor1d(gv), tf.tensor1d(bv)).dataSync(), 2e-5, 1e-4);
  });
  it('gradients wrt x, gamma, beta match stock ops and finite differences', () => {
    const x = tf.tensor(xv, [B, T, C]);
    const rv = rand(N * C, 6);
    const r = tf.tensor(rv, [B, T, C]);
    const ins = [x, tf.tensor1d(gv), tf.tensor1d(bv)];
    const g = gradsOf((a, b, c) => layerNorm(a, b as tf.Tensor1D, c as tf.Tensor1D), ins, r);
    const gs = gradsOf((a, b, c) => stock.layerNorm(a, b as tf.Tensor1D, c as tf.Tensor1D), ins, r);
    const loss = (xx: ArrayLike<number>, gg: ArrayLike<number>, bb: ArrayLike<number>) => {
      const y = new Float64Array(N * C);
      layernormForward(y, xx, gg, bb, N, C, 1e-5);
      return dotR(y, rv);
    };
    const fds = [
      finiteDiff((xx) => loss(xx, gv, bv), xv),
      finiteDiff((gg) => loss(xv, gg, bv), gv),
      finiteDiff((bb) => loss(xv, gv, bb), bv),
    ];
    ['dx', 'dgamma', 'dbeta'].forEach((name, i) => {
      expectClose(`${name} vs stock`, g[i], gs[i], 2e-5, 1e-4);
      expectClose(`${name} vs finite differences`, g[i], fds[i], 1e-4, 1e-3);
    });
  });
  it('refuses gamma of the wrong size, naming both shapes', () => {
    expect(() => layerNorm(tf.zeros([2, 4]), tf.ones([5]) as tf.Tensor1D, tf.zeros([4]) as tf.Tensor1D)).toThrow(
      /gamma and beta must have shape \[4\].*gamma \[5\]/,
    );
  });
});

describe('embedding', () => {
  const [V, C] = [11, 6];
  const tv = rand(V * C, 7);
  const idv = Int32Array.from([3, 0, 10, 3, 7, 3, 1, 10]); // repeats, so the scatter-add must sum
  it('forward gathers rows, keeps the ids shape, and matches reference and stock', () => {
    const table = tf.tensor2d(tv, [V, C]);
    const ids = tf.tensor(idv, [2, 4], 'int32');
    const y = embedding(table, ids);
    expect(y.shape).toEqual([2, 4, C]);
    const ref = new Float64Array(idv.length * C);
    embeddingForward(ref, tv, idv, idv.length, V, C);
    expectClose('embedding vs reference', y.dataSync(), ref, 0, 0);
    expectClose('embedding vs stock', y.dataSync(), stock.embedding(table, ids).dataSync(), 0, 0);
  });
  it('gradient wrt the table is a scatter-add matching stock and finite differences', () => {
    const table = tf.tensor2d(tv, [V, C]);
    const ids = tf.tensor(idv, [2, 4], 'int32');
    const rv = rand(idv.length * C, 8);
    const r = tf.tensor(rv, [2, 4, C]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(embedding(t as tf.Tensor2D, ids), r)))(table).dataSync();
    const gs = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(stock.embedding(t as tf.Tensor2D, ids), r)))(table).dataSync();
    expectClose('dtable vs stock', g, gs, 1e-6, 1e-6);
    const fd = finiteDiff((tt) => {
      const y = new Float64Array(idv.length * C);
      embeddingForward(y, tt, idv, idv.length, V, C);
      return dotR(y, rv);
    }, tv);
    expectClose('dtable vs finite differences', g, fd, 1e-5, 1e-4);
    // rows no id points at get exactly zero
    for (const v of [2, 4, 5, 6, 8, 9]) for (let c = 0; c < C; c++) expect(g[v * C + c]).toBe(0);
  });
  it('refuses float ids and ids outside the table with clear messages', () => {
    const table = tf.zeros([V, C]) as tf.Tensor2D;
    expect(() => embedding(table, tf.tensor1d([1, 2]))).toThrow(/ids must be int32, got float32/);
    expect(() => embedding(table, tf.tensor1d([1, 11], 'int32')).dataSync()).toThrow(/ids\[1\] = 11 is outside the table's 11 rows/);
  });
});

describe('softmaxCrossEntropy', () => {
  const [N, V] = [7, 9];
  const lv = rand(N * V, 9, -3, 3);
  const tv = randInts(N, 10, V);
  tv[4] = -1; // a padding row: ignored because its weight is 0
  const wv = Float32Array.from([1, 0.5, 2, 1, 0, 1, 0.25]);
  it('forward matches the float64 reference and the stock ops; weight-0 rows give 0', () => {
    const y = softmaxCrossEntropy(tf.tensor2d(lv, [N, V]), tf.tensor1d(tv, 'int32'), tf.tensor1d(wv));
    expect(y.shape).toEqual([N]);
    const ref = new Float64Array(N);
    crossEntropyForward(ref, lv, tv, wv, N, V);
    expectClose('xent vs reference', y.dataSync(), ref, 1e-6, 1e-5);
    const st = stock.softmaxCrossEntropy(tf.tensor2d(lv, [N, V]), tf.tensor1d(tv, 'int32'), tf.tensor1d(wv));
    expectClose('xent vs stock', y.dataSync(), st.dataSync(), 1e-6, 1e-5);
    expect(y.dataSync()[4]).toBe(0);
  });
  it('gradient wrt logits matches stock ops and finite differences', () => {
    const logits = tf.tensor2d(lv, [N, V]);
    const targets = tf.tensor1d(tv, 'int32');
    const weights = tf.tensor1d(wv);
    const rv = rand(N, 11, 0.5, 1.5);
    const r = tf.tensor1d(rv);
    const g = tf.grad((l: tf.Tensor) => tf.sum(tf.mul(softmaxCrossEntropy(l as tf.Tensor2D, targets, weights), r)))(logits).dataSync();
    const gs = tf.grad((l: tf.Tensor) => tf.sum(tf.mul(stock.softmaxCrossEntropy(l as tf.Tensor2D, targets, weights), r)))(logits).dataSync();
    expectClose('dlogits vs stock', g, gs, 1e-6, 1e-5);
    const fd = finiteDiff((ll) => {
      const y = new Float64Array(N);
      crossEntropyForward(y, ll, tv, wv, N, V);
      return dotR(y, rv);
    }, lv);
    expectClose('dlogits vs finite differences', g, fd, 1e-5, 1e-4);
  });
  it('gradient wrt weights is the unweighted row loss (0 on ignored rows)', () => {
    const logits = tf.tensor2d(lv, [N, V]);
    const targets = tf.tensor1d(tv, 'int32');
    const gw = tf.grad((w: tf.Tensor) => tf.sum(softmaxCrossEntropy(logits, targets, w as tf.Tensor1D)))(tf.tensor1d(wv)).dataSync();
    const ones = Float32Array.from(wv, (w) => (w === 0 ? 0 : 1));
    const ref = new Float64Array(N);
    crossEntropyForward(ref, lv, tv, ones, N, V);
    expectClose('dweights', gw, ref, 1e-6, 1e-5);
  });
  it('refuses bad targets with clear messages', () => {
    const logits = tf.zeros([2, 3]) as tf.Tensor2D;
    expect(() => softmaxCrossEntropy(logits, tf.tensor1d([0, 1]), tf.ones([2]) as tf.Tensor1D)).toThrow(/targets must be int32/);
    expect(() => softmaxCrossEntropy(logits, tf.tensor1d([0], 'int32'), tf.ones([2]) as tf.Tensor1D)).toThrow(
      /one entry per logits row \(2\)/,
    );
    expect(() => softmaxCrossEntropy(logits, tf.tensor1d([0, 3], 'int32'), tf.ones([2]) as tf.Tensor1D).dataSync()).toThrow(
      /targets\[1\] = 3 is outside the vocabulary \[0, 3\)/,
    );
  });
});

describe('causalAttention', () => {
  const [B, NH, T, HS] = [2, 2, 5, 3];
  const n = B * NH * T * HS;
  const scale = 1 / Math.sqrt(HS);
  const qv = rand(n, 12, -1.5, 1.5);
  const kv = rand(n, 13, -1.5, 1.5);
  const vv = rand(n, 14);
  const shape = [B, NH, T, HS];
  it('forward matches the float64 reference and the stock ops', () => {
    const y = causalAttention(tf.tensor4d(qv, [B, NH, T, HS]), tf.tensor4d(kv, [B, NH, T, HS]), tf.tensor4d(vv, [B, NH, T, HS]), scale);
    expect(y.shape).toEqual(shape);
    const ref = new Float64Array(n);
    attentionForward(ref, qv, kv, vv, B, NH, T, HS, scale);
    expectClose('attention vs reference', y.dataSync(), ref, 1e-6, 1e-5);
    const st = stock.causalAttention(tf.tensor4d(qv, [B, NH, T, HS]), tf.tensor4d(kv, [B, NH, T, HS]), tf.tensor4d(vv, [B, NH, T, HS]), scale);
    expectClose('attention vs stock', y.dataSync(), st.dataSync(), 1e-6, 1e-5);
    // causality: position 0 attends only to itself, so its output is v[0]
    const yd = y.dataSync();
    for (let d = 0; d < HS; d++) expect(yd[d]).toBeCloseTo(vv[d], 6);
  });
  it('gradients wrt q, k, v match stock ops and finite differences', () => {
    const ins = [tf.tensor(qv, shape), tf.tensor(kv, shape), tf.tensor(vv, shape)];
    const rv = rand(n, 15);
    const r = tf.tensor(rv, shape);
    const g = gradsOf((q, k, v) => causalAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, scale), ins, r);
    const gs = gradsOf((q, k, v) => stock.causalAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, scale), ins, r);
    const loss = (q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>) => {
      const y = new Float64Array(n);
      attentionForward(y, q, k, v, B, NH, T, HS, scale);
      return dotR(y, rv);
    };
    const fds = [
      finiteDiff((x) => loss(x, kv, vv), qv),
      finiteDiff((x) => loss(qv, x, vv), kv),
      finiteDiff((x) => loss(qv, kv, x), vv),
    ];
    ['dq', 'dk', 'dv'].forEach((name, i) => {
      expectClose(`${name} vs stock`, g[i], gs[i], 1e-5, 1e-4);
      expectClose(`${name} vs finite differences`, g[i], fds[i], 1e-5, 1e-4);
    });
  });
  it('refuses mismatched shapes with a clear message', () => {
    const a = tf.zeros([1, 1, 4, 2]) as tf.Tensor4D;
    expect(() => causalAttention(a, tf.zeros([1, 1, 3, 2]) as tf.Tensor4D, a, 1)).toThrow(/same shape.*k \[1, 1, 3, 2\]/);
    expect(() => causalAttention(tf.zeros([4, 2]) as unknown as tf.Tensor4D, a, a, 1)).toThrow(/q must have rank 4/);
  });
});

describe('all five in one model step', () => {
  it('variableGrads and an Adam step through fused ops equal the stock-op version', () => {
    const [B, T, C, V, NH] = [2, 4, 8, 10, 2];
    const HS = C / NH;
    const mk = (ops: typeof stock, tag: string) => {
      const vars = {
        wte: tf.variable(tf.tensor2d(rand(V * C, 20, -0.5, 0.5), [V, C]), true, `${tag}.wte`),
        g: tf.variable(tf.tensor1d(rand(C, 21, 0.8, 1.2)), true, `${tag}.g`),
        b: tf.variable(tf.tensor1d(rand(C, 22, -0.1, 0.1)), true, `${tag}.b`),
        wqkv: tf.variable(tf.tensor2d(rand(C * 3 * C, 23, -0.4, 0.4), [C, 3 * C]), true, `${tag}.wqkv`),
      };
      const ids = tf.tensor2d(randInts(B * T, 24, V), [B, T], 'int32');
      const targets = tf.tensor1d(randInts(B * T, 25, V), 'int32');
      const weights = tf.tensor1d(Float32Array.from({ length: B * T }, (_, i) => (i % 4 === 0 ? 0 : 1)));
      const loss = () =>
        tf.tidy(() => {
          const x = ops.embedding(vars.wte, ids); // (B, T, C)
          const h = ops.layerNorm(x, vars.g, vars.b); // (B, T, C)
          const qkv = tf.matMul(h.reshape([B * T, C]), vars.wqkv).reshape([B, T, 3, NH, HS]).transpose([2, 0, 3, 1, 4]); // (3, B, NH, T, HS)
          const [q, k, v] = tf.unstack(qkv) as tf.Tensor4D[];
          const z = ops.causalAttention(q, k, v, 1 / Math.sqrt(HS)).transpose([0, 2, 1, 3]).reshape([B * T, C]); // (B*T, C)
          const logits = tf.matMul(ops.gelu(z), vars.wte, false, true) as tf.Tensor2D; // (B*T, V)
          return tf.div(tf.sum(ops.softmaxCrossEntropy(logits, targets, weights)), tf.sum(weights)) as tf.Scalar;
        });
      return { vars, loss, list: Object.values(vars) as tf.Variable[] };
    };
    const fusedOps = { embedding, layerNorm, gelu, softmaxCrossEntropy, causalAttention } as unknown as typeof stock;
    const a = mk(fusedOps, 'fused');
    const b = mk(stock, 'stock');
    const ga = tf.variableGrads(a.loss, a.list);
    const gb = tf.variableGrads(b.loss, b.list);
    expectClose('loss', [ga.value.dataSync()[0]], [gb.value.dataSync()[0]], 1e-6, 1e-5);
    for (const name of ['wte', 'g', 'b', 'wqkv'])
      expectClose(`grad ${name}`, ga.grads[`fused.${name}`].dataSync(), gb.grads[`stock.${name}`].dataSync(), 1e-6, 1e-4);
    const optA = tf.train.adam(0.01);
    const optB = tf.train.adam(0.01);
    for (let i = 0; i < 3; i++) {
      optA.minimize(a.loss, false, a.list);
      optB.minimize(b.loss, false, b.list);
    }
    expectClose('loss after 3 Adam steps', [a.loss().dataSync()[0]], [b.loss().dataSync()[0]], 1e-5, 1e-4);
    expect(a.loss().dataSync()[0]).toBeLessThan(ga.value.dataSync()[0]);
  });
});
