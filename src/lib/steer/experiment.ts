// Steering experiments: the "Mem -> Gen" and "Gen -> Mem" tables over alpha x top fraction, each beside three
// controls (paper, matched, direction; the random ones repeated over seeds) with 95% intervals on every share and
// on the targeted-minus-control difference; and consistency (overlap, rank correlation, cross-steering).
import type { HookedModel } from '../models/types';
import type { EvalItem, Label, Task } from '../tasks/types';
import { decodeAndLabel, type DecodeMode } from '../train/evaluate';
import type { RankedNeuron } from '../neurons/stats';
import { CONTROL_KINDS, controlShifts, randomControl, steeringHooks, targetedShifts, type ControlHook, type ControlKind, type Direction, type NeuronShift } from './steer';
import { bootstrapDiff, verdict, wilson, type DiffInterval, type Interval, type Verdict } from '../neurons/intervals';

export interface Shares {
  gen: number;
  mem: number;
  other: number;
}

export type ShareIntervals = Record<keyof Shares, Interval>;

/** One control of one cell: its shares over seeds, and the targeted set's margin over it with a 95% interval. */
export interface ControlCell {
  kind: ControlKind;
  /** Control runs (seeds); the direction control is deterministic and runs once. */
  seeds: number;
  /** Mean and standard deviation over seeds of the percentages. */
  mean: Shares;
  sd: Shares;
  /** 95% bootstrap interval of the mean (prompts and seeds resampled), percent. */
  ci: ShareIntervals;
  /**
   * Targeted minus control, percent points, with a 95% bootstrap interval (prompts and seeds resampled):
   * on the goal share (gen for Mem -> Gen, mem for Gen -> Mem) and on "other" (broken outputs).
   */
  diff: { goal: { estimate: number; lo: number; hi: number }; other: { estimate: number; lo: number; hi: number } };
  /** "holds" only where the goal difference's interval lies above 0. */
  verdict: Verdict;
}

export interface SteerCell {
  table: 'memToGen' | 'genToMem';
  alpha: number;
  topFraction: number;
  neurons: number;
  prompts: number;
  /** How the prompts were decoded (greedy or beam). */
  decode?: DecodeMode;
  /** Percentages after steering with the found neurons. */
  targeted: Shares;
  /** Wilson 95% intervals of the targeted percentages. */
  targetedCi?: ShareIntervals;
  /** The first control (paper's by default): mean and standard deviation of the percentages over seeds. */
  control: Shares;
  controlSd: Shares;
  controlSeeds: number;
  /** Every control run, each beside the targeted set with the interval of the difference. */
  controls?: ControlCell[];
}

export interface SteerSweepOptions {
  alphas: number[];
  topFractions: number[];
  /** Seeds per random control (paper, matched); default 10. */
  controlSeeds: number;
  /** Which controls (default all three). */
  controls?: ControlKind[];
  decode: DecodeMode;
  padId?: number;
  /** Bootstrap replicates for the intervals (default 2000). */
  bootstrapReps?: number;
}

const KEYS: (keyof Shares)[] = ['gen', 'mem', 'other'];

function pct(labels: Label[]): Shares {
  const n = Math.max(1, labels.length);
  const c = { gen: 0, mem: 0, other: 0 };
  for (const l of labels) c[l] += 1;
  return { gen: (100 * c.gen) / n, mem: (100 * c.mem) / n, other: (100 * c.other) / n };
}

function meanSd(xs: Shares[]): { mean: Shares; sd: Shares } {
  const mean = { gen: 0, mem: 0, other: 0 };
  const sd = { gen: 0, mem: 0, other: 0 };
  for (const k of KEYS) {
    mean[k] = xs.reduce((a, x) => a + x[k], 0) / Math.max(1, xs.length);
    sd[k] = xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x[k] - mean[k]) ** 2, 0) / (xs.length - 1)) : 0;
  }
  return { mean, sd };
}

function wilsonShares(labels: Label[]): ShareIntervals {
  const n = labels.length;
  const c = { gen: 0, mem: 0, other: 0 };
  for (const l of labels) c[l] += 1;
  return { gen: wilson(c.gen, n), mem: wilson(c.mem, n), other: wilson(c.other, n) };
}

