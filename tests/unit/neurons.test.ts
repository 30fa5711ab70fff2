// Neuron statistics, ranking, significance and the probe, on synthetic activations with known structure.
import { describe, expect, it } from 'vitest';
import {
  StreamingStats,
  adjustAcross,
  benjaminiHochberg,
  layerDistribution,
  rankNeurons,
  degenerateCount,
  referenceStats,
  statsTf,
  welchT,
  type NeuronStats,
} from '../../src/lib/neurons/stats';
import { regularizedIncompleteBeta, studentTTwoSidedP, lnGamma } from '../../src/lib/neurons/tdist';
import { trainProbe } from '../../src/lib/neurons/probe';
import { pairGroups } from '../../src/lib/neurons/pipeline';
import { mulberry32, normalSampler } from '../../src/lib/util/rng';
import * as tf from '@tensorflow/tfjs';

function randomActs(rows: number, dim: number, seed: number, offset = 0, scale = 1): Float32Array {
  const g = normalSampler(mulberry32(seed));
  const a = new Float32Array(rows * dim);
  for (let i = 0; i < a.length; i++) a[i] = offset + scale * g();
  return a;
}

function alternatingLabels(rows: number): Uint8Array {
  return Uint8Array.from({ length: rows }, (_, i) => i % 2);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { err: number; at: number } {
  let err = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= err)) {
      err = d;
      at = i;
    }
  }
  return { err, at };
}

describe('StreamingStats', () => {
  it('over several chunks equals the two-pass float64 reference on random data', () => {
    const rows = 403;
    const dim = 37;
    // Large offset relative to the spread: naive float sums of squares would lose digits here.
    const acts = randomActs(rows, dim, 1, 1000, 0.5);
    const rand = mulberry32(2);
    const labels = Uint8Array.from({ length: rows }, () => (rand() < 0.4 ? 1 : 0));
    const st = new StreamingStats('blocks.0.hook_resid_post', 0, dim);
    for (const [a, b] of [[0, 1], [1, 100], [100, 101], [101, 250], [250, 403]]) {
      st.add(acts.subarray(a * dim, b * dim), labels.subarray(a, b));
    }
    const s = st.finish({ welch: true });
    const ref = referenceStats(acts, labels, dim);
    const dn = maxAbsDiff(s.nmd, ref.nmd);
    const dr = maxAbsDiff(s.r, ref.r);
    expect(dn.err, `worst NMD at neuron ${dn.at}`).toBeLessThan(1e-5);
    expect(dr.err, `worst r at neuron ${dr.at}`).toBeLessThan(1e-5);
    expect(s.nMem + s.nGen).toBe(rows);
    expect(s.nMem).toBe(labels.reduce((a, b) => a + b, 0));
    // means themselves: column 3 by hand
    let m1 = 0;
    for (let i = 0; i < rows; i++) if (labels[i]) m1 += acts[i * dim + 3];
    expect(s.meanMem[3]).toBeCloseTo(m1 / s.nMem, 3);
    // the Welch t from the streaming moments matches a direct computation
    const x1: number[] = [];
    const x0: number[] = [];
    for (let i = 0; i < rows; i++) (labels[i] ? x1 : x0).push(acts[i * dim + 5]);
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const m2 = (v: number[]) => v.reduce((a, b) => a + (b - mean(v)) ** 2, 0);
    const w = welchT(mean(x1) - mean(x0), m2(x1), x1.length, m2(x0), x0.length);
    expect(s.t![5]).toBeCloseTo(w.t, 3);
    expect(s.p![5]).toBeCloseTo(w.p, 5);
  });

  it('gives r = 0 for a constant neuron and names NaN inputs', () => {
    const st = new StreamingStats('h', 0, 2);
    st.add(new Float32Array([1, 5, 2, 5, 3, 5, 4, 5]), new Uint8Array([0, 1, 0, 1]));
    const s = st.finish();
    expect(s.r[1]).toBe(0);
    expect(s.nmd[0]).toBeCloseTo(1, 6);
    const bad = new StreamingStats('blocks.2.hook_resid_post', 2, 2);
    bad.add(new Float32Array([1, NaN, 2, 3]), new Uint8Array([0, 1]));
    expect(() => bad.finish()).toThrow(/blocks\.2\.hook_resid_post.*neuron 1.*NaN/);
  });

  it('rejects bad input with clear messages', () => {
    const st = new StreamingStats('h', 0, 3);
    expect(() => st.add(new Float32Array(7), new Uint8Array(2))).toThrow(/not a multiple of dim=3/);
    expect(() => st.add(new Float32Array(6), new Uint8Array(3))).toThrow(/3 labels for 2/);
    expect(() => st.add(new Float32Array(6), new Uint8Array([0, 2]))).toThrow(/must be 1 \(mem\) or 0 \(gen\)/);
    st.add(new Float32Array(6), new Uint8Array([1, 1]));
    expect(() => st.finish()).toThrow(/need both mem and gen rows \(got 2 mem, 0 gen\)/);
  });
});

