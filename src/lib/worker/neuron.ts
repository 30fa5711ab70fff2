// One neuron of an analysis, for its own page (as Neuronpedia shows a feature): its statistics and rank, the
// recorded activations on mem vs gen prompts with the prompts that activate it most and least, and what
// steering it alone does beside the matched control (a random informative neuron of the same hook given the
// same shift). Worker-side only: pages reach these through AnalysisService (lab.analysis.neuronProfile(...)).
// (The first part is pure over an analysis and a store; the session's side is at the end.)
import type { HookedModel } from '../models/types';
import type { EvalItem, Label, Task } from '../tasks/types';
import { defaultHooks, findFlipPairs, lastTokenActivations, type NeuronAnalysis } from '../neurons/pipeline';
import type { RankedNeuron } from '../neurons/stats';
import { ActivationStore } from '../store/activations';
import { decodeAndLabel, type DecodeMode } from '../train/evaluate';
import type { SessionHost } from './session';
import type { Progress } from './jobs';
import { hookList, steerItems } from './steering';
import { PIPELINE_DEFAULTS as D } from './defaults';
import { steeringSweep, type SteerCell } from '../steer/experiment';
import type { ControlHook } from '../steer/steer';

export interface NeuronPrompt {
  prompt: string;
  label: Extract<Label, 'mem' | 'gen'>;
  value: number;
}

export interface NeuronProfile {
  hook: string;
  layer: number;
  index: number;
  /** Width of the hook (neurons at this location). */
  dim: number;
  r: number;
  nmd: number;
  /** Welch q-value after Benjamini-Hochberg (when the analysis computed it). */
  q?: number;
  /** Rank by |r| among all informative positions (1 = strongest); null for a constant position. */
  rank: number | null;
  /** Informative (non-constant) positions over all hooks. */
  positions: number;
  /** Whether the neuron is constant over the recorded rows (left out of ranking and probes). */
  constant: boolean;
  meanMem: number;
  meanGen: number;
  mem: Float32Array;
  gen: Float32Array;
  /** The recorded prompts that activate it most and least, highest (resp. lowest) first. */
  most: NeuronPrompt[];
  least: NeuronPrompt[];
}

/** Where a neuron is in an analysis; a clear error names the valid range. */
export function locateNeuron(a: NeuronAnalysis, hook: string, index: number): number {
  const h = a.hooks.findIndex((x) => x.name === hook);
  if (h < 0) throw new Error(`The analysis has no hook "${hook}"; its hooks are ${a.hooks.map((x) => x.name).join(', ')}.`);
  if (!(Number.isInteger(index) && index >= 0 && index < a.hooks[h].dim)) throw new Error(`Neuron ${index} is not in ${hook}: it has neurons 0 to ${a.hooks[h].dim - 1}.`);
  return h;
}

/** The neuron as a one-neuron "top set" for steering (its rank among informative positions, or null). */
export function asRanked(a: NeuronAnalysis, hook: string, index: number): RankedNeuron & { rankOrNull: number | null; positions: number } {
  const h = locateNeuron(a, hook, index);
  const s = a.stats[h];
  const mine = Math.abs(s.r[index]);
  let above = 0, positions = 0;
  for (const t of a.stats) {
    for (let j = 0; j < t.r.length; j++) {
      if (t.degenerate?.[j]) continue;
      positions++;
      if (Math.abs(t.r[j]) > mine) above++;
    }
  }
  const constant = !!s.degenerate?.[index];
  return { hook, layer: s.layer, index, r: s.r[index], nmd: s.nmd[index], rank: constant ? 0 : above + 1, rankOrNull: constant ? null : above + 1, positions, ...(s.q ? { q: s.q[index] } : {}) };
}

/**
 * Statistics, activations and extreme prompts of one neuron. `prompts` maps the store's prompt ids to their
 * text (the session's kept pairs); ids without text are shown as ids.
 */
export async function neuronProfile(a: NeuronAnalysis, store: ActivationStore, prompts: Map<string, string>, hook: string, index: number, k = 8): Promise<NeuronProfile> {
  const h = locateNeuron(a, hook, index);
  const s = a.stats[h];
  const n = asRanked(a, hook, index);
  const rows: NeuronPrompt[] = [];
  for await (const c of store.iterate(hook)) {
    for (let r = 0; r < c.rows; r++) {
      const id = c.promptIds[r];
      rows.push({ prompt: prompts.get(id) ?? id, label: c.labels[r] ? 'mem' : 'gen', value: c.data[r * c.dim + index] });
    }
  }
  const sorted = rows.slice().sort((x, y) => y.value - x.value);
  return {
    hook, layer: s.layer, index, dim: a.hooks[h].dim, r: n.r, nmd: n.nmd, ...(n.q === undefined ? {} : { q: n.q }),
    rank: n.rankOrNull, positions: n.positions, constant: n.rankOrNull === null,
    meanMem: s.meanMem[index], meanGen: s.meanGen[index],
    mem: Float32Array.from(rows.filter((x) => x.label === 'mem'), (x) => x.value),
    gen: Float32Array.from(rows.filter((x) => x.label === 'gen'), (x) => x.value),
    most: sorted.slice(0, k),
    least: sorted.slice(-k).reverse(),
  };
}

