// Per-neuron statistics for mem vs gen activations (METHOD.md section 4):
//   NMD = mean over mem rows - mean over gen rows; Pearson r of the activation against the label (mem=1, gen=0);
//   optional Welch t with a two-sided p and Benjamini-Hochberg q (the lab's addition, not the authors').
// A "neuron" is one column of one hook's [rows, dim] activation matrix at the last prompt token.
//
// With a binary label, Pearson r is the point-biserial correlation:
//   r = (mean1 - mean0) * sqrt(n1 * n0) / sqrt(n * M2)      M2 = sum over all rows of (x - mean)^2
// so every statistic here follows from per-class counts, means and sums of squared deviations.
import * as tf from '@tensorflow/tfjs';
import { studentTTwoSidedP } from './tdist';

export interface NeuronStats {
  hook: string;
  layer: number;
  dim: number;
  nMem: number;
  nGen: number;
  meanMem: Float32Array;
  meanGen: Float32Array;
  /** meanMem - meanGen */
  nmd: Float32Array;
  /** Pearson r vs label mem=1 gen=0 (0 for a neuron that is constant over all rows). */
  r: Float32Array;
  /** Welch t (mem minus gen). */
  t?: Float32Array;
  /** Two-sided p of the Welch t test. */
  p?: Float64Array;
  /** Benjamini-Hochberg, over all positions of the analysis (see `adjustAcross`). */
  q?: Float64Array;
  /**
   * 1 where the neuron is constant over all recorded rows (e.g. the embedding of the same last token at the same
   * position in every prompt): its r is 0 and its probe at chance by construction, so ranking, top-k
   * denominators and probes leave it out.
   */
  degenerate?: Uint8Array;
}

/** Constant over the rows: no spread at all, or a spread at float-rounding level of a nonzero constant. */
export function isDegenerate(m2: number, n: number, mean: number): boolean {
  return m2 <= 0 || Math.sqrt(m2 / n) <= 1e-6 * Math.abs(mean);
}

/** How many positions of these stats are degenerate (constant), and how many remain (informative). */
export function degenerateCount(stats: Pick<NeuronStats, 'dim' | 'degenerate'>[]): { degenerate: number; informative: number } {
  let d = 0;
  let total = 0;
  for (const s of stats) {
    total += s.dim;
    if (s.degenerate) for (let j = 0; j < s.dim; j++) d += s.degenerate[j];
  }
  return { degenerate: d, informative: total - d };
}

function checkChunk(acts: Float32Array, labels: Uint8Array, dim: number, where: string): number {
  if (!Number.isInteger(dim) || dim <= 0) throw new Error(`${where}: dim must be a positive integer (got ${dim}).`);
  if (acts.length % dim !== 0)
    throw new Error(`${where}: activations have ${acts.length} values, not a multiple of dim=${dim}; pass a row-major [rows, ${dim}] array.`);
  const rows = acts.length / dim;
  if (labels.length !== rows)
    throw new Error(`${where}: ${labels.length} labels for ${rows} activation rows; pass one label (1 = mem, 0 = gen) per row.`);
  for (let i = 0; i < rows; i++)
    if (labels[i] > 1)
      throw new Error(`${where}: label ${labels[i]} at row ${i}; labels must be 1 (mem) or 0 (gen). Drop "other" rows before the analysis.`);
  return rows;
}

/**
 * Streams [rows, dim] chunks of one hook and accumulates per-class moments in float64.
 * Shifted sums: every value is taken relative to the first row seen for that neuron (K), so
 * sum((x-K)^2) - n * mean(x-K)^2 does not cancel catastrophically when |mean| >> sd.
 */
export class StreamingStats {
  private readonly shift: Float64Array; // K per neuron (first row seen)
  private readonly s: [Float64Array, Float64Array]; // per class: sum(x - K)
  private readonly ss: [Float64Array, Float64Array]; // per class: sum((x - K)^2)
  private readonly n: [number, number] = [0, 0]; // [gen, mem] row counts
  private started = false;

  constructor(
    readonly hook: string,
    readonly layer: number,
    readonly dim: number,
  ) {
    if (!Number.isInteger(dim) || dim <= 0) throw new Error(`StreamingStats(${hook}): dim must be a positive integer (got ${dim}).`);
    this.shift = new Float64Array(dim);
    this.s = [new Float64Array(dim), new Float64Array(dim)];
    this.ss = [new Float64Array(dim), new Float64Array(dim)];
  }

  get rows(): number {
    return this.n[0] + this.n[1];
  }

