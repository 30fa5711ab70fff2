// From a model to its behavior neurons (METHOD.md section 4), for any HookedModel:
//   1. pairs:    decode both prompts of each contrastive pair, keep the pairs where one is mem and one is gen;
//   2. record:   activations at the last prompt token at each hook point, streamed to IndexedDB;
//   3. analyze:  NMD and Pearson r per neuron, ranking by |r|, top fractions, per-layer probes.
import * as tf from '@tensorflow/tfjs';
import type { HookedModel } from '../models/types';
import { hookLayer } from '../models/types';
import { batchTensor, padRight } from '../models/hooks';
import type { ContrastivePair, EvalItem, Label, Task } from '../tasks/types';
import { decodeAndLabel, type DecodeMode } from '../train/evaluate';
import { ActivationStore } from '../store/activations';
import { StreamingStats, rankNeurons, layerDistribution, adjustAcross, degenerateCount, type NeuronStats, type RankedNeuron } from './stats';
import { probeAccuracy, trainProbe } from './probe';

// ---- 1. pairs ------------------------------------------------------------------------------------

export interface PairSearchOptions {
  seed: number;
  /** Kept pairs wanted (paper: about 5,000). */
  target: number;
  /** Give up after this many pairs tried. */
  maxTried: number;
  /** And after this many seconds. */
  timeCapSeconds: number;
  decode: DecodeMode;
  /** Pairs decoded per round. */
  chunk: number;
  padId?: number;
  /** Use the model's KV cache (default true; false only for benchmarks against the uncached decoder). */
  cache?: boolean;
}

export interface KeptPair {
  pair: ContrastivePair;
  mem: EvalItem;
  gen: EvalItem;
}

export interface PairSearchResult {
  tried: number;
  kept: KeptPair[];
  /** Labels of all decoded prompts (a and b of every tried pair). */
  labelCounts: Record<Label, number>;
  flipRate: number;
  stoppedBy: 'target' | 'maxTried' | 'time';
}

export async function findFlipPairs(
  model: HookedModel,
  task: Task,
  o: PairSearchOptions,
  progress?: (tried: number, kept: number) => Promise<void> | void,
): Promise<PairSearchResult> {
  const all = task.pairs(o.seed, o.maxTried);
  const kept: KeptPair[] = [];
  const labelCounts: Record<Label, number> = { mem: 0, gen: 0, other: 0 };
  const t0 = performance.now();
  let tried = 0;
  let stoppedBy: PairSearchResult['stoppedBy'] = 'maxTried';
  for (let start = 0; start < all.length; start += o.chunk) {
    const pairs = all.slice(start, start + o.chunk);
    const items = pairs.flatMap((p) => [p.a, p.b]);
    const { outputs } = await decodeAndLabel(model, task, items, { decode: o.decode, padId: o.padId, cache: o.cache });
    pairs.forEach((p, i) => {
      const la = outputs[2 * i].label, lb = outputs[2 * i + 1].label;
      labelCounts[la] += 1;
      labelCounts[lb] += 1;
      if (la === 'mem' && lb === 'gen') kept.push({ pair: p, mem: p.a, gen: p.b });
      else if (la === 'gen' && lb === 'mem') kept.push({ pair: p, mem: p.b, gen: p.a });
    });
    tried += pairs.length;
    await progress?.(tried, kept.length);
    if (kept.length >= o.target) { stoppedBy = 'target'; break; }
    if ((performance.now() - t0) / 1000 > o.timeCapSeconds) { stoppedBy = 'time'; break; }
  }
  return { tried, kept: kept.slice(0, o.target), labelCounts, flipRate: tried ? kept.length / tried : 0, stoppedBy };
}

// ---- 2. record -----------------------------------------------------------------------------------

/** The recording points (issue 16): residual stream, the FFN LayerNorm's output (the paper's GPT-2 point), MLP hidden units. */
export type HookSet = 'resid' | 'ln2' | 'mlp';

/**
 * Neuron locations of a recording point: resid = the embedding output (block 0's residual input) and every block's
 * output; ln2 = each block's FFN LayerNorm output; mlp = each block's MLP hidden units after GELU.
 */
export function defaultHooks(model: HookedModel, kind: HookSet = 'resid'): string[] {
  const L = model.dims.nLayer;
  if (kind === 'mlp') return Array.from({ length: L }, (_, i) => `blocks.${i}.mlp.hook_post`);
  if (kind === 'ln2') {
    const names = Array.from({ length: L }, (_, i) => `blocks.${i}.ln2.hook_normalized`);
    const missing = names.filter((n) => !model.hookNames().includes(n));
    if (missing.length) throw new Error(`This model has no FFN LayerNorm hook (${missing[0]}); record the residual stream or the MLP units instead.`);
    return names;
  }
  return ['blocks.0.hook_resid_pre', ...Array.from({ length: L }, (_, i) => `blocks.${i}.hook_resid_post`)];
}

