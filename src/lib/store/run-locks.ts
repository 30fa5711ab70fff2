// One owner per live run, across tabs: the context (a tab's worker) that saves a run as "running" holds the
// run's Web Lock until it saves it in another state, or until the tab closes (the browser then releases it).
// Another tab sees the lock: it does not mark the run "interrupted", and cannot resume it (saveRun refuses), so
// two trainers never write one run. Where Web Locks are missing (Node tests) there is only one context.

const PREFIX = 'memgen-run:';

export class RunLiveElsewhereError extends Error {
  constructor(readonly runId: string, title: string) {
    super(`"${title}" is live in another tab of the lab, which owns it. Watch it from the run list, or close that tab to take it over.`);
    this.name = 'RunLiveElsewhereError';
  }
}

function lockManager(): LockManager | undefined {
  return (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
}

/** Releases of the locks this context holds, by run id (a pending claim is a promise of one). */
const held = new Map<string, Promise<(() => void) | null>>();

/** Takes the run's lock for this context (no-op if it has it); throws RunLiveElsewhereError if another holds it. */
export async function claimRun(id: string, title: string): Promise<void> {
  const locks = lockManager();
  if (!locks) return;
  let claim = held.get(id);
  if (!claim) {
    claim = new Promise((resolve) => {
      void locks.request(PREFIX + id, { ifAvailable: true }, (lock) => {
        if (!lock) return resolve(null);
        // the lock is held until this promise settles
        return new Promise<void>((release) => resolve(() => release()));
      });
    });
    held.set(id, claim);
  }
  if (!(await claim)) {
    held.delete(id);
    throw new RunLiveElsewhereError(id, title);
  }
}

/** Lets go of the run's lock if this context holds it. */
export function releaseRun(id: string): void {
  const claim = held.get(id);
  held.delete(id);
  void claim?.then((release) => release?.());
}

/**
 * Runs `f` once no context owns the run (at once if none does): the owner finished it, or its tab was closed
 * or reloaded. `f` runs holding the lock, so no owner can start meanwhile.
 */
export async function whenUnowned<T>(id: string, f: () => Promise<T>): Promise<T> {
  const locks = lockManager();
  if (!locks) return f();
  return locks.request(PREFIX + id, () => f());
}

/** Ids of runs whose lock some context (this tab or another) holds now. */
export async function liveRunIds(): Promise<Set<string>> {
  const locks = lockManager();
  if (!locks) return new Set([...held.keys()]);
  const snap = await locks.query();
  return new Set((snap.held ?? []).map((l) => l.name ?? '').filter((n) => n.startsWith(PREFIX)).map((n) => n.slice(PREFIX.length)));
}

/** Progress of live training runs, posted by the worker that owns each, for other tabs that watch. */
export const RUN_PROGRESS_CHANNEL = 'memgen-run-progress';

export interface RunProgressMessage {
  runId: string;
  step: number;
  steps: number;
  loss?: number;
  /** Set when the run stops being live (done, paused, failed...). */
  ended?: string;
}
