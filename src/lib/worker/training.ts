import * as Comlink from 'comlink';
// Training service inside the worker: runs one TrainRun at a time, reports progress and events,
// saves checkpoints to IndexedDB (latest + best by the paper's rule), and resumes interrupted runs.
import * as tf from '@tensorflow/tfjs';
import { TrainRun, defaultTrainConfig, modelConfigFor, type EvalEntry, type LogEntry, type TrainConfig } from '../train/trainer';
import { decodeCheckpoint, type CheckpointHeader } from '../train/checkpoint';
import { getOps, type OpsImpl } from '../models/gpt2';
import { getRun, loadArtifact, newRun, saveArtifacts, saveRun, type RunRecord } from '../store/runs';
import { claimRun, releaseRun, RUN_PROGRESS_CHANNEL, type RunProgressMessage } from '../store/run-locks';
import type { JobTracker, Progress } from './jobs';
import { GpuOutOfMemoryError } from '../engine/backend';
import { runTracked } from './run-tracked';
import { checkTrainFits, outOfMemoryAdvice } from '../train/memory';
import type { TaskName } from '../tasks/types';
import type { PresetName } from '../models/gpt2/config';

/** Pages pass every member (Comlink proxies the whole object, so a missing one fails when called). */
export interface TrainEvents {
  onStart?: (info: { jobId: string; runId: string; step: number; config: TrainConfig; params: number; log: LogEntry[]; evals: EvalEntry[] }) => void;
  onLog?: (e: LogEntry) => void;
  onEval?: (e: EvalEntry, isBest: boolean) => void;
  onProgress?: (p: Progress) => void;
  onDone?: (status: 'done' | 'cancelled' | 'failed', message?: string) => void;
  /** Something the user should know that does not end the run (device lost and recovered...). */
  onNotice?: (message: string) => void;
}

export interface SpeedProbe {
  backend: string;
  task: TaskName | 'mixed';
  preset: PresetName;
  batchSize: number;
  gradAccum: number;
  steps: number;
  stepsPerSec: number;
  warmupSec: number;
}

export class TrainingService {
  /** Reached from pages as a nested Comlink proxy (`lab.training.method()`). */
  readonly [Comlink.proxyMarker] = true;
  private current: { run: TrainRun; tracker: JobTracker; record: RunRecord } | null = null;
  /** Kernel implementation for new runs ('fused' lab kernels or 'stock' tfjs ops). */
  opsImpl: OpsImpl = 'fused';

  constructor(private readonly register: (t: JobTracker) => void, private readonly unregister: (t: JobTracker) => void) {}

  setOpsImpl(impl: OpsImpl): void {
    getOps(impl); // throws if that op set is not loaded
    this.opsImpl = impl;
  }

  defaults(task: TaskName | 'mixed', preset: PresetName): TrainConfig {
    return defaultTrainConfig(task, preset);
  }

  /**
   * A short speed probe: the preset's training step at its default batch, one warm-up step (shader compiles, first
   * allocations) timed apart, then `steps` timed steps. Nothing is stored. Used in a fresh worker per backend.
   */
  async probeSpeed(task: TaskName | 'mixed', preset: PresetName, steps = 2): Promise<SpeedProbe> {
    this.assertIdle();
    const cfg = { ...defaultTrainConfig(task, preset), steps: steps + 1 };
    const run = TrainRun.create(cfg, getOps(this.opsImpl), 'speed-probe');
    try {
      let t = performance.now();
      await run.trainStep();
      const warmupSec = (performance.now() - t) / 1000;
      t = performance.now();
      for (let i = 0; i < steps; i++) await run.trainStep();
      const sec = (performance.now() - t) / 1000;
      return { backend: tf.getBackend(), task, preset, batchSize: cfg.batchSize, gradAccum: cfg.gradAccum, steps, stepsPerSec: steps / sec, warmupSec };
    } finally {
      run.dispose();
    }
  }

  isRunning(): boolean {
    return this.current !== null;
  }

  /** Starts a new run; returns at once, the loop reports through `events`. */
  async start(cfg: TrainConfig, events: TrainEvents): Promise<{ jobId: string; runId: string }> {
    this.assertIdle();
    this.checkFits(cfg);
    const run = TrainRun.create(cfg, getOps(this.opsImpl));
    const what = cfg.task === 'mixed' ? `mixed ${(cfg.tasks ?? []).join('+')}` : cfg.task;
    const record = newRun('train', `GPT-2 ${cfg.preset} on ${what} (seed ${cfg.seed})`, { ...cfg });
    record.id = run.id;
    await saveRun(record);
    return this.launch(run, record, events);
  }

  /**
   * On WebGPU, refuses (before anything is allocated) a setting whose largest tensor is over the device's
   * per-buffer cap, with the largest batch that fits.
   */
  private checkFits(cfg: TrainConfig): void {
    if (tf.getBackend() !== 'webgpu') return;
    const dev = (tf.backend() as unknown as { device?: GPUDevice }).device;
    if (!dev) return;
    checkTrainFits(modelConfigFor(cfg), cfg.batchSize, cfg.gradAccum, dev.limits as unknown as Record<string, number>, cfg.preset);
  }

  /**
   * Resumes a stored run from its latest checkpoint; `change` sets a new micro-batch and accumulation (after
   * the GPU ran out of memory, the lab suggests half the batch and twice the accumulation).
   */
  async resume(runId: string, events: TrainEvents, change?: { batchSize?: number; gradAccum?: number; steps?: number }): Promise<{ jobId: string; runId: string }> {
    this.assertIdle();
    const record = await getRun(runId);
    if (!record) throw new Error(`No stored run "${runId}" (it may have been deleted).`);
    await claimRun(record.id, record.title); // one owner per run: refused while another tab trains it
    try {
      return await this.resumeOwned(record, events, change);
    } catch (e) {
      releaseRun(record.id);
      throw e;
    }
  }