/**
 * The "layer" of a neuron location, numbered like Hugging Face's hidden_states: 0 = embedding output
 * (block 0's residual input), i + 1 = block i's output; MLP units of block i are layer i.
 */
export function neuronLayer(name: string): number {
  if (name === 'blocks.0.hook_resid_pre' || name === 'hook_embed') return 0;
  const i = hookLayer(name);
  return name.endsWith('hook_resid_post') ? i + 1 : i;
}

export function hookDim(model: HookedModel, name: string): number {
  return name.includes('.mlp.hook_') ? model.dims.dMlp : model.dims.dModel;
}

/**
 * Activations at each row's last prompt token, for the named hooks: name -> (B, dim) on the CPU.
 * A runWithCache read at the last position: only those rows leave the GPU, and the head never runs.
 */
export async function lastTokenActivations(model: HookedModel, prompts: number[][], names: string[], padId = 0): Promise<Record<string, Float32Array>> {
  const batch = padRight(prompts, padId);
  const { logits, cache } = tf.tidy(() => model.runWithCache(batchTensor(batch), names, { pos: 'last', seqLengths: batch.seqLengths, hooksOnly: true }));
  logits.dispose();
  const out: Record<string, Float32Array> = {};
  for (const n of names) {
    out[n] = (await cache[n].data()) as Float32Array;
    cache[n].dispose();
  }
  return out;
}

/** Records both prompts of each kept pair (mem = 1, gen = 0) into `store`, resuming after its durable rows. */
export async function recordPairs(
  model: HookedModel,
  kept: KeptPair[],
  store: ActivationStore,
  o: { batch: number; padId?: number },
  progress?: (rowsDone: number, rowsTotal: number) => Promise<void> | void,
): Promise<void> {
  const names = store.manifest.hooks.map((h) => h.name);
  const rows: Array<{ item: EvalItem; label: number }> = kept.flatMap((k) => [{ item: k.mem, label: 1 }, { item: k.gen, label: 0 }]);
  const done = store.rowCount() + store.bufferedRows();
  for (let s = done; s < rows.length; s += o.batch) {
    const part = rows.slice(s, s + o.batch);
    const acts = await lastTokenActivations(model, part.map((r) => model.encodePrompt(r.item.prompt)), names, o.padId);
    await store.appendRows(acts, Uint8Array.from(part.map((r) => r.label)), part.map((r) => r.item.id));
    await progress?.(Math.min(rows.length, s + part.length), rows.length);
  }
  await store.flush();
}

// ---- 3. analyze ----------------------------------------------------------------------------------

export interface LayerProbe {
  hook: string;
  layer: number;
  trainAcc: number;
  testAcc: number;
  chance: number;
  /** Held-out rows the test accuracy is measured on (for its Wilson interval). */
  testRows?: number;
  /** Informative positions the probe reads (the hook's constant ones left out). */
  features?: number;
  /** Accuracy on fresh prompts (labeled by their own decode; none in training, validation or the pairs) and their count. */
  freshAcc?: number;
  freshRows?: number;
}

/** A trained probe kept to score other rows: its weights over the hook's informative columns `keep`. */
export interface ProbeModel {
  hook: string;
  keep: number[];
  weights: Float32Array;
  bias: number;
  mean: Float32Array;
  std: Float32Array;
}

export interface NeuronAnalysis {
  /** `degenerate`: how many of the hook's positions are constant over the recorded rows (left out of ranking and probes). */
  hooks: { name: string; layer: number; dim: number; degenerate: number }[];
  rows: number;
  nMem: number;
  nGen: number;
  /** Per hook: NMD, r, and (if asked) Welch q-values, as plain arrays (for views and steering). */
  stats: { hook: string; layer: number; nmd: Float32Array; r: Float32Array; meanMem: Float32Array; meanGen: Float32Array; q?: Float64Array; degenerate?: Uint8Array }[];
  top: Record<string, RankedNeuron[]>;
  layerDistribution: Record<string, { layer: number; count: number; fraction: number }[]>;
  probes: LayerProbe[];
  /** The probes themselves, to score fresh prompts (freshProbeScores). */
  probeModels?: ProbeModel[];
}

/**
 * Rows recorded by recordPairs come as (mem, gen) twins: rows 2k and 2k+1 are pair k. The probe holds out
 * whole pairs. Rows in any other layout get no groups (a plain stratified split).
 */
export function pairGroups(labels: Uint8Array): Int32Array | undefined {
  if (labels.length < 4 || labels.length % 2) return undefined;
  for (let i = 0; i < labels.length; i += 2) if (labels[i] !== 1 || labels[i + 1] !== 0) return undefined;
  return Int32Array.from(labels, (_, i) => i >> 1);
}

