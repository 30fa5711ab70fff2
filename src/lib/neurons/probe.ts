// Behavior probe (METHOD.md section 4, "Behavior prediction"): logistic regression that predicts mem (1) vs
// gen (0) from one layer's hidden state, scored on a held-out split.
//
// Plain JS on typed arrays, not tfjs: the probe is a few thousand rows by at most ~8k features, so one epoch
// is two passes over X (~50M multiply-adds at 3k x 8k), which the JIT does in tens of ms; tfjs on wasm/CPU
// would add per-op dispatch and copies for no gain, and the same code runs unchanged in the worker and in Node.
// Full-batch Adam (deterministic given the seed, robust to the feature scale after standardizing).

import { mulberry32 } from '../util/rng';

export interface ProbeOptions {
  /** L2 penalty on the weights (not the bias), in the mean-loss scale. Default 1e-3. */
  l2?: number;
  /** Full-batch steps. Default 100. */
  epochs?: number;
  /** Adam step size. Default 0.05. */
  lr?: number;
  /** Share of rows held out for testing (stratified by label). Default 0.2. */
  testFraction?: number;
  /** Seed of the split. Default 0. */
  seed?: number;
  /**
   * Group of each row; rows of one group stay on the same side of the split. Contrastive pairs must: the two
   * prompts of a pair are near-identical inputs with opposite labels, so with one in training and its twin held
   * out, an over-fitted probe predicts the twin's label from its neighbor and scores below chance.
   */
  groups?: Int32Array;
}

export interface ProbeResult {
  trainAcc: number;
  testAcc: number;
  /** Majority-class rate on the test rows: the accuracy of always guessing the commoner label. */
  chance: number;
  /** [dim], on standardized features: logit = bias + sum_j weights[j] * (x_j - mean_j) / std_j. */
  weights: Float32Array;
  bias: number;
  mean: Float32Array;
  std: Float32Array;
  trainRows: number;
  testRows: number;
}

function shuffle(a: number[], rand: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
}

/** Stratified seeded split: each label keeps about testFraction of its rows in the test set (at least one). */
export function splitRows(y: Uint8Array, testFraction: number, seed: number): { train: number[]; test: number[] } {
  const rand = mulberry32(seed);
  const train: number[] = [];
  const test: number[] = [];
  for (const c of [0, 1]) {
    const idx: number[] = [];
    for (let i = 0; i < y.length; i++) if (y[i] === c) idx.push(i);
    shuffle(idx, rand);
    const nTest = Math.min(idx.length - 1, Math.max(1, Math.round(idx.length * testFraction)));
    test.push(...idx.slice(0, nTest));
    train.push(...idx.slice(nTest));
  }
  train.sort((a, b) => a - b);
  test.sort((a, b) => a - b);
  return { train, test };
}

function gather(X: Float32Array, rows: number[], dim: number, mean: Float32Array, std: Float32Array): Float32Array {
  const out = new Float32Array(rows.length * dim); // (rows, dim) standardized
  for (let i = 0; i < rows.length; i++) {
    const src = rows[i] * dim;
    const dst = i * dim;
    for (let j = 0; j < dim; j++) out[dst + j] = (X[src + j] - mean[j]) / std[j];
  }
  return out;
}

function logits(Xs: Float32Array, n: number, dim: number, w: Float64Array, b: number, out: Float64Array): void {
  for (let i = 0; i < n; i++) {
    let z = b;
    const o = i * dim;
    for (let j = 0; j < dim; j++) z += Xs[o + j] * w[j];
    out[i] = z;
  }
}

function accuracy(z: Float64Array, y: Uint8Array | number[], rows: number[] | null): number {
  let ok = 0;
  for (let i = 0; i < z.length; i++) {
    const label = rows ? (y as Uint8Array)[rows[i]] : (y as number[])[i];
    if ((z[i] > 0 ? 1 : 0) === label) ok++;
  }
  return z.length ? ok / z.length : NaN;
}

/** Seeded split by group: about testFraction of the groups (at least one, never all) are held out whole. */
export function splitGroups(groups: Int32Array, testFraction: number, seed: number): { train: number[]; test: number[] } {
  const ids = [...new Set(groups)].sort((a, b) => a - b);
  if (ids.length < 2) throw new Error(`trainProbe: need at least 2 groups to hold some out (got ${ids.length}).`);
  shuffle(ids, mulberry32(seed));
  const nTest = Math.min(ids.length - 1, Math.max(1, Math.round(ids.length * testFraction)));
  const held = new Set(ids.slice(0, nTest));
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < groups.length; i++) (held.has(groups[i]) ? test : train).push(i);
  return { train, test };
}

/**
 * Trains the probe on a seeded split of X [rows, dim] (row-major) with labels y (1 = mem, 0 = gen): stratified
 * by label, or by `groups` when given.
 */