/** The targeted labels against one control's labels per seed: shares, intervals, the difference and the verdict. */
export function compareControl(kind: ControlKind, goal: 'gen' | 'mem', targeted: Label[], runs: Label[][], reps = 2000): ControlCell {
  const ind = (ls: Label[], k: Label) => Uint8Array.from(ls, (l) => (l === k ? 1 : 0));
  const { mean, sd } = meanSd(runs.map(pct));
  const ci = {} as ShareIntervals;
  let goalDiff!: DiffInterval;
  let otherDiff!: DiffInterval;
  for (const k of KEYS) {
    const d = bootstrapDiff(ind(targeted, k), runs.map((r) => ind(r, k)), { reps, seed: 7 });
    ci[k] = [d.control.lo, d.control.hi];
    if (k === goal) goalDiff = d;
    if (k === 'other') otherDiff = d;
  }
  const pick = (d: DiffInterval) => ({ estimate: d.estimate, lo: d.lo, hi: d.hi });
  return { kind, seeds: runs.length, mean, sd, ci, diff: { goal: pick(goalDiff), other: pick(otherDiff) }, verdict: verdict(goalDiff) };
}

export async function decodeWithShifts(model: HookedModel, task: Task, items: EvalItem[], shifts: NeuronShift[], alpha: number, dims: Record<string, number>, decode: DecodeMode, padId?: number) {
  return decodeAndLabel(model, task, items, { decode, hooks: steeringHooks(shifts, alpha, dims), padId });
}

/**
 * Runs the sweep. `memItems` were labeled mem without steering (steered toward gen), `genItems` gen (toward mem).
 * `rank(f)` gives the top fraction f of the ranking; `hooks` lists every neuron location (for the controls; the
 * matched and direction controls need each hook's NMD and constant positions).
 */
export async function steeringSweep(
  model: HookedModel,
  task: Task,
  memItems: EvalItem[],
  genItems: EvalItem[],
  rank: (fraction: number) => RankedNeuron[],
  hooks: ControlHook[],
  o: SteerSweepOptions,
  progress?: (done: number, total: number) => Promise<void> | void,
): Promise<SteerCell[]> {
  const dims = Object.fromEntries(hooks.map((h) => [h.name, h.dim]));
  const kinds = o.controls ?? [...CONTROL_KINDS];
  if (!kinds.length) throw new Error('steeringSweep: name at least one control (paper, matched, direction); a steering figure without a control shows nothing.');
  if (!(Number.isInteger(o.controlSeeds) && o.controlSeeds >= 1)) throw new Error(`steeringSweep: controlSeeds must be a whole number >= 1 (got ${o.controlSeeds}).`);
  const runsOf = (k: ControlKind) => (k === 'direction' ? 1 : o.controlSeeds);
  const cells: SteerCell[] = [];
  const plan: Array<[SteerCell['table'], EvalItem[], Direction]> = [
    ['memToGen', memItems, 'toGen'],
    ['genToMem', genItems, 'toMem'],
  ];
  const perCell = 1 + kinds.reduce((a, k) => a + runsOf(k), 0);
  const total = plan.filter(([, it]) => it.length).length * o.alphas.length * o.topFractions.length * perCell;
  let done = 0;
  for (const [table, items, dir] of plan) {
    if (!items.length) continue;
    const goal = table === 'memToGen' ? 'gen' : 'mem';
    for (const f of o.topFractions) {
      const top = rank(f);
      for (const alpha of o.alphas) {
        const t = (await decodeWithShifts(model, task, items, targetedShifts(top, dir), alpha, dims, o.decode, o.padId)).outputs.map((x) => x.label);
        await progress?.(++done, total);
        const controls: ControlCell[] = [];
        for (const kind of kinds) {
          const runs: Label[][] = [];
          for (let s = 0; s < runsOf(kind); s++) {
            const c = await decodeWithShifts(model, task, items, controlShifts(kind, top, hooks, dir, 1000 + s), alpha, dims, o.decode, o.padId);
            runs.push(c.outputs.map((x) => x.label));
            await progress?.(++done, total);
          }
          controls.push(compareControl(kind, goal, t, runs, o.bootstrapReps));
        }
        const first = controls[0];
        cells.push({
          table, alpha, topFraction: f, neurons: top.length, prompts: items.length, decode: o.decode,
          targeted: pct(t), targetedCi: wilsonShares(t),
          control: first.mean, controlSd: first.sd, controlSeeds: first.seeds, controls,
        });
      }
    }
  }
  return cells;
}

/**
 * Cross-steering: do neurons found by analysis B steer the prompts as well as A's own neurons? Each table is
 * decoded three ways at one alpha and top fraction: A's top set, B's top set, and A's random control.
 */