export async function analyzeStore(
  store: ActivationStore,
  o: { topFractions: number[]; welch: boolean; probe: boolean; probeSeed?: number },
  progress?: (done: number, total: number) => Promise<void> | void,
): Promise<NeuronAnalysis> {
  const hooks = store.manifest.hooks;
  const stats: NeuronStats[] = [];
  const probes: LayerProbe[] = [];
  const probeModels: ProbeModel[] = [];
  let step = 0;
  for (const h of hooks) {
    const s = new StreamingStats(h.name, h.layer, h.dim);
    for await (const chunk of store.iterate(h.name)) s.add(chunk.data, chunk.labels);
    const st = s.finish({ welch: o.welch });
    stats.push(st);
    // a hook whose every position is constant (the embedding at one fixed last token) gets no probe: it would
    // score chance by construction; partly constant hooks are probed on their informative columns only
    if (o.probe && st.degenerate!.some((d) => !d)) {
      const all = await store.readAll(h.name);
      const { data, dim } = informativeColumns(all.data, h.dim, st.degenerate!);
      const p = trainProbe(data, all.labels, dim, { seed: o.probeSeed ?? 0, groups: pairGroups(all.labels) });
      probes.push({ hook: h.name, layer: h.layer, trainAcc: p.trainAcc, testAcc: p.testAcc, chance: p.chance, testRows: p.testRows, features: dim });
      const keep: number[] = [];
      for (let j = 0; j < h.dim; j++) if (!st.degenerate![j]) keep.push(j);
      probeModels.push({ hook: h.name, keep, weights: p.weights, bias: p.bias, mean: p.mean, std: p.std });
    }
    await progress?.(++step, hooks.length);
  }
  if (o.welch) adjustAcross(stats);
  const layers = hooks.map((h) => h.layer);
  const top: NeuronAnalysis['top'] = {};
  const dist: NeuronAnalysis['layerDistribution'] = {};
  for (const f of o.topFractions) {
    top[String(f)] = rankNeurons(stats, f);
    dist[String(f)] = layerDistribution(top[String(f)], layers);
  }
  return {
    hooks: hooks.map((h, i) => ({ name: h.name, layer: h.layer, dim: h.dim, degenerate: degenerateCount([stats[i]]).degenerate })),
    rows: stats[0]?.nMem + stats[0]?.nGen,
    nMem: stats[0]?.nMem ?? 0,
    nGen: stats[0]?.nGen ?? 0,
    stats: stats.map((s) => ({ hook: s.hook, layer: s.layer, nmd: s.nmd, r: s.r, meanMem: s.meanMem, meanGen: s.meanGen, q: s.q, degenerate: s.degenerate })),
    top,
    layerDistribution: dist,
    probes,
    probeModels,
  };
}

/**
 * Each kept probe scored on fresh prompts: their last-token activations at the probe's hook (informative columns
 * only), labels 1 = mem, 0 = gen as their own decode answered. Returns hook -> accuracy.
 */
export async function freshProbeScores(model: HookedModel, probes: ProbeModel[], prompts: number[][], labels: Uint8Array, padId = 0, batch = 64): Promise<Record<string, number>> {
  if (prompts.length !== labels.length) throw new Error(`freshProbeScores: ${labels.length} labels for ${prompts.length} prompts.`);
  if (!prompts.length || !probes.length) return {};
  const names = probes.map((p) => p.hook);
  const cols: Record<string, Float32Array[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < prompts.length; i += batch) {
    const acts = await lastTokenActivations(model, prompts.slice(i, i + batch), names, padId);
    for (const p of probes) {
      const a = acts[p.hook];
      const rows = Math.min(batch, prompts.length - i), dim = a.length / rows;
      const X = new Float32Array(rows * p.keep.length);
      for (let r = 0; r < rows; r++) for (let c = 0; c < p.keep.length; c++) X[r * p.keep.length + c] = a[r * dim + p.keep[c]];
      cols[p.hook].push(X);
    }
  }
  const out: Record<string, number> = {};
  for (const p of probes) {
    const parts = cols[p.hook];
    const X = new Float32Array(parts.reduce((s, x) => s + x.length, 0));
    let o = 0;
    for (const x of parts) { X.set(x, o); o += x.length; }
    out[p.hook] = probeAccuracy(p, X, labels);
  }
  return out;
}

/** The columns of a [rows, dim] matrix that are not flagged degenerate, as a [rows, kept] matrix. */
export function informativeColumns(X: Float32Array, dim: number, degenerate: Uint8Array): { data: Float32Array; dim: number } {
  const keep: number[] = [];
  for (let j = 0; j < dim; j++) if (!degenerate[j]) keep.push(j);
  if (keep.length === dim) return { data: X, dim };
  const rows = X.length / dim;
  const out = new Float32Array(rows * keep.length); // (rows, kept)
  for (let i = 0; i < rows; i++) for (let c = 0; c < keep.length; c++) out[i * keep.length + c] = X[i * dim + keep[c]];
  return { data: out, dim: keep.length };
}

export { hookLayer };