export function trainProbe(X: Float32Array, y: Uint8Array, dim: number, opts: ProbeOptions = {}): ProbeResult {
  const { l2 = 1e-3, epochs = 100, lr = 0.05, testFraction = 0.2, seed = 0, groups } = opts;
  if (!Number.isInteger(dim) || dim <= 0) throw new Error(`trainProbe: dim must be a positive integer (got ${dim}).`);
  if (X.length % dim !== 0) throw new Error(`trainProbe: X has ${X.length} values, not a multiple of dim=${dim}; pass a row-major [rows, dim] array.`);
  const rows = X.length / dim;
  if (y.length !== rows) throw new Error(`trainProbe: ${y.length} labels for ${rows} rows; pass one label per row.`);
  if (!(testFraction > 0 && testFraction < 1)) throw new Error(`trainProbe: testFraction must be in (0, 1) (got ${testFraction}).`);
  if (!(l2 >= 0)) throw new Error(`trainProbe: l2 must be >= 0 (got ${l2}).`);
  if (!(lr > 0)) throw new Error(`trainProbe: lr must be > 0 (got ${lr}).`);
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`trainProbe: epochs must be a positive integer (got ${epochs}).`);
  let n1 = 0;
  for (let i = 0; i < rows; i++) {
    if (y[i] > 1) throw new Error(`trainProbe: label ${y[i]} at row ${i}; labels must be 1 (mem) or 0 (gen).`);
    n1 += y[i];
  }
  if (n1 < 2 || rows - n1 < 2)
    throw new Error(`trainProbe: need at least 2 rows of each label to hold some out (got ${n1} mem, ${rows - n1} gen).`);

  if (groups && groups.length !== rows) throw new Error(`trainProbe: ${groups.length} groups for ${rows} rows; pass one group per row.`);
  const { train, test } = groups ? splitGroups(groups, testFraction, seed) : splitRows(y, testFraction, seed);
  const nTr = train.length;

  // Standardize with training-split statistics only (no test leakage).
  const mean = new Float32Array(dim);
  const std = new Float32Array(dim);
  {
    const s = new Float64Array(dim);
    const ss = new Float64Array(dim);
    for (const r of train) {
      const o = r * dim;
      for (let j = 0; j < dim; j++) s[j] += X[o + j];
    }
    for (let j = 0; j < dim; j++) mean[j] = s[j] / nTr;
    for (const r of train) {
      const o = r * dim;
      for (let j = 0; j < dim; j++) {
        const d = X[o + j] - mean[j];
        ss[j] += d * d;
      }
    }
    for (let j = 0; j < dim; j++) {
      const sd = Math.sqrt(ss[j] / nTr);
      std[j] = sd > 1e-12 ? sd : 1; // a constant feature stays 0 after centering
    }
  }
  const Xtr = gather(X, train, dim, mean, std); // (nTr, dim)
  const ytr = train.map((r) => y[r]);

  const w = new Float64Array(dim);
  let b = 0;
  const mW = new Float64Array(dim);
  const vW = new Float64Array(dim);
  let mB = 0;
  let vB = 0;
  const B1 = 0.9;
  const B2 = 0.999;
  const EPS = 1e-8;
  const z = new Float64Array(nTr);
  const g = new Float64Array(dim);
  for (let step = 1; step <= epochs; step++) {
    // forward: z = Xw + b; residual = sigmoid(z) - y (gradient of the mean log-loss wrt z, times n)
    logits(Xtr, nTr, dim, w, b, z);
    g.fill(0);
    let gb = 0;
    for (let i = 0; i < nTr; i++) {
      const res = (1 / (1 + Math.exp(-z[i])) - ytr[i]) / nTr;
      gb += res;
      const o = i * dim;
      for (let j = 0; j < dim; j++) g[j] += res * Xtr[o + j];
    }
    // update (Adam with bias correction); L2 on the weights only
    const c1 = 1 - Math.pow(B1, step);
    const c2 = 1 - Math.pow(B2, step);
    for (let j = 0; j < dim; j++) {
      const gj = g[j] + l2 * w[j];
      mW[j] = B1 * mW[j] + (1 - B1) * gj;
      vW[j] = B2 * vW[j] + (1 - B2) * gj * gj;
      w[j] -= (lr * (mW[j] / c1)) / (Math.sqrt(vW[j] / c2) + EPS);
    }
    mB = B1 * mB + (1 - B1) * gb;
    vB = B2 * vB + (1 - B2) * gb * gb;
    b -= (lr * (mB / c1)) / (Math.sqrt(vB / c2) + EPS);
  }

  logits(Xtr, nTr, dim, w, b, z);
  const trainAcc = accuracy(z, ytr, null);
  const Xte = gather(X, test, dim, mean, std); // (nTe, dim)
  const zTe = new Float64Array(test.length);
  logits(Xte, test.length, dim, w, b, zTe);
  const testAcc = accuracy(zTe, y, test);
  let t1 = 0;
  for (const r of test) t1 += y[r];
  const chance = Math.max(t1, test.length - t1) / test.length;
  return { trainAcc, testAcc, chance, weights: Float32Array.from(w), bias: b, mean, std, trainRows: nTr, testRows: test.length };
}

/**
 * A trained probe's accuracy on other rows (e.g. fresh prompts, never seen by the probe or the pair search):
 * X (rows, dim) in the probe's own feature order, y 1 = mem, 0 = gen. Standardized with the probe's training stats.
 */
export function probeAccuracy(p: Pick<ProbeResult, 'weights' | 'bias' | 'mean' | 'std'>, X: Float32Array, y: Uint8Array): number {
  const dim = p.weights.length;
  if (X.length !== y.length * dim) throw new Error(`probeAccuracy: X has ${X.length} values for ${y.length} rows of ${dim} features; pass a row-major [rows, ${dim}] array.`);
  if (y.length === 0) throw new Error('probeAccuracy: no rows to score.');
  let right = 0;
  for (let i = 0; i < y.length; i++) {
    let z = p.bias;
    for (let j = 0; j < dim; j++) z += (p.weights[j] * (X[i * dim + j] - p.mean[j])) / p.std[j];
    if ((z > 0 ? 1 : 0) === y[i]) right++;
  }
  return right / y.length;
}
