import * as Comlink from 'comlink';
// Neurons and steering in the worker, on the active model: load a checkpoint, find flip pairs, record
// activations to IndexedDB, analyze, steer (with random controls), consistency. Written once against the
// HookedModel interface, so any model (GPT-2, LLaMA) goes through the same code.
import { GPT2, getOps, type OpsImpl } from '../models/gpt2';
import type { HookedModel } from '../models/types';
import { decodeCheckpoint, type CheckpointHeader } from '../train/checkpoint';
import { TaskTokenizer } from '../tasks/tokenizer';
import { getTask, mixedParts } from '../tasks';
import type { EvalItem, Label, Task, TaskName } from '../tasks/types';
import { countLabels, decodeAndLabel, type DecodeMode, type EvalCounts } from '../train/evaluate';
import { analyzeStore, defaultHooks, findFlipPairs, hookDim, neuronLayer, recordPairs, type HookSet, type KeptPair, type NeuronAnalysis, type PairSearchOptions } from '../neurons/pipeline';
import { ActivationStore } from '../store/activations';
import { rankNeurons, type RankedNeuron } from '../neurons/stats';
import { steeringSweep, consistency, crossSteering, type SteerCell, type Consistency } from '../steer/experiment';
import { controlShifts, steeringHooks, targetedShifts, CONTROL_KINDS, type ControlHook, type ControlKind, type Direction } from '../steer/steer';
import { excludedPrompts, freshItems } from '../steer/fresh';
import { answerLogProbs } from '../models/generate';
import { getRun, loadArtifact, newRun, saveArtifacts, saveRun, type RunKind, type RunRecord } from '../store/runs';
import { JobTracker, type Progress } from './jobs';
import type { Report } from '../report/schema';

export interface ActiveModelInfo {
  source: string;
  /** The task being analyzed (for a mixed model: the part chosen, see `switchTask`). */
  task: TaskName;
  /** A model trained on several tasks: its parts (any of them can be analyzed, and compared across). */
  mixed?: TaskName[];
  preset: string;
  step: number;
  dims: HookedModel['dims'];
  hooks: string[];
  eval: CheckpointHeader['eval'];
}

/** Where the steered prompts came from: a fresh seeded set, decoded once without steering. */
export interface SteerPool {
  source: 'fresh';
  seed: number;
  decode: DecodeMode;
  /** Prompts decoded without steering, and how each was labeled (all of them reported, none dropped). */
  counts: EvalCounts;
  /** Prompts of the generator left out because they are training, validation or pair prompts (or repeats). */
  excluded: number;
  /** Prompts steered per table (at most this many of each baseline label). */
  perDirection: number;
}

export interface SteeringResult {
  cells: SteerCell[];
  /** Baseline labels of the prompts the tables draw from (the fresh pool). */
  baseline: EvalCounts;
  pool?: SteerPool;
  decode?: DecodeMode;
}

export interface PairSummary {
  tried: number;
  kept: number;
  flipRate: number;
  labelCounts: Record<Label, number>;
  stoppedBy: string;
  examples: Array<{ mem: string; gen: string }>;
}

interface Session {
  model: HookedModel;
  /** Whether this service made the model (and so disposes it); a LLaMA belongs to the LLaMA service. */
  owned: boolean;
  task: Task;
  info: ActiveModelInfo;
  padId: number;
  kept?: KeptPair[];
  /** Seed of the pair search and hook set of the recording: with task and model, they name an analysis. */
  pairsSeed?: number;
  hookSet?: HookSet;
  pairSummary?: PairSummary;
  storeId?: string;
  analysis?: NeuronAnalysis;
  baseline?: { items: EvalItem[]; labels: Label[]; counts: EvalCounts; decode: DecodeMode };
  training?: Report['training'];
  steering?: SteeringResult;
  /** Fresh prompts decoded without steering: the pool the steering tables draw their mem and gen prompts from. */
  pool?: { items: EvalItem[]; labels: Label[]; info: SteerPool };
  consistency: Report['consistency'];
  /** Lineage in the runs store: the training run of the checkpoint, then this session's record/analyze/steer runs. */
  runs: Partial<Record<RunKind, string>>;
}

/** What leaves the worker for views: the analysis without the per-hook means (smaller). */
export type AnalysisView = Omit<NeuronAnalysis, 'stats'> & { stats: { hook: string; layer: number; nmd: Float32Array; r: Float32Array; q?: Float64Array }[] };

