// Intervals for the shares the lab reports (steering tables, charts, reports):
//   - Wilson 95% score interval for one share k / n (Wilson 1927; Newcombe 1998, method 3);
//   - a bootstrap interval for targeted minus control, resampling prompts and control seeds together (the
//     targeted and control decodes are of the SAME prompts, so the prompts are resampled as pairs);
//   - the claim rule: a difference "holds" only where its interval excludes 0, else it is "not shown".
// All shares are in percent (0..100) here, as the tables print them; intervals never leave [0, 100].
import { mulberry32 } from '../util/rng';

/** z for a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

/** [lo, hi] in percent. */
export type Interval = [number, number];

/** Wilson score interval of k successes in n trials, in percent (n = 0 gives [0, 100]: nothing is known). */
export function wilson(k: number, n: number, z = Z95): Interval {
  if (!Number.isInteger(n) || n < 0) throw new Error(`wilson: n must be a whole number >= 0 (got ${n}).`);
  if (!(k >= 0 && k <= n)) throw new Error(`wilson: k must be in 0..n (got k=${k}, n=${n}).`);
  if (n === 0) return [0, 100];
  const p = k / n;
  const z2 = z * z;
  const den = 1 + z2 / n;
  const mid = (p + z2 / (2 * n)) / den;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / den;
  // k = 0 and k = n: the bound is exactly 0 (100); the formula gives it up to rounding
  return [k === 0 ? 0 : clampPct(100 * (mid - half)), k === n ? 100 : clampPct(100 * (mid + half))];
}

export function clampPct(v: number): number {
  return Math.min(100, Math.max(0, v));
}

/** A share with its 95% interval, percent. */
export interface ShareCi {
  value: number;
  lo: number;
  hi: number;
}

/** Wilson interval of a share given as a percent of n prompts. */
export function wilsonPct(pct: number, n: number): Interval {
  return wilson(Math.round((pct * n) / 100), n);
}

export interface DiffInterval {
  /** targeted share minus control share (mean over seeds), percent points. */
  estimate: number;
  lo: number;
  hi: number;
  /** The control share alone (mean over seeds, percent) and its bootstrap interval. */
  control: ShareCi;
}

/**
 * Bootstrap 95% percentile interval of (targeted share - control share) in percent points.
 * `targeted[i]` = 1 when prompt i reached the goal with the targeted set; `control[s][i]` the same for control
 * seed s (every seed decodes the same prompts). Each replicate draws n prompts with replacement (the same draw
 * for targeted and control: paired) and S seeds with replacement, so both the prompt sample and the control's
 * seed-to-seed spread widen the interval. With one seed (a deterministic control) only prompts are resampled.
 */
export function bootstrapDiff(targeted: ArrayLike<number>, control: ArrayLike<number>[], o: { reps?: number; seed?: number } = {}): DiffInterval {
  const n = targeted.length;
  const S = control.length;
  const reps = o.reps ?? 2000;
  if (n === 0) throw new Error('bootstrapDiff: no prompts; a difference needs at least one prompt.');
  if (S === 0) throw new Error('bootstrapDiff: no control runs; give at least one control seed.');
  for (const c of control) if (c.length !== n) throw new Error(`bootstrapDiff: a control run has ${c.length} prompts, the targeted run ${n}; every run must decode the same prompts.`);
  const rand = mulberry32(o.seed ?? 12345);
  let t0 = 0;
  let c0 = 0;
  for (let i = 0; i < n; i++) t0 += targeted[i];
  for (const c of control) for (let i = 0; i < n; i++) c0 += c[i];
  const tHat = (100 * t0) / n;
  const cHat = (100 * c0) / (n * S);
  const diffs = new Float64Array(reps);
  const ctrls = new Float64Array(reps);
  const m = new Float64Array(n); // how often each prompt is drawn
  const w = new Float64Array(S); // how often each seed is drawn
  for (let r = 0; r < reps; r++) {
    m.fill(0);
    w.fill(0);
    for (let i = 0; i < n; i++) m[Math.floor(rand() * n)] += 1;
    if (S > 1) for (let s = 0; s < S; s++) w[Math.floor(rand() * S)] += 1;
    else w[0] = 1;
    let t = 0;
    for (let i = 0; i < n; i++) t += m[i] * targeted[i];
    let c = 0;
    for (let s = 0; s < S; s++) {
      if (!w[s]) continue;
      const cs = control[s];
      let acc = 0;
      for (let i = 0; i < n; i++) acc += m[i] * cs[i];
      c += w[s] * acc;
    }
    const tp = (100 * t) / n;
    const cp = (100 * c) / (n * S);
    diffs[r] = tp - cp;
    ctrls[r] = cp;
  }
  diffs.sort();
  ctrls.sort();
  return {
    estimate: tHat - cHat,
    lo: quantile(diffs, 0.025),
    hi: quantile(diffs, 0.975),
    control: { value: cHat, lo: clampPct(quantile(ctrls, 0.025)), hi: clampPct(quantile(ctrls, 0.975)) },
  };
}

/** Quantile of sorted values (linear interpolation between order statistics, type 7). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (!n) return NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

export type Verdict = 'holds' | 'not shown';

/** A claim "targeted beats the control" holds only where the difference's interval lies above 0. */
export function verdict(d: { lo: number; hi: number }): Verdict {
  return d.lo > 0 ? 'holds' : 'not shown';
}
