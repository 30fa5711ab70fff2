// Pipeline steps 1-3 on the active model: find flip pairs, record their activations to IndexedDB, analyze the
// recording (NMD, r, ranking, probes).
import type { HookedModel } from '../models/types';
import { analyzeStore, defaultHooks, findFlipPairs, hookDim, neuronLayer, recordPairs, type HookSet, type PairSearchOptions } from '../neurons/pipeline';
import { ActivationStore } from '../store/activations';
import type { Progress } from './jobs';
import { analysisKey, view, type AnalysisView, type PairSummary, type SessionHost } from './session';
import { PIPELINE_DEFAULTS as D } from './defaults';

/** The model's name in a recording manifest: GPT-2 with its preset ("gpt2-tiny"), LLaMA by its kind. */
export function modelLabel(kind: HookedModel['kind'], preset: string): string {
  return kind === preset ? kind : `${kind}-${preset}`;
}

/** Step 1: contrastive pairs, decoded and labeled; keeps the mem/gen flips. */
export async function findPairs(h: SessionHost, o: Partial<PairSearchOptions>, onProgress?: (p: Progress) => void): Promise<PairSummary> {
  const s = h.need();
  const opts: PairSearchOptions = { ...D.pairs, padId: s.padId, ...o };
  const r = await h.job('pairs', onProgress, (t) =>
    findFlipPairs(s.model, s.task, opts, async (tried, kept) => {
      t.report('decoding contrastive pairs', Math.min(kept, opts.target), opts.target, `${tried} tried, ${kept} kept (${((100 * kept) / tried).toFixed(1)}% flip)`);
      await t.checkpoint();
    }),
  );
  s.kept = r.kept;
  s.pairsSeed = opts.seed;
  s.analysis = undefined;
  s.pool = undefined; // the fresh prompts exclude the pairs tried: drawn again for the new pairs
  s.recordingPoints = undefined; // they analyzed other pairs
  s.pairSummary = {
    tried: r.tried, kept: r.kept.length, flipRate: r.flipRate, labelCounts: r.labelCounts, stoppedBy: r.stoppedBy,
    examples: r.kept.slice(0, 8).map((k) => ({ mem: k.mem.prompt, gen: k.gen.prompt })),
    decode: opts.decode,
  };
  return s.pairSummary;
}

/** Step 2: activations of the kept prompts at the chosen hooks, streamed to IndexedDB. */
export async function record(h: SessionHost, o: { hookSet?: HookSet; dtype?: 'float32' | 'float16'; batch?: number; resumeId?: string }, onProgress?: (p: Progress) => void): Promise<{ storeId: string; rows: number; bytes: number }> {
  const s = h.need();
  if (!s.kept?.length) throw new Error('No kept pairs yet: run step 1 (find pairs) first, or the model shows no mem/gen flips.');
  const hookSet = o.hookSet ?? D.record.hookSet;
  const names = defaultHooks(s.model, hookSet);
  const id = o.resumeId ?? `${s.info.task}-${s.info.preset}-${s.info.step}-${hookSet}-${Date.now().toString(36)}`;
  const store = o.resumeId
    ? await ActivationStore.open(o.resumeId)
    : await ActivationStore.create({
        id, version: 1, model: modelLabel(s.model.kind, s.info.preset), checkpoint: s.info.source, task: s.info.task,
        hooks: names.map((n) => ({ name: n, layer: neuronLayer(n), dim: hookDim(s.model, n) })),
        dtype: o.dtype ?? D.record.dtype, createdAt: new Date().toISOString(), labels: ['gen', 'mem'],
      });
  await h.job('rows', onProgress, (t) =>
    recordPairs(s.model, s.kept!, store, { batch: o.batch ?? D.record.batch, padId: s.padId }, async (d, total) => {
      t.report('recording activations', d, total);
      await t.checkpoint();
    }),
  );
  s.storeId = id;
  s.hookSet = hookSet;
  const rows = store.rowCount();
  const bytes = rows * store.manifest.hooks.reduce((a, x) => a + x.dim, 0) * (store.manifest.dtype === 'float16' ? 2 : 4);
  await h.keepRun(s, 'record', `Recording · ${analysisKey(s)}`,
    { model: s.info.source, task: s.info.task, hookSet: s.hookSet, dtype: store.manifest.dtype, storeId: id, pairsSeed: s.pairsSeed ?? D.pairs.seed },
    { rows, bytes, ...(s.pairSummary ? { tried: s.pairSummary.tried, kept: s.pairSummary.kept, flipRate: s.pairSummary.flipRate } : {}) });
  return { storeId: id, rows, bytes };
}

/** Step 3: NMD, r, ranking, top fractions, probes. */
export async function analyze(h: SessionHost, o: { topFractions?: number[]; welch?: boolean; probe?: boolean } = {}, onProgress?: (p: Progress) => void): Promise<AnalysisView> {
  const s = h.need();
  if (!s.storeId) throw new Error('Nothing recorded yet: run step 2 (record) first.');
  const store = await ActivationStore.open(s.storeId);
  const cfg = { topFractions: o.topFractions ?? [...D.analyze.topFractions], welch: o.welch ?? D.analyze.welch, probe: o.probe ?? D.analyze.probe };
  const a = await h.job('hooks', onProgress, (t) =>
    analyzeStore(store, cfg, async (d, total) => {
      t.report('analyzing hooks', d, total);
      await t.checkpoint();
    }),
  );
  s.analysis = a;
  h.analyses.set(analysisKey(s), { analysis: a, task: s.info.task, source: s.info.source });
  // kept in the runs store last: a full disk is reported, and the analysis above is still in this session
  const best = a.probes.reduce((m, p) => (p.testAcc > m.testAcc ? p : m), a.probes[0] ?? { testAcc: 0, hook: '' });
  await h.keepRun(s, 'analyze', `Analysis · ${analysisKey(s)}`,
    { model: s.info.source, task: s.info.task, storeId: s.storeId, ...cfg },
    { nMem: a.nMem, nGen: a.nGen, bestProbe: best ? { hook: best.hook, testAcc: best.testAcc } : null }, true);
  return view(a);
}

/** Mem vs gen activations of one neuron (for its histogram). */
export async function neuronValues(h: SessionHost, hook: string, index: number): Promise<{ mem: Float32Array; gen: Float32Array }> {
  const s = h.need();
  if (!s.storeId) throw new Error('Nothing recorded yet.');
  const store = await ActivationStore.open(s.storeId);
  const mem: number[] = [], gen: number[] = [];
  for await (const c of store.iterate(hook)) {
    for (let r = 0; r < c.rows; r++) (c.labels[r] ? mem : gen).push(c.data[r * c.dim + index]);
  }
  return { mem: Float32Array.from(mem), gen: Float32Array.from(gen) };
}
