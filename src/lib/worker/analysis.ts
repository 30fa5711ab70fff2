import * as Comlink from 'comlink';
// `lab.analysis`: neurons and steering on the active model, as pages call them through Comlink. Each method is one
// line into the module that does the job: the session (session.ts), steps 1-3 (neurons.ts), steering
// (steering.ts), consistency (consistency.ts); the report is built in report/build.ts. Written once against the
// HookedModel interface, so any model (GPT-2, LLaMA) goes through the same code.
import { getOps, type OpsImpl } from '../models/gpt2';
import type { HookedModel } from '../models/types';
import type { Label, TaskName } from '../tasks/types';
import type { DecodeMode, EvalCounts } from '../train/evaluate';
import type { HookSet, PairSearchOptions } from '../neurons/pipeline';
import type { Consistency, SteerCell } from '../steer/experiment';
import type { Direction } from '../steer/steer';
import type { Report } from '../report/schema';
import { gpt2FromCheckpoint } from '../train/checkpoint-model';
import { trainingSection } from '../report/build';
import { readCheckpointBytes, type CheckpointSource } from '../store/checkpoints';
import type { JobTracker, Progress } from './jobs';
import { SessionHost, reportOf, view, type ActiveModelInfo, type AnalysisView, type PairSummary, type SteeringResult } from './session';
import * as neurons from './neurons';
import * as steering from './steering';
import * as cons from './consistency';
import * as points from './points';
import * as neuron from './neuron';

export type { ActiveModelInfo, AnalysisView, PairSummary, SteerPool, SteeringResult } from './session';
export { modelLabel } from './neurons';

type OnProgress = ((p: Progress) => void) | undefined;

export class AnalysisService {
  /** Reached from pages as a nested Comlink proxy (`lab.analysis.method()`). */
  readonly [Comlink.proxyMarker] = true;
  /** The session: active model, task, what each step left, lineage. */
  readonly host: SessionHost;
  opsImpl: OpsImpl = 'fused';

  constructor(register: (t: JobTracker) => void, unregister: (t: JobTracker) => void) {
    this.host = new SessionHost(register, unregister);
  }

  /** Makes a stored training run's best checkpoint (or a checkpoint file) the active model. */
  async useCheckpoint(src: CheckpointSource & { task?: TaskName }): Promise<ActiveModelInfo> {
    const { buf, label } = await readCheckpointBytes(src);
    const ck = gpt2FromCheckpoint(buf, src.task);
    const h = ck.header;
    this.host.release();
    const model = ck.build(getOps(this.opsImpl));
    const info: ActiveModelInfo = { source: label, task: ck.task, ...(ck.parts ? { mixed: ck.parts } : {}), preset: h.preset, step: h.step, dims: model.dims, hooks: model.hookNames(), eval: h.eval };
    return this.host.start(model, true, info, ck.padId, { training: trainingSection(h), runs: src.runId ? { train: src.runId } : {} });
  }

  /** Any HookedModel (e.g. LLaMA) can become the active model through this. */
  useModel(model: HookedModel, task: TaskName, source: string, padId = 0): ActiveModelInfo {
    const info: ActiveModelInfo = { source, task, preset: model.kind, step: 0, dims: model.dims, hooks: model.hookNames(), eval: null };
    return this.host.start(model, false, info, padId, { runs: {} });
  }

  /** A mixed model: analyze another of its tasks (see SessionHost.switchTask). */
  switchTask(task: TaskName): ActiveModelInfo { return this.host.switchTask(task); }

  active(): ActiveModelInfo | null { return this.host.s?.info ?? null; }

  /** What the session holds, so a page opened later shows the work done elsewhere (e.g. the guided path). */
  sessionState(): { active: ActiveModelInfo | null; pairs: PairSummary | null; storeId: string | null; analysis: AnalysisView | null; steering: SteeringResult | null } {
    const s = this.host.s;
    return { active: s?.info ?? null, pairs: s?.pairSummary ?? null, storeId: s?.storeId ?? null, analysis: s?.analysis ? view(s.analysis) : null, steering: s?.steering ?? null };
  }

