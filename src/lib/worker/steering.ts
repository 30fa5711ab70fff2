// Steering on the active model: baseline labels, the fresh prompt pool, the sweep with its controls, and one
// prompt tried five ways.
import type { EvalItem, Label } from '../tasks/types';
import { countLabels, decodeAndLabel, type DecodeMode, type EvalCounts } from '../train/evaluate';
import { rankNeurons, type RankedNeuron } from '../neurons/stats';
import { steeringSweep } from '../steer/experiment';
import { controlShifts, steeringHooks, targetedShifts, CONTROL_KINDS, type ControlHook, type ControlKind, type Direction } from '../steer/steer';
import { excludedPrompts, freshItems } from '../steer/fresh';
import { answerLogProbs } from '../models/generate';
import { freshProbeScores } from '../neurons/pipeline';
import type { Progress } from './jobs';
import { statsOf, type Session, type SessionHost, type SteeringResult } from './session';
import { PIPELINE_DEFAULTS as D } from './defaults';

/** Baseline labels of the validation prompts (which are mem, which are gen, before steering). */
export async function baseline(h: SessionHost, decode: DecodeMode = D.steer.decode, onProgress?: (p: Progress) => void): Promise<EvalCounts> {
  const s = h.need();
  const items = s.task.evalSet(1);
  const r = await h.job('prompts', onProgress, (t) =>
    decodeAndLabel(s.model, s.task, items, { decode, padId: s.padId, onProgress: async (d, total) => { t.report('baseline decoding', d, total); await t.checkpoint(); } }),
  );
  s.baseline = { items, labels: r.outputs.map((x) => x.label), counts: r.counts, decode };
  return r.counts;
}

/** Every neuron location of the analysis, with its NMD and constant positions (for the controls). */
export function hookList(s: Session): ControlHook[] {
  if (!s.analysis) throw new Error('No analysis yet: find the neurons first (Neurons page).');
  const a = s.analysis;
  return a.hooks.map((x, i) => ({ name: x.name, dim: x.dim, nmd: a.stats[i].nmd, degenerate: a.stats[i].degenerate }));
}

/** The top fraction `f` of the analysis's ranking (kept from the analysis when it was asked for then). */
export function topOf(s: Session, f: number): RankedNeuron[] {
  const a = s.analysis!;
  return a.top[String(f)] ?? rankNeurons(statsOf(a), f);
}

export interface SweepOptions {
  alphas?: number[];
  topFractions?: number[];
  controlSeeds?: number;
  controls?: ControlKind[];
  decode?: DecodeMode;
  perDirection?: number;
  maxPrompts?: number;
  maxDecode?: number;
  freshSeed?: number;
}

/**
 * The Mem -> Gen and Gen -> Mem tables with their controls (paper, matched, direction) and 95% intervals, on
 * fresh prompts: up to `perDirection` prompts of each baseline label (default 300).
 */
export async function sweep(h: SessionHost, o: SweepOptions, onProgress?: (p: Progress) => void): Promise<SteeringResult> {
  const s = h.need();
  const hooks = hookList(s);
  const decode = o.decode ?? D.steer.decode;
  const per = o.perDirection ?? o.maxPrompts ?? D.steer.perDirection;
  const controls = o.controls ?? [...CONTROL_KINDS];
  const controlSeeds = o.controlSeeds ?? D.steer.controlSeeds;
  const alphas = o.alphas ?? [...D.steer.alphas];
  const topFractions = o.topFractions ?? [...D.steer.topFractions];
  const { memItems, genItems, pool } = await steerItems(h, s, per, decode, o, onProgress);
  const cells = await h.job('decodes', onProgress, (t) =>
    steeringSweep(s.model, s.task, memItems, genItems, (f) => topOf(s, f), hooks, {
      alphas, topFractions, controlSeeds, controls, decode, padId: s.padId,
    }, async (d, total) => { t.report('steering sweep', d, total); await t.checkpoint(); }),
  );
  s.steering = { cells, baseline: pool.counts, pool, decode };
  await scoreFreshProbes(s);
  const at = cells.find((c) => c.table === 'memToGen' && c.alpha === 1) ?? cells[0];
  await h.keepRun(s, 'steer', `Steering · ${s.info.task} · ${s.info.source}`,
    { model: s.info.source, task: s.info.task, alphas, topFractions, controlSeeds, controls, decode, perDirection: per, freshSeed: pool.seed },
    { baseline: pool.counts, ...(at ? { [`${at.table} α=${at.alpha} top ${at.topFraction}`]: { targeted: at.targeted, controls: (at.controls ?? []).map((c) => ({ kind: c.kind, mean: c.mean, diff: c.diff.goal, verdict: c.verdict })) } } : {}) }, true);
  return s.steering;
}

/**
 * The current analysis's probes scored on the fresh pool's mem and gen prompts (labels from their own decode):
 * sets freshAcc, freshRows and freshChance (the majority rate: the pool is not balanced) on each probe.
 */
async function scoreFreshProbes(s: Session): Promise<void> {
  const a = s.analysis, p = s.pool;
  if (!a?.probeModels?.length || !p) return;
  const rows = p.items.map((item, i) => ({ item, label: p.labels[i] })).filter((x) => x.label !== 'other');
  const mem = rows.filter((x) => x.label === 'mem').length;
  if (mem === 0 || mem === rows.length) return;
  const acc = await freshProbeScores(s.model, a.probeModels, rows.map((x) => s.model.encodePrompt(x.item.prompt)), Uint8Array.from(rows, (x) => (x.label === 'mem' ? 1 : 0)), s.padId);
  const chance = Math.max(mem, rows.length - mem) / rows.length;
  for (const pr of a.probes) if (acc[pr.hook] !== undefined) Object.assign(pr, { freshAcc: acc[pr.hook], freshRows: rows.length, freshChance: chance });
}

