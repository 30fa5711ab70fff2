// Long jobs in the worker: progress (fraction, rate, ETA) and cooperative cancellation.
export interface Progress {
  jobId: string;
  /** What is being done, in words ("training", "decoding validation prompts"). */
  phase: string;
  done: number;
  total: number;
  fraction: number;
  /** Units per second measured over the units done since the job (re)started, warm-up and pauses left out. */
  rate: number;
  unit: string;
  etaSeconds: number | null;
  message?: string;
  /** The user paused the job: no ETA then. */
  paused?: boolean;
}

export type ProgressFn = (p: Progress) => void;

export class CancelledError extends Error {
  constructor() {
    super('Cancelled by the user.');
    this.name = 'CancelledError';
  }
}

/**
 * Tracks one job's progress. The rate is measured over the units actually done since this tracker's first report
 * (a resumed run starts a new tracker, so the steps restored from a checkpoint never count as done in no time),
 * from the first unit completed after the first report: the warm-up (shader compiles, first allocations) is left
 * out whether the job reports before its first unit or after it. Time spent paused is left out too, and while paused the ETA reads null with `paused` set.
 */
export class JobTracker {
  private firstDone = -1;
  private baseT = -1;
  private baseDone = 0;
  private pausedMs = 0;
  private pausedSince = -1;
  private last: { phase: string; done: number; total: number; message?: string } | null = null;
  cancelled = false;
  paused = false;

  constructor(
    readonly jobId: string,
    private readonly onProgress: ProgressFn | undefined,
    public unit = 'steps',
    /** The clock (tests pass a fake one). */
    private readonly now: () => number = () => performance.now(),
  ) {}

  throwIfCancelled(): void {
    if (this.cancelled) throw new CancelledError();
  }

  /** Waits while paused; throws if cancelled. Yields to the event loop so messages get through. */
  async checkpoint(): Promise<void> {
    await new Promise((r) => setTimeout(r, 0));
    if (this.paused && !this.cancelled) {
      this.setPaused(true);
      while (this.paused && !this.cancelled) await new Promise((r) => setTimeout(r, 100));
      this.setPaused(false);
    }
    this.throwIfCancelled();
  }

  /** Marks the start or end of a pause (the paused time is not counted in the rate) and reports it. */
  setPaused(on: boolean): void {
    const t = this.now();
    if (on && this.pausedSince < 0) this.pausedSince = t;
    if (!on && this.pausedSince >= 0) {
      this.pausedMs += t - this.pausedSince;
      this.pausedSince = -1;
    }
    if (this.last) this.report(this.last.phase, this.last.done, this.last.total, this.last.message);
  }

  /** Units per second since the first report, paused time left out; 0 until a unit was done after it. */
  rate(done: number): number {
    if (this.baseT < 0 || done <= this.baseDone) return 0;
    const now = this.pausedSince >= 0 ? this.pausedSince : this.now();
    const sec = (now - this.baseT - this.pausedMs) / 1000;
    return sec > 0 ? (done - this.baseDone) / sec : 0;
  }

  report(phase: string, done: number, total: number, message?: string): Progress {
    if (this.firstDone < 0 || done < this.firstDone) {
      this.firstDone = done;
      this.baseT = -1;
    } else if (this.baseT < 0 && done > this.firstDone) {
      // the first unit done after the first report ends the warm-up: count from here
      this.baseT = this.now();
      this.baseDone = done;
      this.pausedMs = 0;
    }
    this.last = { phase, done, total, message };
    const rate = this.rate(done);
    const paused = this.pausedSince >= 0;
    const p: Progress = {
      jobId: this.jobId,
      phase,
      done,
      total,
      fraction: total > 0 ? Math.min(1, done / total) : 0,
      rate,
      unit: this.unit,
      etaSeconds: paused ? null : rate > 0 && total > done ? (total - done) / rate : total <= done ? 0 : null,
      message,
      paused,
    };
    this.onProgress?.(p);
    return p;
  }
}

/** The progress to leave on screen once a job ended, so a stale phase ("decoding validation prompts 6/6") never stays. */
export function endedProgress(p: Progress | null, status: 'done' | 'stopped' | 'failed'): Progress | null {
  if (!p) return null;
  const phase = status === 'done' ? 'finished' : status === 'stopped' ? 'stopped' : 'failed';
  const done = status === 'done' ? p.total : p.done;
  return { ...p, phase, done, fraction: p.total > 0 ? Math.min(1, done / p.total) : 0, etaSeconds: null, rate: 0, message: undefined, paused: false };
}

export function formatEta(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '…';
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}