  add(acts: Float32Array /* [rows, dim] row-major */, labels: Uint8Array /* 1 = mem, 0 = gen */): void {
    const dim = this.dim;
    const rows = checkChunk(acts, labels, dim, `StreamingStats.add(${this.hook})`);
    if (rows === 0) return;
    if (!this.started) {
      for (let j = 0; j < dim; j++) this.shift[j] = acts[j];
      this.started = true;
    }
    const k = this.shift;
    for (let i = 0; i < rows; i++) {
      const c = labels[i];
      const s = this.s[c];
      const ss = this.ss[c];
      const o = i * dim;
      for (let j = 0; j < dim; j++) {
        const d = acts[o + j] - k[j];
        s[j] += d;
        ss[j] += d * d;
      }
      this.n[c]++;
    }
  }

  finish(opts: { welch?: boolean } = {}): NeuronStats {
    const [n0, n1] = this.n;
    if (n1 === 0 || n0 === 0)
      throw new Error(
        `StreamingStats(${this.hook}): need both mem and gen rows (got ${n1} mem, ${n0} gen). ` +
          'Keep only pairs where one prompt is mem and the other gen.',
      );
    const dim = this.dim;
    const n = n0 + n1;
    const meanMem = new Float32Array(dim);
    const meanGen = new Float32Array(dim);
    const nmd = new Float32Array(dim);
    const r = new Float32Array(dim);
    const degenerate = new Uint8Array(dim);
    const welch = opts.welch === true;
    const t = welch ? new Float32Array(dim) : undefined;
    const p = welch ? new Float64Array(dim) : undefined;
    const [s0, s1] = this.s;
    const [ss0, ss1] = this.ss;
    for (let j = 0; j < dim; j++) {
      const d1 = s1[j] / n1; // mean(x - K) over mem
      const d0 = s0[j] / n0;
      const m2c1 = Math.max(0, ss1[j] - s1[j] * d1); // within-class sums of squared deviations
      const m2c0 = Math.max(0, ss0[j] - s0[j] * d0);
      const delta = d1 - d0;
      if (!Number.isFinite(delta) || !Number.isFinite(m2c1) || !Number.isFinite(m2c0))
        throw new Error(`StreamingStats(${this.hook}): neuron ${j} has NaN or infinite activations; check the recording.`);
      const m2 = m2c1 + m2c0 + (delta * delta * n1 * n0) / n; // total M2 (Chan's merge of the two classes)
      meanMem[j] = this.shift[j] + d1;
      meanGen[j] = this.shift[j] + d0;
      nmd[j] = delta;
      degenerate[j] = isDegenerate(m2, n, this.shift[j] + (s1[j] + s0[j]) / n) ? 1 : 0;
      r[j] = m2 > 0 && !degenerate[j] ? Math.max(-1, Math.min(1, (delta * Math.sqrt(n1 * n0)) / Math.sqrt(n * m2))) : 0;
      if (t && p) {
        const w = welchT(delta, m2c1, n1, m2c0, n0);
        t[j] = w.t;
        p[j] = w.p;
      }
    }
    return { hook: this.hook, layer: this.layer, dim, nMem: n1, nGen: n0, meanMem, meanGen, nmd, r, t, p, degenerate };
  }
}

/**
 * Welch's unequal-variance t test from class moments. m2 = sum of squared deviations within the class.
 * Degenerate cases: both variances zero -> t = 0, p = 1 when the means agree, else t = +-Infinity, p = 0.
 * A class with one row has no variance estimate; it contributes 0 variance (and the df follow from the other).
 */
export function welchT(delta: number, m2a: number, na: number, m2b: number, nb: number): { t: number; df: number; p: number } {
  const va = na > 1 ? m2a / (na - 1) / na : 0; // var / n
  const vb = nb > 1 ? m2b / (nb - 1) / nb : 0;
  const se2 = va + vb;
  if (!(se2 > 0)) {
    if (delta === 0) return { t: 0, df: NaN, p: 1 };
    return { t: delta > 0 ? Infinity : -Infinity, df: NaN, p: 0 };
  }
  const t = delta / Math.sqrt(se2);
  const dfDen = (na > 1 ? (va * va) / (na - 1) : 0) + (nb > 1 ? (vb * vb) / (nb - 1) : 0);
  const df = (se2 * se2) / dfDen; // Welch-Satterthwaite
  return { t, df, p: studentTTwoSidedP(t, df) };
}

