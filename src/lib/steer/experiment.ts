// Steering experiments: the "Mem -> Gen" and "Gen -> Mem" tables over alpha x top fraction, each beside the
// random control repeated over seeds; and consistency (overlap, rank correlation, cross-steering).
import type { HookedModel } from '../models/types';
import type { EvalItem, Label, Task } from '../tasks/types';
import { decodeAndLabel, type DecodeMode } from '../train/evaluate';
import type { RankedNeuron } from '../neurons/stats';
import { randomControl, steeringHooks, targetedShifts, type Direction, type NeuronShift } from './steer';

export interface Shares {
  gen: number;
  mem: number;
  other: number;
}

export interface SteerCell {
  table: 'memToGen' | 'genToMem';
  alpha: number;
  topFraction: number;
  neurons: number;
  prompts: number;
  /** Percentages after steering with the found neurons. */
  targeted: Shares;
  /** Random control: mean and standard deviation of the percentages over seeds. */
  control: Shares;
  controlSd: Shares;
  controlSeeds: number;
}

export interface SteerSweepOptions {
  alphas: number[];
  topFractions: number[];
  controlSeeds: number;
  decode: DecodeMode;
  padId?: number;
}

function pct(labels: Label[]): Shares {
  const n = Math.max(1, labels.length);
  const c = { gen: 0, mem: 0, other: 0 };
  for (const l of labels) c[l] += 1;
  return { gen: (100 * c.gen) / n, mem: (100 * c.mem) / n, other: (100 * c.other) / n };
}

function meanSd(xs: Shares[]): { mean: Shares; sd: Shares } {
  const keys: (keyof Shares)[] = ['gen', 'mem', 'other'];
  const mean = { gen: 0, mem: 0, other: 0 };
  const sd = { gen: 0, mem: 0, other: 0 };
  for (const k of keys) {
    mean[k] = xs.reduce((a, x) => a + x[k], 0) / Math.max(1, xs.length);
    sd[k] = Math.sqrt(xs.reduce((a, x) => a + (x[k] - mean[k]) ** 2, 0) / Math.max(1, xs.length - 1));
  }
  return { mean, sd };
}

export async function decodeWithShifts(model: HookedModel, task: Task, items: EvalItem[], shifts: NeuronShift[], alpha: number, dims: Record<string, number>, decode: DecodeMode, padId?: number) {
  return decodeAndLabel(model, task, items, { decode, hooks: steeringHooks(shifts, alpha, dims), padId });
}

/**
 * Runs the sweep. `memItems` were labeled mem without steering (steered toward gen), `genItems` gen (toward mem).
 * `rank(f)` gives the top fraction f of the ranking; `hooks` lists every neuron location (for the control).
 */
export async function steeringSweep(
  model: HookedModel,
  task: Task,
  memItems: EvalItem[],
  genItems: EvalItem[],
  rank: (fraction: number) => RankedNeuron[],
  hooks: { name: string; dim: number }[],
  o: SteerSweepOptions,
  progress?: (done: number, total: number) => Promise<void> | void,
): Promise<SteerCell[]> {
  const dims = Object.fromEntries(hooks.map((h) => [h.name, h.dim]));
  const cells: SteerCell[] = [];
  const plan: Array<[SteerCell['table'], EvalItem[], Direction]> = [
    ['memToGen', memItems, 'toGen'],
    ['genToMem', genItems, 'toMem'],
  ];
  const total = plan.filter(([, it]) => it.length).length * o.alphas.length * o.topFractions.length * (1 + o.controlSeeds);
  let done = 0;
  for (const [table, items, dir] of plan) {
    if (!items.length) continue;
    for (const f of o.topFractions) {
      const top = rank(f);
      for (const alpha of o.alphas) {
        const t = await decodeWithShifts(model, task, items, targetedShifts(top, dir), alpha, dims, o.decode, o.padId);
        await progress?.(++done, total);
        const ctrl: Shares[] = [];
        for (let s = 0; s < o.controlSeeds; s++) {
          const c = await decodeWithShifts(model, task, items, randomControl(top, hooks, 1000 + s), alpha, dims, o.decode, o.padId);
          ctrl.push(pct(c.outputs.map((x) => x.label)));
          await progress?.(++done, total);
        }
        const { mean, sd } = meanSd(ctrl);
        cells.push({
          table, alpha, topFraction: f, neurons: top.length, prompts: items.length,
          targeted: pct(t.outputs.map((x) => x.label)), control: mean, controlSd: sd, controlSeeds: o.controlSeeds,
        });
      }
    }
  }
  return cells;
}

export function sweepToCsv(cells: SteerCell[]): string {
  const head = 'table,alpha,top_fraction,neurons,prompts,targeted_gen,targeted_mem,targeted_other,control_gen,control_mem,control_other,control_gen_sd,control_mem_sd,control_other_sd,control_seeds';
  const f = (x: number) => x.toFixed(2);
  return [head, ...cells.map((c) => [c.table, c.alpha, c.topFraction, c.neurons, c.prompts, f(c.targeted.gen), f(c.targeted.mem), f(c.targeted.other), f(c.control.gen), f(c.control.mem), f(c.control.other), f(c.controlSd.gen), f(c.controlSd.mem), f(c.controlSd.other), c.controlSeeds].join(','))].join('\n');
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
    out.push({ table, alpha: o.alpha, topFraction: o.topFraction, prompts: items.length, own, cross, control: meanSd(ctrl).mean });
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
