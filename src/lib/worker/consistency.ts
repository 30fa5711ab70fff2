// Consistency on the active model: two analyses compared (overlap, rank agreement), cross-steering with another
// analysis's neurons, and the intra-task (another pair seed) and inter-task (another part of a mixed model) runs.
import type { TaskName } from '../tasks/types';
import type { DecodeMode } from '../train/evaluate';
import type { NeuronAnalysis } from '../neurons/pipeline';
import { rankNeurons } from '../neurons/stats';
import { consistency, crossSteering, type Consistency } from '../steer/experiment';
import type { Progress } from './jobs';
import { analysisKey, statsOf, type SessionHost } from './session';
import { analyze, findPairs, record } from './neurons';
import { steerItems } from './steering';
import { PIPELINE_DEFAULTS as D } from './defaults';

const C = D.consistency;

/** Intra/inter-task consistency between two analyses kept in this session. */
export function consistencyOf(h: SessionHost, keyA: string, keyB: string, topFraction: number = C.topFraction): Consistency {
  const a = h.analyses.get(keyA), b = h.analyses.get(keyB);
  if (!a || !b) throw new Error('Both analyses must be run in this session first.');
  const absR = (x: NeuronAnalysis) => Float32Array.from(x.stats.flatMap((s) => Array.from(s.r, Math.abs)));
  return consistency({ top: rankNeurons(statsOf(a.analysis), topFraction), absR: absR(a.analysis) }, { top: rankNeurons(statsOf(b.analysis), topFraction), absR: absR(b.analysis) }, topFraction);
}

/**
 * Cross-steering between two analyses of the active model (same neuron positions): B's top set steers the
 * validation prompts beside A's own set and A's random control.
 */
export async function crossSteerOf(h: SessionHost, o: { keyA: string; keyB: string; alpha: number; topFraction: number; controlSeeds?: number; maxPrompts?: number; decode?: DecodeMode }, onProgress?: (p: Progress) => void): Promise<Consistency> {
  const s = h.need();
  const a = h.analyses.get(o.keyA), b = h.analyses.get(o.keyB);
  if (!a || !b) throw new Error('Both analyses must be run in this session first.');
  if (a.source !== s.info.source || b.source !== s.info.source) throw new Error(`Cross-steering runs on the active model (${s.info.source}); both analyses must come from it.`);
  if (a.task !== s.info.task) throw new Error(`The first analysis (${o.keyA}) must be of the task being steered (${s.info.task}): its own neurons are the reference.`);
  const c = consistencyOf(h, o.keyA, o.keyB, o.topFraction);
  const hooks = a.analysis.hooks.map((x) => ({ name: x.name, dim: x.dim }));
  const decode = o.decode ?? s.steering?.decode ?? D.steer.decode;
  const { memItems, genItems } = await steerItems(h, s, o.maxPrompts ?? C.maxPrompts, decode);
  c.crossSteer = await h.job('decodes', onProgress, (t) =>
    crossSteering(s.model, s.task, memItems, genItems, rankNeurons(statsOf(a.analysis), o.topFraction), rankNeurons(statsOf(b.analysis), o.topFraction), hooks,
      { alpha: o.alpha, topFraction: o.topFraction, controlSeeds: o.controlSeeds ?? C.controlSeeds, decode, padId: s.padId },
      async (d, total) => { t.report('cross-steering', d, total); await t.checkpoint(); }),
  );
  return c;
}

export interface SecondSetOptions {
  target: number;
  timeCapSeconds?: number;
  topFraction?: number;
  crossAlpha?: number | number[];
  maxPrompts?: number;
  controlSeeds?: number;
}

/**
 * Intra-task consistency on the active model: a second, independent set of contrastive pairs (another seed)
 * goes through the same three steps, and its ranking is compared with the current analysis.
 */