/** The model's name in a recording manifest: GPT-2 with its preset ("gpt2-tiny"), LLaMA by its kind. */
export function modelLabel(kind: HookedModel['kind'], preset: string): string {
  return kind === preset ? kind : `${kind}-${preset}`;
}

export class AnalysisService {
  /** Reached from pages as a nested Comlink proxy (`lab.analysis.method()`). */
  readonly [Comlink.proxyMarker] = true;
  private s: Session | null = null;
  private analyses = new Map<string, { analysis: NeuronAnalysis; task: TaskName; source: string }>();
  opsImpl: OpsImpl = 'fused';

  constructor(private readonly register: (t: JobTracker) => void, private readonly unregister: (t: JobTracker) => void) {}

  /** Makes a stored training run's best checkpoint (or a checkpoint file) the active model. */
  async useCheckpoint(src: { runId?: string; buffer?: ArrayBuffer; url?: string; task?: TaskName; name?: string }): Promise<ActiveModelInfo> {
    let buf = src.buffer;
    let label = src.name ?? 'uploaded checkpoint';
    if (src.runId) {
      const r = await getRun(src.runId);
      const key = r?.artifacts.best ?? r?.artifacts.latest;
      buf = key ? await loadArtifact(key) : undefined;
      if (!buf) throw new Error(`Run "${src.runId}" has no checkpoint stored. Train it first, or pick another run.`);
      label = r!.title;
    } else if (src.url) {
      const res = await fetch(src.url);
      if (!res.ok) throw new Error(`Could not load ${src.url}: HTTP ${res.status}.`);
      buf = await res.arrayBuffer();
      label = src.url.split('/').pop() ?? src.url;
    }
    if (!buf) throw new Error('No checkpoint given.');
    const ck = decodeCheckpoint(buf);
    const h = ck.header;
    // a mixed model is analyzed one part at a time, with the part's prompts and labels (switchTask changes it)
    const parts = h.task === 'mixed' ? mixedParts((h.train as { tasks?: string[] }).tasks) : undefined;
    if (parts && src.task && !parts.includes(src.task)) throw new Error(`This mixed model was trained on ${parts.join(', ')}, not on ${src.task}: pick one of those tasks.`);
    const task: TaskName = parts ? src.task ?? parts[0] : (h.task as TaskName);
    this.release();
    const tok = TaskTokenizer.fromJSON(h.tokenizer);
    const model = new GPT2(h.config, ck.tensors, tok, getOps(this.opsImpl));
    const info: ActiveModelInfo = { source: label, task, ...(parts ? { mixed: parts } : {}), preset: h.preset, step: h.step, dims: model.dims, hooks: model.hookNames(), eval: h.eval };
    const log = h.log as Array<Record<string, unknown>>;
    const losses = log.filter((e) => typeof e.loss === 'number').map((e) => ({ step: e.step as number, loss: e.loss as number }));
    const k = Math.max(1, Math.ceil(losses.length / 2000));
    const evals = log.filter((e) => typeof e.gen === 'number') as unknown as NonNullable<Report['training']>['evals'];
    const training: Report['training'] = {
      config: h.train, loss: losses.filter((_, i) => i % k === 0 || i === losses.length - 1), evals,
      chosen: h.eval ? { ...h.eval } : null,
    };
    this.s = { model, owned: true, task: getTask(task), info, padId: tok.padId, training, consistency: [], runs: src.runId ? { train: src.runId } : {} };
    return info;
  }

  /**
   * A mixed model: analyze another of its tasks. The model stays loaded, and analyses already made (of any part)
   * stay in the session, so tasks can be compared; the pairs, recording, analysis and steering shown move to the
   * new task (empty until its steps are run).
   */
  switchTask(task: TaskName): ActiveModelInfo {
    const s = this.need();
    const parts = s.info.mixed;
    if (!parts) throw new Error(`The active model was trained on ${s.info.task} only; load a mixed model to analyze several tasks on one network.`);
    if (!parts.includes(task)) throw new Error(`The active mixed model was trained on ${parts.join(', ')}, not on ${task}.`);
    if (task === s.info.task) return s.info;
    s.info = { ...s.info, task };
    s.task = getTask(task);
    for (const k of ['kept', 'pairsSeed', 'hookSet', 'pairSummary', 'storeId', 'analysis', 'baseline', 'steering', 'pool'] as const) delete s[k];
    const { train } = s.runs;
    s.runs = train ? { train } : {};
    return s.info;
  }