export async function crossSteering(
  model: HookedModel,
  task: Task,
  memItems: EvalItem[],
  genItems: EvalItem[],
  topA: RankedNeuron[],
  topB: RankedNeuron[],
  hooks: { name: string; dim: number }[],
  o: { alpha: number; topFraction: number; controlSeeds: number; decode: DecodeMode; padId?: number },
  progress?: (done: number, total: number) => Promise<void> | void,
): Promise<CrossSteer[]> {
  const dims = Object.fromEntries(hooks.map((h) => [h.name, h.dim]));
  const plan: Array<[SteerCell['table'], EvalItem[], Direction]> = [['memToGen', memItems, 'toGen'], ['genToMem', genItems, 'toMem']];
  const total = plan.filter(([, it]) => it.length).length * (2 + o.controlSeeds);
  let done = 0;
  const out: CrossSteer[] = [];
  const run = async (items: EvalItem[], shifts: NeuronShift[]) => {
    const r = await decodeWithShifts(model, task, items, shifts, o.alpha, dims, o.decode, o.padId);
    await progress?.(++done, total);
    return pct(r.outputs.map((x) => x.label));
  };
  for (const [table, items, dir] of plan) {
    if (!items.length) continue;
    const own = await run(items, targetedShifts(topA, dir));
    const cross = await run(items, targetedShifts(topB, dir));
    const ctrl: Shares[] = [];
    for (let s = 0; s < o.controlSeeds; s++) ctrl.push(await run(items, randomControl(topA, hooks, 1000 + s)));
    out.push({ table, alpha: o.alpha, topFraction: o.topFraction, prompts: items.length, decode: o.decode, own, cross, control: meanSd(ctrl).mean });
  }
  return out;
}

// ---- consistency ---------------------------------------------------------------------------------

const key = (n: { hook: string; index: number }) => `${n.hook}#${n.index}`;

export function jaccard(a: { hook: string; index: number }[], b: { hook: string; index: number }[]): number {
  const A = new Set(a.map(key));
  const B = new Set(b.map(key));
  let inter = 0;
  for (const k of A) if (B.has(k)) inter++;
  const uni = A.size + B.size - inter;
  return uni ? inter / uni : 0;
}

/** Expected Jaccard of two independent random k-subsets of N positions (the random-set baseline). */
export function randomJaccard(k: number, N: number): number {
  if (N === 0) return 0;
  const inter = (k * k) / N; // expected overlap
  return inter / (2 * k - inter);
}

/** Spearman rank correlation of two equal-length vectors (average ranks for ties). */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const rx = ranks(x), ry = ranks(y);
  const n = rx.length;
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) { mx += rx[i]; my += ry[i]; }
  mx /= n; my /= n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) { const a = rx[i] - mx, b = ry[i] - my; sxy += a * b; sxx += a * a; syy += b * b; }
  return sxx && syy ? sxy / Math.sqrt(sxx * syy) : 0;
}

function ranks(v: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[a] - v[b]);
  const r = new Float64Array(v.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && v[idx[j + 1]] === v[idx[i]]) j++;
    for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

export interface CrossSteer {
  table: SteerCell['table'];
  alpha: number;
  topFraction: number;
  prompts: number;
  /** How the prompts were decoded. */
  decode?: DecodeMode;
  /** Steered with the neurons of the analysis being tested (A). */
  own: Shares;
  /** Steered with the neurons found by the other analysis (B): another seed, split or task. */
  cross: Shares;
  /** The random control of the same count and range, mean over seeds. */
  control: Shares;
}

export interface Consistency {
  topFraction: number;
  jaccard: number;
  randomJaccard: number;
  spearmanAbsR: number;
  positions: number;
  crossSteer?: CrossSteer[];
}

/** Overlap of the top sets and rank agreement of |r| between two analyses of the same neuron positions. */
export function consistency(
  a: { top: RankedNeuron[]; absR: Float32Array },
  b: { top: RankedNeuron[]; absR: Float32Array },
  topFraction: number,
): Consistency {
  if (a.absR.length !== b.absR.length) throw new Error('The two analyses cover different neuron positions (different models or hooks): consistency needs the same positions.');
  return {
    topFraction,
    jaccard: jaccard(a.top, b.top),
    randomJaccard: randomJaccard(a.top.length, a.absR.length),
    spearmanAbsR: spearman(a.absR, b.absR),
    positions: a.absR.length,
  };
}