export interface NeuronSteerOptions {
  alphas: number[];
  /** Seeds of the matched control (each a random informative neuron of the same hook, same shift). */
  controlSeeds: number;
  decode: DecodeMode;
  padId?: number;
}

/**
 * Steering this neuron alone: Mem -> Gen (its -NMD added to prompts answered from memory) and Gen -> Mem (+NMD
 * on prompts answered by the rule), at each alpha, beside the matched control with 95% intervals.
 */
export async function steerOneNeuron(
  model: HookedModel, task: Task, memItems: EvalItem[], genItems: EvalItem[], neuron: RankedNeuron, hooks: ControlHook[],
  o: NeuronSteerOptions, progress?: (done: number, total: number) => Promise<void> | void,
): Promise<SteerCell[]> {
  if (!o.alphas.length || o.alphas.some((x) => !Number.isFinite(x))) throw new Error('Give at least one α (a number), e.g. 1, 5, 20.');
  const positions = hooks.reduce((acc, h) => acc + h.dim, 0);
  return steeringSweep(model, task, memItems, genItems, () => [neuron], hooks, {
    alphas: o.alphas, topFractions: [1 / positions], controlSeeds: o.controlSeeds, controls: ['matched'], decode: o.decode, padId: o.padId,
  }, progress);
}

// ---- the session's side (lab.analysis.neuronProfile / steerNeuron / firstPromptLabeled / measurePipeline) ----

/** One neuron of the session's analysis, with the prompt texts of its kept pairs. */
export async function sessionNeuronProfile(h: SessionHost, hook: string, index: number, k = 8): Promise<NeuronProfile> {
  const s = h.need();
  if (!s.analysis || !s.storeId) throw new Error('No analysis yet: find the neurons first (Neurons page, three steps).');
  const text = new Map<string, string>();
  for (const p of s.kept ?? []) { text.set(p.mem.id, p.mem.prompt); text.set(p.gen.id, p.gen.prompt); }
  return neuronProfile(s.analysis, await ActivationStore.open(s.storeId), text, hook, index, k);
}

/** Steering one neuron of the session's analysis on the session's fresh prompts (the pool the sweep uses). */
export async function sessionSteerNeuron(h: SessionHost, o: { hook: string; index: number; alphas?: number[]; perDirection?: number; controlSeeds?: number; decode?: DecodeMode }, onProgress?: (p: Progress) => void): Promise<SteerCell[]> {
  const s = h.need();
  const hooks = hookList(s);
  const decode = o.decode ?? D.steer.decode;
  const { memItems, genItems } = await steerItems(h, s, o.perDirection ?? 40, decode, {}, onProgress);
  return h.job('decodes', onProgress, (t) =>
    steerOneNeuron(s.model, s.task, memItems, genItems, asRanked(s.analysis!, o.hook, o.index), hooks,
      { alphas: o.alphas ?? [1, 5, 20], controlSeeds: o.controlSeeds ?? 5, decode, padId: s.padId },
      async (d, total) => { t.report('steering one neuron', d, total); await t.checkpoint(); }),
  );
}

/**
 * Steer's first try: the first validation prompt the model answers `label`-wise without steering (decoded in
 * rounds of 32, at most `limit`), so steering it the other way can show a change. Null when none is.
 */
export async function firstPromptLabeled(h: SessionHost, label: Label, decode: DecodeMode = D.steer.decode, limit = 256): Promise<number | null> {
  const s = h.need();
  if (s.baseline?.decode === decode) {
    const i = s.baseline.labels.findIndex((l, k) => l === label && k < limit);
    return i >= 0 ? i : null;
  }
  const items = s.task.evalSet(1).slice(0, limit);
  for (let at = 0; at < items.length; at += 32) {
    const r = await decodeAndLabel(s.model, s.task, items.slice(at, at + 32), { decode, padId: s.padId });
    const i = r.outputs.findIndex((x) => x.label === label);
    if (i >= 0) return at + i;
  }
  return null;
}

/**
 * Speed of the three Neurons steps on this device, measured on `n` pairs of the task (decoded and recorded,
 * nothing kept): pairs tried per second, the share kept, and rows recorded per second. A link opened in a fresh
 * browser gives its recompute ETA from these.
 */
export async function measurePipeline(h: SessionHost, o: { n?: number; decode?: DecodeMode } = {}): Promise<{ pairsPerSec: number; keptShare: number; rowsPerSec: number; pairs: number }> {
  const s = h.need();
  const n = o.n ?? 64;
  const t0 = performance.now();
  const r = await findFlipPairs(s.model, s.task, { seed: 1, target: n, maxTried: n, timeCapSeconds: 120, decode: o.decode ?? D.pairs.decode, chunk: n, padId: s.padId });
  const t1 = performance.now();
  const items = s.task.pairs(1, n).flatMap((p) => [p.a, p.b]);
  await lastTokenActivations(s.model, items.map((it) => s.model.encodePrompt(it.prompt)), defaultHooks(s.model, 'resid'), s.padId);
  const t2 = performance.now();
  return { pairsPerSec: (1000 * r.tried) / Math.max(1, t1 - t0), keptShare: r.tried ? r.kept.length / r.tried : 0, rowsPerSec: (1000 * items.length) / Math.max(1, t2 - t1), pairs: r.tried };
}