  /** Any HookedModel (e.g. LLaMA) can become the active model through this. */
  useModel(model: HookedModel, task: TaskName, source: string, padId = 0): ActiveModelInfo {
    this.release();
    const info: ActiveModelInfo = { source, task, preset: model.kind, step: 0, dims: model.dims, hooks: model.hookNames(), eval: null };
    this.s = { model, owned: false, task: getTask(task), info, padId, consistency: [], runs: {} };
    return info;
  }

  private release(): void {
    if (this.s?.owned) this.s.model.dispose();
    this.s = null;
  }

  active(): ActiveModelInfo | null {
    return this.s?.info ?? null;
  }

  /** What the session holds, so a page opened later shows the work done elsewhere (e.g. the guided path). */
  sessionState(): { active: ActiveModelInfo | null; pairs: PairSummary | null; storeId: string | null; analysis: AnalysisView | null; steering: SteeringResult | null } {
    const s = this.s;
    return {
      active: s?.info ?? null,
      pairs: s?.pairSummary ?? null,
      storeId: s?.storeId ?? null,
      analysis: s?.analysis ? view(s.analysis) : null,
      steering: s?.steering ?? null,
    };
  }

  private need(): Session {
    if (!this.s) throw new Error('No model is loaded: pick a trained run or a shipped checkpoint first.');
    return this.s;
  }

  private async job<T>(unit: string, onProgress: ((p: Progress) => void) | undefined, f: (t: JobTracker) => Promise<T>): Promise<T> {
    const t = new JobTracker(`job-${unit}-${Date.now().toString(36)}`, onProgress, unit);
    this.register(t);
    try {
      return await f(t);
    } finally {
      this.unregister(t);
    }
  }

  /** Step 1: contrastive pairs, decoded and labeled; keeps the mem/gen flips. */
  async findPairs(o: Partial<PairSearchOptions>, onProgress?: (p: Progress) => void): Promise<PairSummary> {
    const s = this.need();
    const opts: PairSearchOptions = { seed: 1, target: 5000, maxTried: 50_000, timeCapSeconds: 600, decode: 'greedy', chunk: 64, padId: s.padId, ...o };
    const r = await this.job('pairs', onProgress, (t) =>
      findFlipPairs(s.model, s.task, opts, async (tried, kept) => {
        t.report('decoding contrastive pairs', Math.min(kept, opts.target), opts.target, `${tried} tried, ${kept} kept (${((100 * kept) / tried).toFixed(1)}% flip)`);
        await t.checkpoint();
      }),
    );
    s.kept = r.kept;
    s.pairsSeed = opts.seed;
    s.analysis = undefined;
    s.pool = undefined; // the fresh prompts exclude the pairs tried: drawn again for the new pairs
    s.pairSummary = {
      tried: r.tried, kept: r.kept.length, flipRate: r.flipRate, labelCounts: r.labelCounts, stoppedBy: r.stoppedBy,
      examples: r.kept.slice(0, 8).map((k) => ({ mem: k.mem.prompt, gen: k.gen.prompt })),
    };
    return s.pairSummary;
  }

  /** Step 2: activations of the kept prompts at the chosen hooks, streamed to IndexedDB. */
  async record(o: { hookSet?: HookSet; dtype?: 'float32' | 'float16'; batch?: number; resumeId?: string }, onProgress?: (p: Progress) => void): Promise<{ storeId: string; rows: number; bytes: number }> {
    const s = this.need();
    if (!s.kept?.length) throw new Error('No kept pairs yet: run step 1 (find pairs) first, or the model shows no mem/gen flips.');
    const names = defaultHooks(s.model, o.hookSet ?? 'resid');
    const id = o.resumeId ?? `${s.info.task}-${s.info.preset}-${s.info.step}-${o.hookSet ?? 'resid'}-${Date.now().toString(36)}`;
    const store = o.resumeId
      ? await ActivationStore.open(o.resumeId)
      : await ActivationStore.create({
          id, version: 1, model: modelLabel(s.model.kind, s.info.preset), checkpoint: s.info.source, task: s.info.task,
          hooks: names.map((n) => ({ name: n, layer: neuronLayer(n), dim: hookDim(s.model, n) })),
          dtype: o.dtype ?? 'float32', createdAt: new Date().toISOString(), labels: ['gen', 'mem'],
        });
    await this.job('rows', onProgress, (t) =>
      recordPairs(s.model, s.kept!, store, { batch: o.batch ?? 64, padId: s.padId }, async (d, total) => {
        t.report('recording activations', d, total);
        await t.checkpoint();
      }),
    );
    s.storeId = id;
    s.hookSet = o.hookSet ?? 'resid';
    const rows = store.rowCount();
    const bytes = rows * store.manifest.hooks.reduce((a, h) => a + h.dim, 0) * (store.manifest.dtype === 'float16' ? 2 : 4);
    await this.keepRun(s, 'record', `Recording · ${analysisKey(s)}`,
      { model: s.info.source, task: s.info.task, hookSet: s.hookSet, dtype: store.manifest.dtype, storeId: id, pairsSeed: s.pairsSeed ?? 1 },
      { rows, bytes, ...(s.pairSummary ? { tried: s.pairSummary.tried, kept: s.pairSummary.kept, flipRate: s.pairSummary.flipRate } : {}) });
    return { storeId: id, rows, bytes };
  }