/**
 * Fresh prompts (disjoint from the training set, the validation sets and the pair prompts), decoded without
 * steering in rounds until `per` of them are labeled mem and `per` gen, or `maxDecode` are decoded. Every
 * decoded prompt is counted in the pool's label counts, including those already answered the target way.
 */
async function freshPool(h: SessionHost, s: Session, per: number, decode: DecodeMode, o: { maxDecode?: number; freshSeed?: number }, onProgress?: (p: Progress) => void) {
  const seed = o.freshSeed ?? D.steer.freshSeed;
  if (s.pool && s.pool.info.decode === decode && s.pool.info.seed === seed && s.pool.info.perDirection >= per) return s.pool;
  const maxDecode = o.maxDecode ?? Math.max(10 * per, 1000);
  const trainSeed = Number((s.training?.config as { seed?: unknown } | undefined)?.seed);
  const exclude = excludedPrompts(s.task, {
    trainSeed: Number.isInteger(trainSeed) && trainSeed >= 0 ? trainSeed : undefined,
    valSeeds: [...new Set([1, ...(Number.isInteger(trainSeed) && trainSeed >= 0 ? [trainSeed] : [])])],
    pairs: s.pairSummary ? [{ seed: s.pairsSeed ?? D.pairs.seed, n: s.pairSummary.tried }] : [],
  });
  const { items: all, removed } = freshItems(s.task, seed, maxDecode, exclude);
  const items: EvalItem[] = [];
  const labels: Label[] = [];
  await h.job('prompts', onProgress, async (t) => {
    const chunk = Math.max(64, Math.min(512, per));
    for (let at = 0; at < all.length; at += chunk) {
      const part = all.slice(at, at + chunk);
      const r = await decodeAndLabel(s.model, s.task, part, { decode, padId: s.padId });
      items.push(...part);
      labels.push(...r.outputs.map((x) => x.label));
      const c = countLabels(labels);
      t.report('decoding fresh prompts without steering', items.length, all.length, `${c.mem} mem, ${c.gen} gen, ${c.other} other`);
      await t.checkpoint();
      if (c.mem >= per && c.gen >= per) break;
    }
  });
  s.pool = { items, labels, info: { source: 'fresh', seed, decode, counts: countLabels(labels), excluded: removed, perDirection: per } };
  return s.pool;
}

/** The fresh prompts labeled mem (to steer toward gen) and gen (toward mem) without steering. */
export async function steerItems(h: SessionHost, s: Session, lim: number, decode: DecodeMode, o: { maxDecode?: number; freshSeed?: number } = {}, onProgress?: (p: Progress) => void) {
  const p = await freshPool(h, s, lim, decode, o, onProgress);
  const memItems = p.items.filter((_, i) => p.labels[i] === 'mem').slice(0, lim);
  const genItems = p.items.filter((_, i) => p.labels[i] === 'gen').slice(0, lim);
  if (!memItems.length && !genItems.length) throw new Error(`None of ${p.items.length} fresh prompts is labeled mem or gen without steering, so there is nothing to steer. Use a checkpoint that shows both behaviors.`);
  return { memItems, genItems, pool: p.info };
}

export interface TryRow {
  output: string;
  label: Label;
  logPMem: number;
  logPGen: number;
}

/** One prompt, five ways: baseline, steered, and each control (paper, matched, direction); with log P of the mem and gen answers. */
export async function tryPrompt(h: SessionHost, o: { prompt?: string; itemIndex?: number; alpha: number; topFraction: number; direction: Direction; controlSeed?: number; decode?: DecodeMode }) {
  const s = h.need();
  const hooks = hookList(s);
  const items = s.task.evalSet(1);
  const item: EvalItem = o.prompt !== undefined && o.prompt.trim() !== ''
    ? { ...(items[o.itemIndex ?? 0]), id: 'typed', prompt: o.prompt }
    : items[Math.max(0, Math.min(items.length - 1, o.itemIndex ?? 0))];
  const dims = Object.fromEntries(hooks.map((x) => [x.name, x.dim]));
  const top = topOf(s, o.topFraction);
  const seed = o.controlSeed ?? D.tryPrompt.controlSeed;
  const variants = {
    baseline: {},
    steered: steeringHooks(targetedShifts(top, o.direction), o.alpha, dims),
    control: steeringHooks(controlShifts('paper', top, hooks, o.direction, seed), o.alpha, dims),
    matched: steeringHooks(controlShifts('matched', top, hooks, o.direction, seed), o.alpha, dims),
    direction: steeringHooks(controlShifts('direction', top, hooks, o.direction, 0), o.alpha, dims),
  };
  const enc = (t: string) => s.model.tokenizer.encode(t);
  const prompt = s.model.encodePrompt(item.prompt);
  const out: Record<string, TryRow> = {};
  for (const [name, hk] of Object.entries(variants)) {
    const r = await decodeAndLabel(s.model, s.task, [item], { decode: o.decode ?? D.steer.decode, hooks: hk, padId: s.padId });
    const [lm, lg] = await answerLogProbs(s.model, [{ prompt, answer: enc(item.memAnswer) }, { prompt, answer: enc(item.genAnswer) }], hk);
    out[name] = { output: r.outputs[0].output, label: r.outputs[0].label, logPMem: lm, logPGen: lg };
  }
  return { item, neurons: top.length, ...out } as { item: EvalItem; neurons: number; baseline: TryRow; steered: TryRow; control: TryRow; matched: TryRow; direction: TryRow };
}