describe('statsTf', () => {
  it('on the tfjs cpu backend equals the float64 reference and frees its tensors', async () => {
    await tf.setBackend('cpu');
    const rows = 257;
    const dim = 19;
    const acts = randomActs(rows, dim, 3, 50, 2);
    const rand = mulberry32(4);
    const labels = Uint8Array.from({ length: rows }, () => (rand() < 0.3 ? 1 : 0));
    for (let i = 0; i < rows; i++) acts[i * dim + 2] += 3 * labels[i];
    const before = tf.memory().numTensors;
    const x = tf.tensor2d(acts, [rows, dim]);
    const y = tf.tensor1d(labels, 'int32');
    const got = await statsTf(x, y);
    x.dispose();
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const ref = referenceStats(acts, labels, dim);
    const dn = maxAbsDiff(got.nmd, ref.nmd);
    const dr = maxAbsDiff(got.r, ref.r);
    expect(dn.err, `worst NMD at neuron ${dn.at}`).toBeLessThan(1e-4);
    expect(dr.err, `worst r at neuron ${dr.at}`).toBeLessThan(1e-4);
    expect(Math.abs(ref.r[2])).toBeGreaterThan(0.4);
    await expect(statsTf(tf.zeros([4, 3]) as tf.Tensor2D, tf.tensor1d([0, 1, 0]))).rejects.toThrow(/labels must be a 1-D tensor of 4 values/);
  });
});