  /** Step 3: NMD, r, ranking, top fractions, probes. */
  async analyze(o: { topFractions?: number[]; welch?: boolean; probe?: boolean } = {}, onProgress?: (p: Progress) => void): Promise<AnalysisView> {
    const s = this.need();
    if (!s.storeId) throw new Error('Nothing recorded yet: run step 2 (record) first.');
    const store = await ActivationStore.open(s.storeId);
    const a = await this.job('hooks', onProgress, (t) =>
      analyzeStore(store, { topFractions: o.topFractions ?? [0.05, 0.1], welch: o.welch ?? true, probe: o.probe ?? true }, async (d, total) => {
        t.report('analyzing hooks', d, total);
        await t.checkpoint();
      }),
    );
    s.analysis = a;
    this.analyses.set(analysisKey(s), { analysis: a, task: s.info.task, source: s.info.source });
    // kept in the runs store last: a full disk is reported, and the analysis above is still in this session
    const best = a.probes.reduce((m, p) => (p.testAcc > m.testAcc ? p : m), a.probes[0] ?? { testAcc: 0, hook: '' });
    await this.keepRun(s, 'analyze', `Analysis · ${analysisKey(s)}`,
      { model: s.info.source, task: s.info.task, storeId: s.storeId, topFractions: o.topFractions ?? [0.05, 0.1], welch: o.welch ?? true, probe: o.probe ?? true },
      { nMem: a.nMem, nGen: a.nGen, bestProbe: best ? { hook: best.hook, testAcc: best.testAcc } : null }, true);
    return view(a);
  }

  /** Mem vs gen activations of one neuron (for its histogram). */
  async neuronValues(hook: string, index: number): Promise<{ mem: Float32Array; gen: Float32Array }> {
    const s = this.need();
    if (!s.storeId) throw new Error('Nothing recorded yet.');
    const store = await ActivationStore.open(s.storeId);
    const mem: number[] = [], gen: number[] = [];
    for await (const c of store.iterate(hook)) {
      for (let r = 0; r < c.rows; r++) (c.labels[r] ? mem : gen).push(c.data[r * c.dim + index]);
    }
    return { mem: Float32Array.from(mem), gen: Float32Array.from(gen) };
  }

  /** Baseline labels of the validation prompts (which are mem, which are gen, before steering). */
  async baseline(decode: DecodeMode = 'greedy', onProgress?: (p: Progress) => void): Promise<EvalCounts> {
    const s = this.need();
    const items = s.task.evalSet(1);
    const r = await this.job('prompts', onProgress, (t) =>
      decodeAndLabel(s.model, s.task, items, { decode, padId: s.padId, onProgress: async (d, total) => { t.report('baseline decoding', d, total); await t.checkpoint(); } }),
    );
    s.baseline = { items, labels: r.outputs.map((x) => x.label), counts: r.counts, decode };
    return r.counts;
  }

  /** Every neuron location of the analysis, with its NMD and constant positions (for the controls). */
  private hookList(s: Session): ControlHook[] {
    if (!s.analysis) throw new Error('No analysis yet: find the neurons first (Neurons page).');
    const a = s.analysis;
    return a.hooks.map((h, i) => ({ name: h.name, dim: h.dim, nmd: a.stats[i].nmd, degenerate: a.stats[i].degenerate }));
  }