  findPairs(o: Partial<PairSearchOptions>, onProgress?: OnProgress): Promise<PairSummary> {
    return neurons.findPairs(this.host, o, onProgress);
  }

  record(o: { hookSet?: HookSet; dtype?: 'float32' | 'float16'; batch?: number; resumeId?: string }, onProgress?: OnProgress): Promise<{ storeId: string; rows: number; bytes: number }> {
    return neurons.record(this.host, o, onProgress);
  }

  analyze(o: { topFractions?: number[]; welch?: boolean; probe?: boolean } = {}, onProgress?: OnProgress): Promise<AnalysisView> {
    return neurons.analyze(this.host, o, onProgress);
  }

  neuronValues(hook: string, index: number): Promise<{ mem: Float32Array; gen: Float32Array }> {
    return neurons.neuronValues(this.host, hook, index);
  }

  /** One neuron's page: r, NMD, q, rank, its activations on mem vs gen, and the prompts that drive it most and least. */
  neuronProfile(hook: string, index: number, k?: number): Promise<neuron.NeuronProfile> {
    return neuron.sessionNeuronProfile(this.host, hook, index, k);
  }

  /** Steering one neuron alone (Mem -> Gen and Gen -> Mem at each α) beside the matched control, on fresh prompts. */
  steerNeuron(o: Parameters<typeof neuron.sessionSteerNeuron>[1], onProgress?: OnProgress): Promise<SteerCell[]> {
    return neuron.sessionSteerNeuron(this.host, o, onProgress);
  }

  /** Steer's default prompt: the first validation prompt answered `label`-wise without steering. */
  firstPromptLabeled(label: Label, decode?: DecodeMode, limit?: number): Promise<number | null> {
    return neuron.firstPromptLabeled(this.host, label, decode, limit);
  }

  /** Measured speed of the three Neurons steps here (a shared link's recompute ETA). */
  measurePipeline(o?: { n?: number; decode?: DecodeMode }): ReturnType<typeof neuron.measurePipeline> {
    return neuron.measurePipeline(this.host, o);
  }

  baseline(decode?: DecodeMode, onProgress?: OnProgress): Promise<EvalCounts> {
    return steering.baseline(this.host, decode, onProgress);
  }

  sweep(o: steering.SweepOptions, onProgress?: OnProgress): Promise<SteeringResult> {
    return steering.sweep(this.host, o, onProgress);
  }

  tryPrompt(o: { prompt?: string; itemIndex?: number; alpha: number; topFraction: number; direction: Direction; controlSeed?: number; decode?: DecodeMode }) {
    return steering.tryPrompt(this.host, o);
  }

  consistencyOf(keyA: string, keyB: string, topFraction?: number): Consistency {
    return cons.consistencyOf(this.host, keyA, keyB, topFraction);
  }

  crossSteerOf(o: { keyA: string; keyB: string; alpha: number; topFraction: number; controlSeeds?: number; maxPrompts?: number; decode?: DecodeMode }, onProgress?: OnProgress): Promise<Consistency> {
    return cons.crossSteerOf(this.host, o, onProgress);
  }

  intraTaskConsistency(o: cons.SecondSetOptions & { seed: number }, onProgress?: OnProgress): Promise<Consistency> {
    return cons.intraTaskConsistency(this.host, o, onProgress);
  }

  interTaskConsistency(o: cons.SecondSetOptions & { task: TaskName; seed?: number }, onProgress?: OnProgress): Promise<Consistency> {
    return cons.interTaskConsistency(this.host, o, onProgress);
  }

  /** The kept pairs recorded, ranked, probed and steered at each recording point, side by side (report table recording-points). */
  compareRecordingPoints(o: points.PointsOptions, onProgress?: OnProgress): Promise<NonNullable<Report['recordingPoints']>> {
    return points.compareRecordingPoints(this.host, o, onProgress);
  }

  /** Everything this session produced, as a report (see src/lib/report/schema.ts). */
  report(backend?: string): Report {
    return reportOf(this.host.need(), backend);
  }

  analysisKeys(): string[] { return [...this.host.analyses.keys()]; }
}