/** Plain two-pass float64 NMD and Pearson r, the test oracle for the streaming and GPU paths. */
export function referenceStats(acts: Float32Array, labels: Uint8Array, dim: number): { nmd: Float64Array; r: Float64Array } {
  const rows = checkChunk(acts, labels, dim, 'referenceStats');
  const nmd = new Float64Array(dim);
  const r = new Float64Array(dim);
  let n1 = 0;
  for (let i = 0; i < rows; i++) n1 += labels[i];
  const n0 = rows - n1;
  if (n1 === 0 || n0 === 0) throw new Error(`referenceStats: need both mem and gen rows (got ${n1} mem, ${n0} gen).`);
  const yMean = n1 / rows;
  for (let j = 0; j < dim; j++) {
    let sx = 0;
    let s1 = 0;
    for (let i = 0; i < rows; i++) {
      const x = acts[i * dim + j];
      sx += x;
      if (labels[i] === 1) s1 += x;
    }
    const xMean = sx / rows;
    nmd[j] = s1 / n1 - (sx - s1) / n0;
    // Pearson r by its definition: cov(x, y) / (sd(x) sd(y)).
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let i = 0; i < rows; i++) {
      const dx = acts[i * dim + j] - xMean;
      const dy = labels[i] - yMean;
      sxy += dx * dy;
      sxx += dx * dx;
      syy += dy * dy;
    }
    r[j] = sxx > 0 ? sxy / Math.sqrt(sxx * syy) : 0;
  }
  return { nmd, r };
}

/**
 * The same NMD and r with tfjs ops, on whichever backend is active (webgpu, wasm, cpu).
 * Centers by the column mean first so the float32 sums of squares do not cancel.
 * Memory: about 3 copies of `acts` on the device; split wide hooks into column blocks.
 */
export async function statsTf(acts: tf.Tensor2D, labels: tf.Tensor1D): Promise<{ nmd: Float32Array; r: Float32Array }> {
  if (acts.rank !== 2) throw new Error(`statsTf: activations must be a 2-D [rows, dim] tensor (got rank ${acts.rank}).`);
  const [rows, dim] = acts.shape;
  if (labels.rank !== 1 || labels.shape[0] !== rows)
    throw new Error(`statsTf: labels must be a 1-D tensor of ${rows} values (got shape [${labels.shape}]).`);
  const yv = await labels.data();
  let n1 = 0;
  for (let i = 0; i < rows; i++) {
    if (yv[i] !== 0 && yv[i] !== 1) throw new Error(`statsTf: label ${yv[i]} at row ${i}; labels must be 1 (mem) or 0 (gen).`);
    n1 += yv[i];
  }
  const n0 = rows - n1;
  if (n1 === 0 || n0 === 0) throw new Error(`statsTf: need both mem and gen rows (got ${n1} mem, ${n0} gen).`);
  const [nmdT, rT] = tf.tidy(() => {
    // Column sums as [1 or 2, rows] x [rows, dim] matMuls: a reduction over axis 0 would make tfjs transpose
    // the whole [rows, dim] matrix first (slow on webgpu for 10k x 4k), a matMul reads it in place.
    const x = acts.toFloat(); // (rows, dim)
    const ones = tf.ones([1, rows]); // (1, rows)
    const y = labels.toFloat().reshape([1, rows]); // (1, rows)
    const mean = tf.matMul(ones, x).div(rows); // (1, dim)
    const xc = x.sub(mean); // (rows, dim) centered, so float32 sums of squares do not cancel
    const sums = tf.matMul(tf.concat([ones, y], 0), xc); // (2, dim): [sum over all, sum over mem] of centered x
    const [sAll, sMem] = tf.unstack(sums); // (dim), (dim); sAll ~ 0, kept for exactness
    const nmd = sMem.div(n1).sub(sAll.sub(sMem).div(n0)); // (dim)
    const m2 = tf.matMul(ones, xc.square()).reshape([dim]); // (dim) total sum of squared deviations
    const scale = Math.sqrt(n1 * n0) / Math.sqrt(rows);
    const r = tf.where(m2.greater(0), nmd.mul(scale).div(m2.sqrt()), tf.zerosLike(m2)).clipByValue(-1, 1); // (dim)
    return [nmd, r];
  });
  try {
    const [nmd, r] = await Promise.all([nmdT.data(), rT.data()]);
    return { nmd: nmd as Float32Array, r: r as Float32Array };
  } finally {
    nmdT.dispose();
    rT.dispose();
  }
}

export interface RankedNeuron {
  hook: string;
  layer: number;
  index: number;
  r: number;
  nmd: number;
  /** 1 = largest |r| over all positions. */
  rank: number;
  q?: number;
}

/**
 * The top `topFraction` (e.g. 0.05, 0.10) of all informative (hook, neuron) positions by |r|, best first.
 * k = round(topFraction * informative positions), at least 1; degenerate (constant) positions are never picked
 * and do not count in the denominator. Ties keep input order (hook order, then index).
 */