  private topOf(s: Session, f: number): RankedNeuron[] {
    const a = s.analysis!;
    const cached = a.top[String(f)];
    if (cached) return cached;
    return rankNeurons(a.stats.map((x, i) => ({ ...x, dim: a.hooks[i].dim, nMem: a.nMem, nGen: a.nGen })), f);
  }

  /**
   * The Mem -> Gen and Gen -> Mem tables with their controls (paper, matched, direction) and 95% intervals, on
   * fresh prompts: up to `perDirection` prompts of each baseline label (default 300).
   */
  async sweep(o: { alphas?: number[]; topFractions?: number[]; controlSeeds?: number; controls?: ControlKind[]; decode?: DecodeMode; perDirection?: number; maxPrompts?: number; maxDecode?: number; freshSeed?: number }, onProgress?: (p: Progress) => void): Promise<SteeringResult> {
    const s = this.need();
    const hooks = this.hookList(s);
    const decode = o.decode ?? 'greedy';
    const per = o.perDirection ?? o.maxPrompts ?? 300;
    const controls = o.controls ?? [...CONTROL_KINDS];
    const controlSeeds = o.controlSeeds ?? 10;
    const alphas = o.alphas ?? [0.5, 1, 3, 5];
    const topFractions = o.topFractions ?? [0.05, 0.1];
    const { memItems, genItems, pool } = await this.steerItems(s, per, decode, o, onProgress);
    const cells = await this.job('decodes', onProgress, (t) =>
      steeringSweep(s.model, s.task, memItems, genItems, (f) => this.topOf(s, f), hooks, {
        alphas, topFractions, controlSeeds, controls, decode, padId: s.padId,
      }, async (d, total) => { t.report('steering sweep', d, total); await t.checkpoint(); }),
    );
    s.steering = { cells, baseline: pool.counts, pool, decode };
    const at = cells.find((c) => c.table === 'memToGen' && c.alpha === 1) ?? cells[0];
    await this.keepRun(s, 'steer', `Steering · ${s.info.task} · ${s.info.source}`,
      { model: s.info.source, task: s.info.task, alphas, topFractions, controlSeeds, controls, decode, perDirection: per, freshSeed: pool.seed },
      { baseline: pool.counts, ...(at ? { [`${at.table} α=${at.alpha} top ${at.topFraction}`]: { targeted: at.targeted, controls: (at.controls ?? []).map((c) => ({ kind: c.kind, mean: c.mean, diff: c.diff.goal, verdict: c.verdict })) } } : {}) }, true);
    return s.steering;
  }