export async function intraTaskConsistency(h: SessionHost, o: SecondSetOptions & { seed: number }, onProgress?: (p: Progress) => void): Promise<Consistency> {
  const s = h.need();
  const first = s.pairsSeed ?? D.pairs.seed;
  if (o.seed === first) throw new Error(`The current analysis already uses pair seed ${o.seed}: choose another seed for the second set of pairs.`);
  return compareWithSecond(h, { ...o, task: s.info.task, kind: 'intra', label: `pairs seed ${first} vs seed ${o.seed} (${s.info.task})` }, onProgress);
}

/**
 * Inter-task consistency on a mixed model (one network trained on several tasks, so neuron positions are
 * shared): the other task's pairs go through the same three steps on the same model, and its top neurons are
 * compared with this task's (overlap, rank agreement) and steer this task's prompts beside its own set and a
 * random control.
 */
export async function interTaskConsistency(h: SessionHost, o: SecondSetOptions & { task: TaskName; seed?: number }, onProgress?: (p: Progress) => void): Promise<Consistency> {
  const s = h.need();
  const parts = s.info.mixed;
  if (!parts) throw new Error(`Inter-task consistency needs one model trained on several tasks (neuron positions must be shared); the active model was trained on ${s.info.task} only. Train a mixed model (Train page, task "mixed"), or use LLaMA, whose base model is shared.`);
  if (o.task === s.info.task || !parts.includes(o.task)) throw new Error(`Choose another task of this mixed model to compare with ${s.info.task}: ${parts.filter((p) => p !== s.info.task).join(', ')}.`);
  return compareWithSecond(h, { ...o, seed: o.seed ?? s.pairsSeed ?? D.pairs.seed, kind: 'inter', label: `${s.info.task} vs ${o.task} (one model)` }, onProgress);
}

/** Runs pairs, recording and analysis a second time (another seed or task), compares, and restores the first. */
async function compareWithSecond(h: SessionHost, o: SecondSetOptions & { task: TaskName; seed: number; kind: 'intra' | 'inter'; label: string }, onProgress?: (p: Progress) => void): Promise<Consistency> {
  const s = h.need();
  if (!s.analysis || !s.storeId) throw new Error('Run the analysis first (three steps on the Neurons page).');
  const first = { analysis: s.analysis, storeId: s.storeId, kept: s.kept, pairSummary: s.pairSummary, pairsSeed: s.pairsSeed, hookSet: s.hookSet, baseline: s.baseline, steering: s.steering, pool: s.pool, task: s.task, info: s.info, recordingPoints: s.recordingPoints };
  const firstRuns = { ...s.runs };
  const keyA = analysisKey(s);
  try {
    if (o.task !== s.info.task) h.switchTask(o.task);
    await findPairs(h, { seed: o.seed, target: o.target, timeCapSeconds: o.timeCapSeconds ?? C.timeCapSeconds, ...(first.pairSummary?.decode ? { decode: first.pairSummary.decode } : {}) }, onProgress);
    await record(h, { hookSet: first.hookSet }, onProgress);
    await analyze(h, {}, onProgress);
    const keyB = analysisKey(s);
    // back on the first task: its prompts are the ones steered, with its own set, the second set and a control
    Object.assign(s, first);
    // cross-steering at each α asked for (a small α may move nothing, a large one may break every output)
    const alphas = Array.isArray(o.crossAlpha) ? o.crossAlpha : [o.crossAlpha ?? C.alpha];
    if (!alphas.length) throw new Error('Give at least one α for cross-steering.');
    const runs: Consistency[] = [];
    for (const alpha of alphas) runs.push(await crossSteerOf(h, { keyA, keyB, alpha, topFraction: o.topFraction ?? C.topFraction, controlSeeds: o.controlSeeds, maxPrompts: o.maxPrompts }, onProgress));
    const c: Consistency = { ...runs[0], crossSteer: runs.flatMap((r) => r.crossSteer ?? []) };
    s.consistency.push({ label: o.label, kind: o.kind, ...c });
    return c;
  } finally {
    // the second analysis's record and analyze runs stay in the store; the session goes on from the first
    Object.assign(s, first);
    s.runs = firstRuns;
    // the steering run's report now carries the consistency figures too
    if (s.runs.steer) await h.updateReport(s, s.runs.steer).catch(() => undefined);
  }
}