describe('rankNeurons', () => {
  it('recovers 10 planted neurons among 5000 (precision at k = 1)', () => {
    const rows = 400;
    const layers = 5;
    const dim = 1000; // 5 x 1000 = 5000 positions
    const labels = alternatingLabels(rows);
    const rand = mulberry32(7);
    const planted = new Set<string>();
    while (planted.size < 10) planted.add(`${Math.floor(rand() * layers)}:${Math.floor(rand() * dim)}`);
    const stats: NeuronStats[] = [];
    for (let l = 0; l < layers; l++) {
      const acts = randomActs(rows, dim, 100 + l);
      for (let j = 0; j < dim; j++) {
        if (!planted.has(`${l}:${j}`)) continue;
        for (let i = 0; i < rows; i++) acts[i * dim + j] += labels[i] ? 1.5 : 0; // shifted by label
      }
      const st = new StreamingStats(`blocks.${l}.hook_resid_post`, l, dim);
      st.add(acts, labels);
      stats.push(st.finish());
    }
    const top = rankNeurons(stats, 10 / 5000);
    expect(top).toHaveLength(10);
    expect(new Set(top.map((n) => `${n.layer}:${n.index}`))).toEqual(planted);
    expect(top.map((n) => n.rank)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (let i = 1; i < top.length; i++) expect(Math.abs(top[i].r)).toBeLessThanOrEqual(Math.abs(top[i - 1].r));
    for (const n of top) expect(n.nmd).toBeGreaterThan(1); // planted shift 1.5, noise ~0.1 on the mean difference
    // the 5% selection holds 250 positions and still starts with the planted ones
    const top5 = rankNeurons(stats, 0.05);
    expect(top5).toHaveLength(250);
    expect(new Set(top5.slice(0, 10).map((n) => `${n.layer}:${n.index}`))).toEqual(planted);
    // layer distribution counts the planted layers
    const dist = layerDistribution(top, [0, 1, 2, 3, 4]);
    const want = [0, 1, 2, 3, 4].map((l) => [...planted].filter((k) => k.startsWith(`${l}:`)).length);
    expect(dist.map((d) => d.count)).toEqual(want);
    expect(dist.reduce((a, d) => a + d.fraction, 0)).toBeCloseTo(1, 12);
    expect(() => layerDistribution(top, [0, 1])).toThrow(/not in the layer list/);
    expect(() => rankNeurons(stats, 0)).toThrow(/topFraction must be in \(0, 1\]/);
  });

  it('breaks ties by input order and takes exactly k', () => {
    const mk = (hook: string, layer: number, r: number[]) => ({
      hook, layer, dim: r.length, nMem: 1, nGen: 1,
      meanMem: new Float32Array(r.length), meanGen: new Float32Array(r.length),
      nmd: Float32Array.from(r), r: Float32Array.from(r),
    });
    const top = rankNeurons([mk('a', 0, [0.5, -0.9, 0.5, 0.1]), mk('b', 1, [0.5, 0.2, -0.5, 0.3])], 0.5);
    expect(top.map((n) => `${n.hook}${n.index}`)).toEqual(['a1', 'a0', 'a2', 'b0']);
  });

  it('leaves constant (degenerate) positions out of the ranking and the top-k denominator', () => {
    // 3 hooks x 4 positions; the first hook is the same vector in every row (the embedding of one token at one
    // position), so only 8 positions are informative and top 25% is 2 of them, not 3 of 12
    const rows = 40;
    const labels = alternatingLabels(rows);
    const emb = new StreamingStats('blocks.0.hook_resid_pre', 0, 4);
    emb.add(Float32Array.from({ length: rows * 4 }, (_, i) => [0.44, -0.3, 0.1, 7][i % 4]), labels);
    const e = emb.finish();
    expect(Array.from(e.degenerate!)).toEqual([1, 1, 1, 1]);
    expect(Array.from(e.r)).toEqual([0, 0, 0, 0]);
    const live = [1, 2].map((l) => {
      const st = new StreamingStats(`blocks.${l - 1}.hook_resid_post`, l, 4);
      const acts = randomActs(rows, 4, 50 + l);
      for (let i = 0; i < rows; i++) acts[i * 4 + l] += labels[i] ? 2 : 0;
      st.add(acts, labels);
      return st.finish();
    });
    expect(degenerateCount([e, ...live])).toEqual({ degenerate: 4, informative: 8 });
    const top = rankNeurons([e, ...live], 0.25);
    expect(top).toHaveLength(2);
    expect(top.every((n) => n.hook !== 'blocks.0.hook_resid_pre')).toBe(true);
    // even when every informative |r| is below the degenerate rows' r = 0 tie, they are never taken
    const top100 = rankNeurons([e, ...live], 1);
    expect(top100).toHaveLength(8);
    expect(() => rankNeurons([e], 0.5)).toThrow(/every position is constant/);
  });
});

describe('significance', () => {
  it('Student t two-sided p and the incomplete beta match known values', () => {
    // Values from scipy.stats.t.sf and scipy.special.betainc.
    const tCases: [number, number, number][] = [
      [2.0, 10, 0.07338803477074037],
      [1.0, 1, 0.5],
      [0.5, 3.7, 0.6453356333199318],
      [3.0, 2.5, 0.07257609554903183],
      [10.0, 30, 4.575251408229618e-11],
      [2.5, 1000, 0.012578567801090807],
      [1.96, 1e6, 0.04999606758526985],
      [0, 7, 1],
    ];
    for (const [t, df, p] of tCases) {
      const got = studentTTwoSidedP(t, df);
      expect(Math.abs(got - p) / p, `t=${t} df=${df}: got ${got}, want ${p}`).toBeLessThan(1e-9);
      expect(studentTTwoSidedP(-t, df)).toBe(got);
    }
    const tiny = studentTTwoSidedP(40, 5000);
    expect(Math.abs(tiny - 8.41485047193577e-304) / 8.41485047193577e-304).toBeLessThan(1e-6);
    const bCases: [number, number, number, number][] = [
      [0.5, 0.5, 0.3, 0.36901011956554536],
      [2, 3, 0.4, 0.5248],
      [10, 0.5, 0.9, 0.15164090963470994],
      [5000, 0.5, 0.9996, 0.04548406464916117],
      [1.5, 20, 0.01, 0.06120371478345899],
    ];
    for (const [a, b, x, want] of bCases) expect(Math.abs(regularizedIncompleteBeta(a, b, x) - want) / want).toBeLessThan(1e-9);
    expect(lnGamma(5)).toBeCloseTo(Math.log(24), 13);
    expect(() => studentTTwoSidedP(1, 0)).toThrow(/degrees of freedom/);
  });

  it('Welch t matches a published-style example (scipy ttest_ind, equal_var=False)', () => {
    const a = [19.8, 20.4, 19.6, 17.8, 18.5, 18.9, 18.3, 18.9, 19.5, 22.0];
    const b = [28.2, 26.6, 20.1, 23.3, 25.2, 22.1, 17.7, 27.6, 20.6, 13.7, 23.2, 17.5, 20.6, 18.0, 23.9, 21.6, 24.3, 20.4, 23.9, 13.3];
    const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
    const m2 = (v: number[]) => v.reduce((s, x) => s + (x - mean(v)) ** 2, 0);
    const w = welchT(mean(a) - mean(b), m2(a), a.length, m2(b), b.length);
    expect(w.t).toBeCloseTo(-2.225512039969852, 10);
    expect(w.df).toBeCloseTo(24.524634944257343, 9);
    expect(w.p).toBeCloseTo(0.035484530830010394, 10);
    // The same through StreamingStats (mem = a, gen = b).
    const st = new StreamingStats('h', 0, 1);
    st.add(Float32Array.from([...a, ...b]), Uint8Array.from([...a.map(() => 1), ...b.map(() => 0)]));
    const s = st.finish({ welch: true });
    expect(s.t![0]).toBeCloseTo(-2.2255, 3);
    expect(s.p![0]).toBeCloseTo(0.0354845, 5);
  });

  it('Benjamini-Hochberg matches known values and applies across hooks', () => {
    // scipy.stats.false_discovery_control([0.01, 0.04, 0.03, 0.005, 0.5, 0.2, 0.04])
    const q = benjaminiHochberg(new Float64Array([0.01, 0.04, 0.03, 0.005, 0.5, 0.2, 0.04]));
    const want = [0.035, 0.056, 0.056, 0.035, 0.5, 0.23333333333333336, 0.056];
    for (let i = 0; i < want.length; i++) expect(q[i]).toBeCloseTo(want[i], 12);
    expect(() => benjaminiHochberg(new Float64Array([0.1, 1.5]))).toThrow(/p\[1\] = 1.5/);
    // across two hooks: the same as BH on the concatenation
    const rows = 60;
    const labels = alternatingLabels(rows);
    const stats = [0, 1].map((l) => {
      const acts = randomActs(rows, 4, 50 + l);
      for (let i = 0; i < rows; i++) acts[i * 4] += labels[i] * (l + 1);
      const st = new StreamingStats(`blocks.${l}.hook_resid_post`, l, 4);
      st.add(acts, labels);
      return st.finish({ welch: true });
    });
    adjustAcross(stats);
    const all = benjaminiHochberg(Float64Array.from([...stats[0].p!, ...stats[1].p!]));
    expect(Array.from(stats[1].q!)).toEqual(Array.from(all.slice(4)));
    expect(stats[1].q![0]).toBeLessThan(1e-4); // the planted neuron (2 sd apart, 30 vs 30 rows) is significant after correction
    const top = rankNeurons(stats, 2 / 8);
    expect(top[0].q).toBe(stats[1].q![0]);
  });
});

describe('trainProbe', () => {
  const rows = 600;
  const dim = 64;
  const labels = Uint8Array.from({ length: rows }, (_, i) => (i % 3 === 0 ? 1 : 0)); // 1/3 mem: chance 2/3
  function separable(): Float32Array {
    const X = randomActs(rows, dim, 11, 3, 2);
    // the label lives in a direction spread over 8 features (shift +-2, noise sd 2): the Bayes error is ~0.2%
    for (let i = 0; i < rows; i++) for (let j = 0; j < 8; j++) X[i * dim + j * 7] += labels[i] ? 2 : -2;
    return X;
  }

  it('beats chance on held-out rows when the label is encoded', () => {
    const p = trainProbe(separable(), labels, dim, { seed: 1 });
    expect(p.chance).toBeCloseTo(2 / 3, 1);
    expect(p.testAcc).toBeGreaterThan(0.95);
    expect(p.trainAcc).toBeGreaterThan(0.95);
    expect(p.testRows + p.trainRows).toBe(rows);
    expect(p.weights).toHaveLength(dim);
  });

  it('stays near chance on held-out rows with shuffled labels', () => {
    const rand = mulberry32(99);
    const shuffled = labels.slice();
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    const p = trainProbe(separable(), shuffled, dim, { seed: 1 });
    expect(p.testAcc).toBeLessThan(p.chance + 0.1);
    expect(p.testAcc).toBeGreaterThan(p.chance - 0.2);
  });

  it('holds out whole contrastive pairs: twins split across train and test score below chance, grouped ones do not', () => {
    // 150 pairs: the two prompts of a pair are near-identical (a shared random point plus tiny noise) with
    // opposite labels, and nothing else tells mem from gen. An over-fitted probe (no L2, many epochs) that sees
    // one twin predicts the other's label from it: inverted.
    const pairs = 150, d = 32;
    const rand = mulberry32(5);
    const X = new Float32Array(2 * pairs * d);
    const y = new Uint8Array(2 * pairs);
    for (let k = 0; k < pairs; k++) {
      y[2 * k] = 1;
      for (let j = 0; j < d; j++) {
        const base = rand() * 4 - 2;
        X[2 * k * d + j] = base + (rand() - 0.5) * 0.02;
        X[(2 * k + 1) * d + j] = base + (rand() - 0.5) * 0.02;
      }
    }
    const o = { l2: 0, epochs: 400, lr: 0.05, seed: 3 };
    const byRow = trainProbe(X, y, d, o);
    const byPair = trainProbe(X, y, d, { ...o, groups: pairGroups(y)! });
    expect(byRow.testAcc).toBeLessThan(0.4); // the artifact the grouping removes
    expect(byPair.testAcc).toBeGreaterThan(0.3);
    expect(byPair.testAcc).toBeLessThan(0.7);
    // whole pairs held out: an even count of test rows, one mem and one gen each
    expect(byPair.testRows % 2).toBe(0);
    expect(pairGroups(Uint8Array.from([1, 0, 0, 1]))).toBeUndefined(); // not recorded as (mem, gen) twins
  });

  it('is reproducible from the seed and rejects bad input', () => {
    const X = separable();
    const a = trainProbe(X, labels, dim, { seed: 5, epochs: 20 });
    const b = trainProbe(X, labels, dim, { seed: 5, epochs: 20 });
    expect(Array.from(a.weights)).toEqual(Array.from(b.weights));
    expect(() => trainProbe(X, labels.subarray(1), dim)).toThrow(/599 labels for 600 rows/);
    expect(() => trainProbe(X, labels, dim, { testFraction: 1 })).toThrow(/testFraction/);
    expect(() => trainProbe(X, new Uint8Array(rows), dim)).toThrow(/at least 2 rows of each label/);
  });
});
