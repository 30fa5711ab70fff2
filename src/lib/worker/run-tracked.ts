// One lifecycle for every training run in the worker (GPT-2 training, LLaMA LoRA fine-tuning): a job registered
// with the worker (so cancel and "Cancel all" reach it), progress, pause, cancel, checkpoints that are never kept
// from a lost device or a failed allocation, and one ending for each way a run stops (done, stopped, device lost,
// out of memory, storage full, failed), with the run record saved and let go, and recovery after a device loss.
import { saveRun, StorageFullError, type RunRecord } from '../store/runs';
import { releaseRun } from '../store/run-locks';
import { CancelledError, JobTracker, type Progress } from './jobs';
import { DeviceLostError, GpuOutOfMemoryError, confirmDeviceLoss, isDeviceLost, isOutOfMemoryError, lastDeviceLoss, rebuildWebGPU, takeOutOfMemory } from '../engine/backend';

/** How a run ended: 'lost' (device), 'full' (storage), 'oom' (memory) besides the usual three. */
export type RunEnd = 'done' | 'cancelled' | 'failed' | 'lost' | 'full' | 'oom';
/** What pages are told (a full disk stops the run like a cancel; out of memory fails it). */
export type DoneStatus = 'done' | 'cancelled' | 'failed';

export interface TrackedContext {
  tracker: JobTracker;
  /** Between steps: throws on a lost device, a failed allocation, a cancel; waits while paused. */
  checkpoint: () => Promise<void>;
  /** Before keeping a checkpoint: never keep what a lost device or a failed allocation computed. */
  guard: () => void;
}

export interface TrackedRun<T> {
  jobId: string;
  unit?: string;
  onProgress?: (p: Progress) => void;
  /** Registers the job with the worker's jobs (cancel, "Cancel all"), and lets it go when the run ends. */
  register: (t: JobTracker) => void;
  unregister: (t: JobTracker) => void;
  /** The run's record in the runs store: its status and error are set and saved when it ends. */
  record: RunRecord;
  /** Whether a stopped run can resume from its last checkpoint (paused, interrupted), or only start over. */
  resumable: boolean;
  /** The run itself. */
  body: (ctx: TrackedContext) => Promise<T>;
  /** Said when the user stops the run. */
  stoppedMessage: string;
  /** What to do after running out of memory (advice, and a suggested setting kept in the record's summary). */
  outOfMemory: (e: unknown) => string;
  /** After the body, before the record is saved (attach the best adapter, write the summary...), in any ending. */
  settle?: (end: RunEnd) => void | Promise<void>;
  /** Frees the run's tensors (after a device loss they may not dispose cleanly: errors are ignored). */
  dispose?: () => void;
  /** Told when the record is saved at the end (other tabs watching the run). */
  ended?: (record: RunRecord) => void;
  /** After a lost device is rebuilt: resume from the last checkpoint (absent: the run cannot resume). */
  resume?: () => Promise<string>;
  onNotice?: (message: string) => void;
  onDone?: (status: DoneStatus, message?: string) => void;
}

export interface TrackedResult<T> {
  status: DoneStatus;
  end: RunEnd;
  message?: string;
  value?: T;
}

/** Runs `run.body` under the one run lifecycle; resolves when the run (and any recovery) has ended. */
export async function runTracked<T>(run: TrackedRun<T>): Promise<TrackedResult<T>> {
  const tracker = new JobTracker(run.jobId, run.onProgress, run.unit ?? 'steps');
  run.register(tracker);
  const record = run.record;
  let end: RunEnd = 'done';
  let message: string | undefined;
  let value: T | undefined;
  takeOutOfMemory(); // what happened before this run is not its business
  const guard = () => {
    if (isDeviceLost()) throw new DeviceLostError();
    const m = takeOutOfMemory();
    if (m) throw new GpuOutOfMemoryError(m);
  };
  try {
    value = await run.body({ tracker, guard, checkpoint: async () => { guard(); await tracker.checkpoint(); } });
  } catch (e) {
    if (e instanceof CancelledError) {
      end = 'cancelled';
      message = run.stoppedMessage;
    } else if (e instanceof DeviceLostError || (await confirmDeviceLoss())) {
      end = 'lost';
      message = `The GPU device was lost (${lastDeviceLoss() ?? 'unknown reason'}).`;
    } else if (e instanceof StorageFullError) {
      end = 'full';
      message = e.message;
    } else if (isOutOfMemoryError(e) || takeOutOfMemory()) {
      end = 'oom';
      message = run.outOfMemory(e);
    } else {
      end = 'failed';
      message = (e as Error).message;
    }
  } finally {
    try {
      await run.settle?.(end);
    } catch (e) {
      if (end === 'done') { end = 'failed'; message = (e as Error).message; }
    }
    record.status = recordStatus(end, run.resumable);
    record.error = end === 'failed' || end === 'full' || end === 'oom' || (end === 'lost' && !run.resumable) ? message : undefined;
    try {
      await saveRun(record);
    } catch (e) {
      message = `${message ?? ''} ${(e as Error).message}`.trim();
    }
    releaseRun(record.id); // saveRun lets go too, unless that save failed
    run.ended?.(record);
    run.unregister(tracker);
    try {
      run.dispose?.();
    } catch {
      /* tensors of a lost device may not dispose cleanly */
    }
  }
  if (end === 'lost') {
    const lost = message!;
    if (!run.resume) {
      const m = `${lost} This run cannot resume from where it stopped: reload the model and start it again.`;
      run.onDone?.('failed', m);
      return { status: 'failed', end, message: m, value };
    }
    run.onNotice?.(`${lost} Rebuilding it and resuming from the last checkpoint…`);
    try {
      await rebuildWebGPU();
      run.onNotice?.(await run.resume());
      return { status: 'done', end, message, value };
    } catch (e) {
      const m = `${lost} Rebuilding it and resuming from the last checkpoint… Recovery failed: ${(e as Error).message} Reload the page and resume the run from the list.`;
      run.onDone?.('failed', m);
      return { status: 'failed', end, message: m, value };
    }
  }
  const status: DoneStatus = end === 'full' ? 'cancelled' : end === 'oom' ? 'failed' : (end as DoneStatus);
  run.onDone?.(status, message);
  return { status, end, message, value };
}

/** The record's status: a resumable run that stopped on a fault waits to resume; one that cannot, failed. */
function recordStatus(end: RunEnd, resumable: boolean): RunRecord['status'] {
  if (end === 'done' || end === 'failed' || end === 'cancelled') return end;
  if (!resumable) return 'failed';
  return end === 'lost' ? 'interrupted' : 'paused';
}
