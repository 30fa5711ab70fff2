// Long jobs in the worker: progress (fraction, rate, ETA) and cooperative cancellation.
export interface Progress {
  jobId: string;
  /** What is being done, in words ("training", "decoding validation prompts"). */
  phase: string;
  done: number;
  total: number;
  fraction: number;
  /** Units per second over the recent window. */
  rate: number;
  unit: string;
  etaSeconds: number | null;
  message?: string;
}

export type ProgressFn = (p: Progress) => void;

export class CancelledError extends Error {
  constructor() {
    super('Cancelled by the user.');
    this.name = 'CancelledError';
  }
}

/** Tracks one job's progress; rate is an exponential moving average so the ETA does not jitter. */
export class JobTracker {
  private start = performance.now();
  private lastT = this.start;
  private lastDone = 0;
  private ema = 0;
  cancelled = false;
  paused = false;

  constructor(
    readonly jobId: string,
    private readonly onProgress: ProgressFn | undefined,
    public unit = 'steps',
  ) {}

  throwIfCancelled(): void {
    if (this.cancelled) throw new CancelledError();
  }

  /** Waits while paused; throws if cancelled. Yields to the event loop so messages get through. */
  async checkpoint(): Promise<void> {
    await new Promise((r) => setTimeout(r, 0));
    while (this.paused && !this.cancelled) await new Promise((r) => setTimeout(r, 100));
    this.throwIfCancelled();
  }

  report(phase: string, done: number, total: number, message?: string): Progress {
    const now = performance.now();
    const dt = (now - this.lastT) / 1000;
    if (dt > 0 && done >= this.lastDone) {
      const inst = (done - this.lastDone) / dt;
      this.ema = this.ema === 0 ? inst : 0.8 * this.ema + 0.2 * inst;
      this.lastT = now;
      this.lastDone = done;
    }
    const rate = this.ema;
    const p: Progress = {
      jobId: this.jobId,
      phase,
      done,
      total,
      fraction: total > 0 ? Math.min(1, done / total) : 0,
      rate,
      unit: this.unit,
      etaSeconds: rate > 0 && total > done ? (total - done) / rate : total <= done ? 0 : null,
      message,
    };
    this.onProgress?.(p);
    return p;
  }
}

export function formatEta(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '…';
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}