  private async resumeOwned(record: RunRecord, events: TrainEvents, change?: { batchSize?: number; gradAccum?: number; steps?: number }): Promise<{ jobId: string; runId: string }> {
    const key = record.artifacts.latest;
    if (!key) throw new Error(`Run "${record.title}" has no checkpoint yet: it stopped before its first evaluation. Start it again.`);
    const buf = await loadArtifact(key);
    if (!buf) throw new Error(`The checkpoint of "${record.title}" is missing from storage. Start the run again.`);
    if (change) {
      const next = { ...record.config, ...change } as unknown as TrainConfig;
      this.checkFits(next);
      record.config = { ...record.config, ...change };
    }
    const run = TrainRun.fromCheckpoint(buf, getOps(this.opsImpl), change);
    record.status = 'running';
    record.error = undefined;
    await saveRun(record);
    return this.launch(run, record, events);
  }

  private assertIdle(): void {
    if (this.current) throw new Error('A training run is already going: pause or cancel it first.');
  }

  private launch(run: TrainRun, record: RunRecord, events: TrainEvents): { jobId: string; runId: string } {
    const jobId = `train-${run.id}`;
    const params = Object.values(run.model.params).reduce((a, p) => a + p.size, 0);
    let tracker: JobTracker | null = null;
    void runTracked({
      jobId, onProgress: events.onProgress, record, resumable: true,
      register: (t) => {
        tracker = t;
        this.current = { run, tracker: t, record };
        this.register(t);
        events.onStart?.({ jobId, runId: run.id, step: run.step, config: run.cfg, params, log: run.log, evals: run.evals });
      },
      unregister: (t) => this.unregister(t),
      body: ({ checkpoint, guard }) =>
        run.run({
          checkpoint,
          onLog: (e) => {
            events.onLog?.(e);
            this.broadcast({ runId: record.id, step: e.step, steps: run.cfg.steps, loss: e.loss });
            tracker!.report('training', e.step, run.cfg.steps, `loss ${e.loss.toFixed(4)}`);
          },
          onEvalProgress: (d, t) => tracker!.report('decoding validation prompts', run.step, run.cfg.steps, `${d}/${t} prompts`),
          onEval: (e, isBest) => events.onEval?.(e, isBest),
          onCheckpoint: async (buf, header, isBest) => {
            guard(); // never save what a lost device or a failed allocation computed
            const items: Record<string, ArrayBuffer> = { latest: buf };
            if (isBest) items.best = buf;
            await saveArtifacts(record, items, summarize(run, header)); // the summary moves only once the checkpoint is kept
          },
        }),
      stoppedMessage: 'Stopped. The last checkpoint is kept; resume from the run list.',
      outOfMemory: (e) => {
        const advice = outOfMemoryAdvice(run.model.config, run.cfg.batchSize, run.cfg.gradAccum, run.cfg.preset);
        record.summary = { ...record.summary, suggested: { batchSize: advice.batchSize, gradAccum: advice.gradAccum } };
        return `${e instanceof GpuOutOfMemoryError ? e.message : `The GPU ran out of memory (${(e as Error).message}).`} Training is paused at the last checkpoint (step ${(record.summary.step as number | undefined) ?? 0}); nothing saved was lost. ${advice.text}`;
      },
      ended: () => this.broadcast({ runId: record.id, step: run.step, steps: run.cfg.steps, ended: record.status }),
      dispose: () => {
        this.current = null;
        run.dispose();
      },
      resume: async () => {
        if (!record.artifacts.latest) throw new Error('The run had no checkpoint yet, so it starts over: press Start again.');
        await this.resume(record.id, events);
        return `The GPU device was rebuilt; training resumed from step ${(record.summary.step as number | undefined) ?? 0}.`;
      },
      onNotice: (m) => events.onNotice?.(m),
      onDone: (status, message) => events.onDone?.(status, message),
    });
    return { jobId, runId: run.id };
  }

  /** Validates a checkpoint file and stores it as a finished run (upload, or a shipped model). */
  async importCheckpoint(buf: ArrayBuffer, title?: string): Promise<RunRecord> {
    const ck = decodeCheckpoint(buf); // throws a CheckpointFormatError naming the problem
    const h = ck.header;
    const record = newRun('train', title ?? `Imported ${h.preset} on ${h.task} (step ${h.step})`, { ...h.train, imported: true });
    record.status = 'done';
    const evals = h.log.filter((e) => 'gen' in e);
    record.summary = { step: h.step, steps: (h.train as { steps?: number }).steps ?? h.step, best: h.eval, evals, task: h.task, preset: h.preset };
    await saveArtifacts(record, { latest: buf, best: buf });
    return record;
  }

  /** Id of the run this worker trains now, or null. */
  liveRunId(): string | null {
    return this.current?.record.id ?? null;
  }

  private channel: BroadcastChannel | null = null;
  /** Tells other tabs watching a run how it goes (they cannot drive it: this worker owns it). */
  private broadcast(m: RunProgressMessage): void {
    if (typeof BroadcastChannel === 'undefined') return;
    this.channel ??= new BroadcastChannel(RUN_PROGRESS_CHANNEL);
    this.channel.postMessage(m);
  }

  memory(): tf.MemoryInfo {
    return tf.memory();
  }
}

function summarize(run: TrainRun, header: Omit<CheckpointHeader, 'tensors'>): Record<string, unknown> {
  const last = run.log[run.log.length - 1];
  return {
    step: run.step,
    steps: run.cfg.steps,
    loss: last?.loss,
    best: run.best,
    evals: run.evals,
    task: header.task,
    preset: header.preset,
  };
}

export { decodeCheckpoint };