export function rankNeurons(stats: NeuronStats[], topFraction: number): RankedNeuron[] {
  if (!(topFraction > 0 && topFraction <= 1)) throw new Error(`rankNeurons: topFraction must be in (0, 1] (got ${topFraction}); e.g. 0.05 for the top 5%.`);
  if (stats.length === 0) throw new Error('rankNeurons: no statistics given; run the analysis on at least one hook first.');
  let total = 0;
  for (const s of stats) total += s.dim;
  const { informative } = degenerateCount(stats);
  if (informative === 0) throw new Error('rankNeurons: every position is constant over the recorded rows (degenerate), so none can tell mem from gen; record other hooks or more varied prompts.');
  const k = Math.max(1, Math.round(topFraction * informative));
  // Threshold = k-th largest |r|, found by a numeric typed-array sort (fast; no comparator). Degenerate
  // positions get -1, below every real |r|, so they are never picked.
  const abs = new Float32Array(total);
  let o = 0;
  for (const s of stats) {
    for (let j = 0; j < s.dim; j++) abs[o + j] = s.degenerate?.[j] ? -1 : Math.abs(s.r[j]);
    o += s.dim;
  }
  const sorted = abs.slice().sort();
  const thr = sorted[total - k];
  let above = 0;
  for (let i = total - k + 1; i < total; i++) if (sorted[i] > thr) above++;
  let tiesLeft = k - above; // how many positions equal to thr to take, first in input order
  const picked: { s: NeuronStats; j: number; a: number; pos: number }[] = [];
  o = 0;
  for (const s of stats) {
    for (let j = 0; j < s.dim; j++) {
      const a = abs[o + j];
      if (a > thr) picked.push({ s, j, a, pos: o + j });
      else if (a === thr && tiesLeft > 0) {
        picked.push({ s, j, a, pos: o + j });
        tiesLeft--;
      }
    }
    o += s.dim;
  }
  picked.sort((x, y) => y.a - x.a || x.pos - y.pos);
  return picked.map(({ s, j }, i) => {
    const n: RankedNeuron = { hook: s.hook, layer: s.layer, index: j, r: s.r[j], nmd: s.nmd[j], rank: i + 1 };
    if (s.q) n.q = s.q[j];
    return n;
  });
}

/** How the selected neurons spread over layers: count per layer and its share of all selected. */
export function layerDistribution(top: RankedNeuron[], layers: number[]): { layer: number; count: number; fraction: number }[] {
  const counts = new Map<number, number>(layers.map((l) => [l, 0]));
  for (const n of top) {
    const c = counts.get(n.layer);
    if (c === undefined) throw new Error(`layerDistribution: neuron ${n.hook}[${n.index}] is on layer ${n.layer}, which is not in the layer list [${layers.join(', ')}].`);
    counts.set(n.layer, c + 1);
  }
  return layers.map((layer) => {
    const count = counts.get(layer) ?? 0;
    return { layer, count, fraction: top.length ? count / top.length : 0 };
  });
}

/** Benjamini-Hochberg adjusted p-values (q), in the input order. */
export function benjaminiHochberg(p: Float64Array): Float64Array {
  const m = p.length;
  for (let i = 0; i < m; i++)
    if (!(p[i] >= 0 && p[i] <= 1)) throw new Error(`benjaminiHochberg: p[${i}] = ${p[i]} is not a probability in [0, 1].`);
  const order = new Uint32Array(m);
  for (let i = 0; i < m; i++) order[i] = i;
  order.sort((a, b) => p[a] - p[b]);
  const q = new Float64Array(m);
  let running = 1; // q_(i) = min over j >= i of p_(j) * m / j
  for (let i = m - 1; i >= 0; i--) {
    const v = (p[order[i]] * m) / (i + 1);
    if (v < running) running = v;
    q[order[i]] = running;
  }
  return q;
}

/** Sets `q` on every stats object, with BH over all positions of all hooks together (needs finish({ welch: true })). */
export function adjustAcross(stats: NeuronStats[]): void {
  let total = 0;
  for (const s of stats) {
    if (!s.p) throw new Error(`adjustAcross: ${s.hook} has no p-values; call finish({ welch: true }).`);
    total += s.dim;
  }
  const all = new Float64Array(total);
  let o = 0;
  for (const s of stats) {
    all.set(s.p!, o);
    o += s.dim;
  }
  const q = benjaminiHochberg(all);
  o = 0;
  for (const s of stats) {
    s.q = q.slice(o, o + s.dim);
    o += s.dim;
  }
}
