// The analysis session in the worker: the active model and its task, what each pipeline step left (pairs,
// recording, analysis, steering), the analyses kept for consistency, and the lineage of runs in the runs store.
// The steps themselves live in neurons.ts, steering.ts and consistency.ts; the report in report/build.ts.
import type { HookedModel } from '../models/types';
import type { CheckpointHeader } from '../train/checkpoint';
import type { EvalItem, Label, Task, TaskName } from '../tasks/types';
import type { DecodeMode, EvalCounts } from '../train/evaluate';
import type { HookSet, KeptPair, NeuronAnalysis } from '../neurons/pipeline';
import type { SteerCell } from '../steer/experiment';
import type { Report } from '../report/schema';
import { buildReport } from '../report/build';
import { getTask } from '../tasks';
import { getRun, newRun, saveArtifacts, saveRun, type RunKind, type RunRecord } from '../store/runs';
import { JobTracker, type Progress } from './jobs';
import { PIPELINE_DEFAULTS as D } from './defaults';

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
  /** How the pair prompts were decoded and labeled. */
  decode?: DecodeMode;
}

export interface Session {
  model: HookedModel;
  /** Whether this session made the model (and so disposes it); a LLaMA belongs to the LLaMA service. */
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
  /** The pairs analyzed at each recording point (points.ts). */
  recordingPoints?: NonNullable<Report['recordingPoints']>;
  /** Lineage in the runs store: the training run of the checkpoint, then this session's record/analyze/steer runs. */
  runs: Partial<Record<RunKind, string>>;
}

/** What leaves the worker for views: the analysis without the per-hook means (smaller). */
export type AnalysisView = Omit<NeuronAnalysis, 'stats'> & { stats: { hook: string; layer: number; nmd: Float32Array; r: Float32Array; q?: Float64Array }[] };

/** An analysis kept for consistency comparisons, with the task and model it came from. */
export interface KeptAnalysis {
  analysis: NeuronAnalysis;
  task: TaskName;
  source: string;
}

/** The state one step leaves, cleared when another task of a mixed model is analyzed. */
const STEP_STATE = ['kept', 'pairsSeed', 'hookSet', 'pairSummary', 'storeId', 'analysis', 'baseline', 'steering', 'pool', 'recordingPoints'] as const;

/** Holds the session; every pipeline step goes through it (its state, its jobs, its runs). */
export class SessionHost {
  s: Session | null = null;
  readonly analyses = new Map<string, KeptAnalysis>();

  constructor(private readonly register: (t: JobTracker) => void, private readonly unregister: (t: JobTracker) => void) {}

  /** Makes `model` the active model (disposing the previous one if this session made it). */
  start(model: HookedModel, owned: boolean, info: ActiveModelInfo, padId: number, extra: Pick<Session, 'runs'> & Partial<Pick<Session, 'training'>>): ActiveModelInfo {
    this.release();
    this.s = { model, owned, task: getTask(info.task), info, padId, consistency: [], ...extra };
    return info;
  }

  release(): void {
    if (this.s?.owned) this.s.model.dispose();
    this.s = null;
  }

  need(): Session {
    if (!this.s) throw new Error('No model is loaded: pick a trained run or a shipped checkpoint first.');
    return this.s;
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
    for (const k of STEP_STATE) delete s[k];
    const { train } = s.runs;
    s.runs = train ? { train } : {};
    return s.info;
  }

  /** Runs `f` as a job the worker can cancel and pause, reporting progress in `unit`. */
  async job<T>(unit: string, onProgress: ((p: Progress) => void) | undefined, f: (t: JobTracker) => Promise<T>): Promise<T> {
    const t = new JobTracker(`job-${unit}-${Date.now().toString(36)}`, onProgress, unit);
    this.register(t);
    try {
      return await f(t);
    } finally {
      this.unregister(t);
    }
  }

  /**
   * Keeps one step of the pipeline in the runs store, with its config and its parent (lineage); analysis and
   * steering runs also keep the session's report, which the Report page opens (?page=report&run=<id>).
   */
  async keepRun(s: Session, kind: RunKind, title: string, config: Record<string, unknown>, summary: Record<string, unknown>, withReport = false): Promise<void> {
    const parentKind: Partial<Record<RunKind, RunKind>> = { record: 'train', analyze: 'record', steer: 'analyze' };
    const parent = parentKind[kind] ? s.runs[parentKind[kind]!] : undefined;
    const r = newRun(kind, title, config, parent);
    r.status = 'done';
    r.summary = summary;
    s.runs[kind] = r.id;
    if (withReport) await this.updateReport(s, r.id, r);
    else await saveRun(r);
  }

  async updateReport(s: Session, id: string, run?: RunRecord): Promise<void> {
    const r = run ?? (await getRun(id));
    if (!r) return;
    const json = new TextEncoder().encode(JSON.stringify(reportOf(s)));
    await saveArtifacts(r, { report: json.buffer as ArrayBuffer });
  }
}

/** Everything a session produced, as a report (see src/lib/report/schema.ts). */
export function reportOf(s: Session, backend?: string): Report {
  return buildReport({
    task: s.info.task,
    model: { kind: s.model.kind, preset: s.info.preset, source: s.info.source, step: s.info.step, backend, ...(s.info.mixed ? { mixed: s.info.mixed } : {}) },
    training: s.training, pairs: s.pairSummary, analysis: s.analysis, steering: s.steering, consistency: s.consistency, recordingPoints: s.recordingPoints,
  });
}

/** How an analysis of this session is named: task, model, hook set and the seed of its pairs. */
export function analysisKey(s: Pick<Session, 'info' | 'hookSet' | 'pairsSeed'>): string {
  return `${s.info.task} · ${s.info.source} · ${s.hookSet ?? D.record.hookSet} · pairs seed ${s.pairsSeed ?? D.pairs.seed}`;
}

/** Per-hook statistics with what ranking needs (dims, group sizes). */
export function statsOf(a: NeuronAnalysis) {
  return a.stats.map((x, i) => ({ ...x, dim: a.hooks[i].dim, nMem: a.nMem, nGen: a.nGen }));
}

export function view(a: NeuronAnalysis): AnalysisView {
  const { probeModels: _, ...rest } = a; // the probes' weights stay in the worker
  return { ...rest, stats: a.stats.map((s) => ({ hook: s.hook, layer: s.layer, nmd: s.nmd, r: s.r, q: s.q })) };
}