  /**
   * Fresh prompts (disjoint from the training set, the validation sets and the pair prompts), decoded without
   * steering in rounds until `per` of them are labeled mem and `per` gen, or `maxDecode` are decoded. Every
   * decoded prompt is counted in the pool's label counts, including those already answered the target way.
   */
  private async freshPool(s: Session, per: number, decode: DecodeMode, o: { maxDecode?: number; freshSeed?: number }, onProgress?: (p: Progress) => void) {
    const seed = o.freshSeed ?? 1;
    if (s.pool && s.pool.info.decode === decode && s.pool.info.seed === seed && s.pool.info.perDirection >= per) return s.pool;
    const maxDecode = o.maxDecode ?? Math.max(10 * per, 1000);
    const trainSeed = Number((s.training?.config as { seed?: unknown } | undefined)?.seed);
    const exclude = excludedPrompts(s.task, {
      trainSeed: Number.isInteger(trainSeed) && trainSeed >= 0 ? trainSeed : undefined,
      valSeeds: [...new Set([1, ...(Number.isInteger(trainSeed) && trainSeed >= 0 ? [trainSeed] : [])])],
      pairs: s.pairSummary ? [{ seed: s.pairsSeed ?? 1, n: s.pairSummary.tried }] : [],
    });
    const { items: all, removed } = freshItems(s.task, seed, maxDecode, exclude);
    const items: EvalItem[] = [];
    const labels: Label[] = [];
    await this.job('prompts', onProgress, async (t) => {
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
  private async steerItems(s: Session, lim: number, decode: DecodeMode, o: { maxDecode?: number; freshSeed?: number } = {}, onProgress?: (p: Progress) => void) {
    const p = await this.freshPool(s, lim, decode, o, onProgress);
    const memItems = p.items.filter((_, i) => p.labels[i] === 'mem').slice(0, lim);
    const genItems = p.items.filter((_, i) => p.labels[i] === 'gen').slice(0, lim);
    if (!memItems.length && !genItems.length) throw new Error(`None of ${p.items.length} fresh prompts is labeled mem or gen without steering, so there is nothing to steer. Use a checkpoint that shows both behaviors.`);
    return { memItems, genItems, pool: p.info };
  }

  /** One prompt, five ways: baseline, steered, and each control (paper, matched, direction); with log P of the mem and gen answers. */
  async tryPrompt(o: { prompt?: string; itemIndex?: number; alpha: number; topFraction: number; direction: Direction; controlSeed?: number }) {
    const s = this.need();
    const hooks = this.hookList(s);
    const items = s.task.evalSet(1);
    const item: EvalItem = o.prompt !== undefined && o.prompt.trim() !== ''
      ? { ...(items[o.itemIndex ?? 0]), id: 'typed', prompt: o.prompt }
      : items[Math.max(0, Math.min(items.length - 1, o.itemIndex ?? 0))];
    const dims = Object.fromEntries(hooks.map((h) => [h.name, h.dim]));
    const top = this.topOf(s, o.topFraction);
    const variants = {
      baseline: {},
      steered: steeringHooks(targetedShifts(top, o.direction), o.alpha, dims),
      control: steeringHooks(controlShifts('paper', top, hooks, o.direction, o.controlSeed ?? 1000), o.alpha, dims),
      matched: steeringHooks(controlShifts('matched', top, hooks, o.direction, o.controlSeed ?? 1000), o.alpha, dims),
      direction: steeringHooks(controlShifts('direction', top, hooks, o.direction, 0), o.alpha, dims),
    };
    const enc = (t: string) => s.model.tokenizer.encode(t);
    const prompt = s.model.encodePrompt(item.prompt);
    const out: Record<string, { output: string; label: Label; logPMem: number; logPGen: number }> = {};
    for (const [name, h] of Object.entries(variants)) {
      const r = await decodeAndLabel(s.model, s.task, [item], { decode: 'greedy', hooks: h, padId: s.padId });
      const [lm, lg] = await answerLogProbs(s.model, [{ prompt, answer: enc(item.memAnswer) }, { prompt, answer: enc(item.genAnswer) }], h);
      out[name] = { output: r.outputs[0].output, label: r.outputs[0].label, logPMem: lm, logPGen: lg };
    }
    type Row = (typeof out)[string];
    return { item, neurons: top.length, ...out } as { item: EvalItem; neurons: number; baseline: Row; steered: Row; control: Row; matched: Row; direction: Row };
  }

  /** Intra/inter-task consistency between two analyses kept in this session. */
  consistencyOf(keyA: string, keyB: string, topFraction = 0.05): Consistency {
    const a = this.analyses.get(keyA), b = this.analyses.get(keyB);
    if (!a || !b) throw new Error('Both analyses must be run in this session first.');
    const absR = (x: NeuronAnalysis) => Float32Array.from(x.stats.flatMap((s) => Array.from(s.r, Math.abs)));
    return consistency({ top: rankNeurons(statsOf(a.analysis), topFraction), absR: absR(a.analysis) }, { top: rankNeurons(statsOf(b.analysis), topFraction), absR: absR(b.analysis) }, topFraction);
  }

  /**
   * Cross-steering between two analyses of the active model (same neuron positions): B's top set steers the
   * validation prompts beside A's own set and A's random control.
   */
  async crossSteerOf(o: { keyA: string; keyB: string; alpha: number; topFraction: number; controlSeeds?: number; maxPrompts?: number }, onProgress?: (p: Progress) => void): Promise<Consistency> {
    const s = this.need();
    const a = this.analyses.get(o.keyA), b = this.analyses.get(o.keyB);
    if (!a || !b) throw new Error('Both analyses must be run in this session first.');
    if (a.source !== s.info.source || b.source !== s.info.source) throw new Error(`Cross-steering runs on the active model (${s.info.source}); both analyses must come from it.`);
    if (a.task !== s.info.task) throw new Error(`The first analysis (${o.keyA}) must be of the task being steered (${s.info.task}): its own neurons are the reference.`);
    const c = this.consistencyOf(o.keyA, o.keyB, o.topFraction);
    const hooks = a.analysis.hooks.map((h) => ({ name: h.name, dim: h.dim }));
    const { memItems, genItems } = await this.steerItems(s, o.maxPrompts ?? 300, 'greedy');
    c.crossSteer = await this.job('decodes', onProgress, (t) =>
      crossSteering(s.model, s.task, memItems, genItems, rankNeurons(statsOf(a.analysis), o.topFraction), rankNeurons(statsOf(b.analysis), o.topFraction), hooks,
        { alpha: o.alpha, topFraction: o.topFraction, controlSeeds: o.controlSeeds ?? 3, decode: 'greedy', padId: s.padId },
        async (d, total) => { t.report('cross-steering', d, total); await t.checkpoint(); }),
    );
    return c;
  }

  /**
   * Intra-task consistency on the active model: a second, independent set of contrastive pairs (another seed)
   * goes through the same three steps, and its ranking is compared with the current analysis.
   */
  async intraTaskConsistency(o: { seed: number; target: number; timeCapSeconds?: number; topFraction?: number; crossAlpha?: number | number[]; maxPrompts?: number; controlSeeds?: number }, onProgress?: (p: Progress) => void): Promise<Consistency> {
    const s = this.need();
    if (o.seed === (s.pairsSeed ?? 1)) throw new Error(`The current analysis already uses pair seed ${o.seed}: choose another seed for the second set of pairs.`);
    return this.compareWithSecond({ ...o, task: s.info.task, kind: 'intra', label: `pairs seed ${s.pairsSeed ?? 1} vs seed ${o.seed} (${s.info.task})` }, onProgress);
  }

  /**
   * Inter-task consistency on a mixed model (one network trained on several tasks, so neuron positions are
   * shared): the other task's pairs go through the same three steps on the same model, and its top neurons are
   * compared with this task's (overlap, rank agreement) and steer this task's prompts beside its own set and a
   * random control.
   */
  async interTaskConsistency(o: { task: TaskName; seed?: number; target: number; timeCapSeconds?: number; topFraction?: number; crossAlpha?: number | number[]; maxPrompts?: number; controlSeeds?: number }, onProgress?: (p: Progress) => void): Promise<Consistency> {
    const s = this.need();
    const parts = s.info.mixed;
    if (!parts) throw new Error(`Inter-task consistency needs one model trained on several tasks (neuron positions must be shared); the active model was trained on ${s.info.task} only. Train a mixed model (Train page, task "mixed"), or use LLaMA, whose base model is shared.`);
    if (o.task === s.info.task || !parts.includes(o.task)) throw new Error(`Choose another task of this mixed model to compare with ${s.info.task}: ${parts.filter((p) => p !== s.info.task).join(', ')}.`);
    return this.compareWithSecond({ ...o, seed: o.seed ?? s.pairsSeed ?? 1, kind: 'inter', label: `${s.info.task} vs ${o.task} (one model)` }, onProgress);
  }

  /** Runs pairs, recording and analysis a second time (another seed or task), compares, and restores the first. */
  private async compareWithSecond(o: { task: TaskName; seed: number; target: number; kind: 'intra' | 'inter'; label: string; timeCapSeconds?: number; topFraction?: number; crossAlpha?: number | number[]; maxPrompts?: number; controlSeeds?: number }, onProgress?: (p: Progress) => void): Promise<Consistency> {
    const s = this.need();
    if (!s.analysis || !s.storeId) throw new Error('Run the analysis first (three steps on the Neurons page).');
    const first = { analysis: s.analysis, storeId: s.storeId, kept: s.kept, pairSummary: s.pairSummary, pairsSeed: s.pairsSeed, hookSet: s.hookSet, baseline: s.baseline, steering: s.steering, pool: s.pool, task: s.task, info: s.info };
    const firstRuns = { ...s.runs };
    const keyA = analysisKey(s);
    try {
      if (o.task !== s.info.task) this.switchTask(o.task);
      await this.findPairs({ seed: o.seed, target: o.target, timeCapSeconds: o.timeCapSeconds ?? 300 }, onProgress);
      await this.record({ hookSet: first.hookSet }, onProgress);
      await this.analyze({}, onProgress);
      const keyB = analysisKey(s);
      // back on the first task: its prompts are the ones steered, with its own set, the second set and a control
      Object.assign(s, first);
      // cross-steering at each α asked for (a small α may move nothing, a large one may break every output)
      const alphas = Array.isArray(o.crossAlpha) ? o.crossAlpha : [o.crossAlpha ?? 1];
      if (!alphas.length) throw new Error('Give at least one α for cross-steering.');
      const runs: Consistency[] = [];
      for (const alpha of alphas) runs.push(await this.crossSteerOf({ keyA, keyB, alpha, topFraction: o.topFraction ?? 0.05, controlSeeds: o.controlSeeds, maxPrompts: o.maxPrompts }, onProgress));
      const c: Consistency = { ...runs[0], crossSteer: runs.flatMap((r) => r.crossSteer ?? []) };
      s.consistency.push({ label: o.label, kind: o.kind, ...c });
      return c;
    } finally {
      // the second analysis's record and analyze runs stay in the store; the session goes on from the first
      Object.assign(s, first);
      s.runs = firstRuns;
      // the steering run's report now carries the consistency figures too
      if (s.runs.steer) await this.updateReport(s, s.runs.steer).catch(() => undefined);
    }
  }

  /**
   * Keeps one step of the pipeline in the runs store, with its config and its parent (lineage); analysis and
   * steering runs also keep the session's report, which the Report page opens (?page=report&run=<id>).
   */
  private async keepRun(s: Session, kind: RunKind, title: string, config: Record<string, unknown>, summary: Record<string, unknown>, withReport = false): Promise<void> {
    const parentKind: Partial<Record<RunKind, RunKind>> = { record: 'train', analyze: 'record', steer: 'analyze' };
    const parent = parentKind[kind] ? s.runs[parentKind[kind]!] : undefined;
    const r = newRun(kind, title, config, parent);
    r.status = 'done';
    r.summary = summary;
    s.runs[kind] = r.id;
    if (withReport) await this.updateReport(s, r.id, r);
    else await saveRun(r);
  }

  private async updateReport(s: Session, id: string, run?: RunRecord): Promise<void> {
    const r = run ?? (await getRun(id));
    if (!r) return;
    const json = new TextEncoder().encode(JSON.stringify(this.reportOf(s)));
    await saveArtifacts(r, { report: json.buffer as ArrayBuffer });
  }

  /** Everything this session produced, as a report (see src/lib/report/schema.ts). */
  report(backend?: string): Report {
    return this.reportOf(this.need(), backend);
  }

  private reportOf(s: Session, backend?: string): Report {
    const a = s.analysis;
    const f = a ? (a.top['0.05'] ? '0.05' : Object.keys(a.top)[0]) : '';
    return {
      kind: 'memgen-report', version: 1, createdAt: new Date().toISOString(), task: s.info.task,
      model: { kind: s.model.kind, preset: s.info.preset, source: s.info.source, step: s.info.step, backend, ...(s.info.mixed ? { mixed: s.info.mixed } : {}) },
      training: s.training ?? null,
      pairs: s.pairSummary ? { ...s.pairSummary, labelCounts: { ...s.pairSummary.labelCounts } } : null,
      analysis: a
        ? {
            hooks: a.hooks, nMem: a.nMem, nGen: a.nGen,
            r: a.stats.map((x) => Array.from(x.r, (v) => Math.round(v * 1e4) / 1e4)),
            nmd: a.stats.map((x) => Array.from(x.nmd, (v) => Math.round(v * 1e4) / 1e4)),
            layerDistribution: a.layerDistribution, probes: a.probes,
            top: (a.top[f] ?? []).slice(0, 200).map((n) => ({ hook: n.hook, layer: n.layer, index: n.index, r: n.r, nmd: n.nmd, rank: n.rank, ...(n.q === undefined ? {} : { q: n.q }) })),
          }
        : null,
      steering: s.steering ?? null,
      consistency: s.consistency,
    };
  }

  analysisKeys(): string[] {
    return [...this.analyses.keys()];
  }
}

/** How an analysis of this session is named: task, model, hook set and the seed of its pairs. */
function analysisKey(s: Pick<Session, 'info' | 'hookSet' | 'pairsSeed'>): string {
  return `${s.info.task} · ${s.info.source} · ${s.hookSet ?? 'resid'} · pairs seed ${s.pairsSeed ?? 1}`;
}

function statsOf(a: NeuronAnalysis) {
  return a.stats.map((x, i) => ({ ...x, dim: a.hooks[i].dim, nMem: a.nMem, nGen: a.nGen }));
}

function view(a: NeuronAnalysis): AnalysisView {
  return { ...a, stats: a.stats.map((s) => ({ hook: s.hook, layer: s.layer, nmd: s.nmd, r: s.r, q: s.q })) };
}
