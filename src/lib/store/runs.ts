// Runs and their artifacts (checkpoints, reports) in IndexedDB, through idb-keyval.
// Every run (training, recording, analysis, steering) is one record with its config and lineage
// (`parent`); large artifacts are separate keys so listing runs never loads them.
import { createStore, del, get, keys, promisifyRequest, set, type UseStore } from 'idb-keyval';
import { ActivationStore } from './activations';
import { claimRun, liveRunIds, releaseRun, whenUnowned } from './run-locks';

export type RunKind = 'train' | 'record' | 'analyze' | 'steer';
export type RunStatus = 'running' | 'paused' | 'done' | 'cancelled' | 'failed' | 'interrupted';

export interface RunRecord {
  id: string;
  kind: RunKind;
  title: string;
  status: RunStatus;
  config: Record<string, unknown>;
  /** The run this one was made from (e.g. the training run a recording used). */
  parent?: string;
  createdAt: string;
  updatedAt: string;
  /** Small figures shown in lists (step, loss, best mem/gen...). */
  summary: Record<string, unknown>;
  /** Artifact name -> key in the artifact store ("best", "latest" checkpoints...). */
  artifacts: Record<string, string>;
  error?: string;
}

let runsStore: UseStore | null = null;
let blobStore: UseStore | null = null;
function stores(): { runs: UseStore; blobs: UseStore } {
  runsStore ??= createStore('memgen-runs', 'runs');
  blobStore ??= createStore('memgen-artifacts', 'artifacts');
  return { runs: runsStore, blobs: blobStore };
}

export class StorageFullError extends Error {
  constructor(readonly bytesNeeded: number, what: string) {
    super(
      `The browser's storage for this site is full: saving ${what} needs about ${(bytesNeeded / 2 ** 20).toFixed(1)} MB more. ` +
        'Free space on the Runs page (delete old runs or recordings) or allow more storage, then resume: what was saved before is intact.',
    );
    this.name = 'StorageFullError';
  }
}

function isQuota(e: unknown): boolean {
  const n = (e as { name?: string })?.name ?? '';
  return n === 'QuotaExceededError' || /quota/i.test(String((e as Error)?.message ?? ''));
}

async function guarded<T>(what: string, bytes: number, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (isQuota(e)) throw new StorageFullError(bytes, what);
    throw e;
  }
}

/**
 * Stores the record. Saving it as "running" takes the run's lock for this tab first (run-locks.ts), and throws
 * RunLiveElsewhereError when another tab owns it; saving it in any other state lets the lock go.
 */
export async function saveRun(r: RunRecord): Promise<void> {
  if (r.status === 'running') await claimRun(r.id, r.title);
  r.updatedAt = new Date().toISOString();
  try {
    await guarded(`run "${r.title}"`, 4096, () => set(r.id, r, stores().runs));
  } finally {
    if (r.status !== 'running') releaseRun(r.id);
  }
}

export async function getRun(id: string): Promise<RunRecord | undefined> {
  return get<RunRecord>(id, stores().runs);
}

export async function listRuns(kind?: RunKind): Promise<RunRecord[]> {
  const s = stores().runs;
  const ks = (await keys(s)) as string[];
  const rs = (await Promise.all(ks.map((k) => get<RunRecord>(k, s)))).filter((r): r is RunRecord => Boolean(r));
  return rs.filter((r) => !kind || r.kind === kind).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/** Saves an artifact and the run that points to it in one go (the run never points at a missing artifact). */
export async function saveArtifact(run: RunRecord, name: string, data: ArrayBuffer): Promise<string> {
  const key = `${run.id}/${name}`;
  await guarded(`${name} of "${run.title}"`, data.byteLength, () => set(key, data, stores().blobs));
  run.artifacts = { ...run.artifacts, [name]: key };
  await saveRun(run);
  return key;
}

/** Writes several artifacts in one transaction. */
/**
 * Stores artifacts, then the record pointing at them. `summary` (what the new checkpoint describes: its step...)
 * replaces the record's only once the artifacts are stored, so a failed save never lists a step it did not keep.
 */
export async function saveArtifacts(run: RunRecord, items: Record<string, ArrayBuffer>, summary?: Record<string, unknown>): Promise<void> {
  const entries = Object.entries(items).map(([name, data]) => [`${run.id}/${name}`, data] as [string, ArrayBuffer]);
  const bytes = entries.reduce((a, [, d]) => a + d.byteLength, 0);
  await guarded(`artifacts of "${run.title}"`, bytes, () => putAll(entries, stores().blobs));
  for (const [name] of Object.entries(items)) run.artifacts = { ...run.artifacts, [name]: `${run.id}/${name}` };
  if (summary) run.summary = summary;
  await saveRun(run);
}

/**
 * All entries in one transaction. Unlike idb-keyval's setMany, a put() that throws (a value that cannot be
 * cloned, an injected fault) aborts the transaction, so no entry is left behind unreferenced.
 */
function putAll(entries: [string, ArrayBuffer][], store: UseStore): Promise<void> {
  return store('readwrite', (s) => {
    try {
      for (const [k, v] of entries) s.put(v, k);
    } catch (e) {
      s.transaction.abort();
      throw e;
    }
    return promisifyRequest(s.transaction).then(() => undefined);
  });
}

export async function loadArtifact(key: string): Promise<ArrayBuffer | undefined> {
  return get<ArrayBuffer>(key, stores().blobs);
}

export async function deleteRun(id: string): Promise<void> {
  const r = await getRun(id);
  // a recording run owns its activation store (the bulk of the space)
  if (r?.kind === 'record' && typeof r.config.storeId === 'string') await ActivationStore.delete(r.config.storeId);
  if (r) for (const key of Object.values(r.artifacts)) await del(key, stores().blobs);
  // Also every "{id}/..." key the record does not list (left by a save that failed after writing): frees space.
  await stores().blobs('readwrite', (s) => {
    s.delete(IDBKeyRange.bound(`${id}/`, `${id}/\uffff`));
    return promisifyRequest(s.transaction);
  });
  await del(id, stores().runs);
}

/**
 * Runs left "running" by a closed tab or reload become "interrupted" (offered for resume); a run whose owner
 * (this tab or another) still holds its lock is live and left alone.
 */
export async function markInterrupted(): Promise<RunRecord[]> {
  const live = await liveRunIds();
  const rs = (await listRuns()).filter((r) => (r.status === 'running' || r.status === 'paused') && !live.has(r.id));
  for (const r of rs) {
    r.status = 'interrupted';
    await saveRun(r);
  }
  return rs;
}

/**
 * For a run live in another tab: waits until its owner lets go, then marks it "interrupted" if it was left
 * "running" (the owner's tab closed or reloaded); returns the record as it is then.
 */
export async function interruptWhenOrphaned(id: string): Promise<RunRecord | undefined> {
  return whenUnowned(id, async () => {
    const r = await getRun(id);
    if (r?.status === 'running') {
      r.status = 'interrupted';
      await saveRun(r);
    }
    return r;
  });
}

/** A status in the words pages show (a run the user stopped is stored as "cancelled", and resumable). */
export function statusLabel(s: RunStatus): string {
  return s === 'cancelled' ? 'stopped' : s;
}

export function newRun(kind: RunKind, title: string, config: Record<string, unknown>, parent?: string): RunRecord {
  const now = new Date().toISOString();
  return {
    id: `${kind}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`,
    kind, title, status: 'running', config, parent, createdAt: now, updatedAt: now, summary: {}, artifacts: {},
  };
}
