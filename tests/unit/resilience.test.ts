// A full disk and damaged stored data, on fake-indexeddb: a QuotaExceededError injected into IndexedDB writes
// must become the lab's StorageFullError / StoreQuotaError naming the megabytes and what to do, leave what was
// stored before readable, and let the same save succeed once space is back. Stored activation manifests that
// were tampered with must be refused on open with a message, never a RangeError or a giant allocation.
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { createStore, set as idbSet } from 'idb-keyval';
import { deleteRun, getRun, listRuns, loadArtifact, newRun, saveArtifact, saveArtifacts, saveRun, StorageFullError } from '../../src/lib/store/runs';
import { ActivationStore, StoreQuotaError, kvStore, type ActivationManifest } from '../../src/lib/store';
import { mutateJSON } from '../../src/lib/util/fuzz';
import { Rng } from '../../src/lib/util/rng';

const realPut = IDBObjectStore.prototype.put;

/**
 * Makes IndexedDB puts fail as a full disk does, from the `after`-th put on (0: every put).
 * Chromium reports quota as a DOMException named QuotaExceededError.
 */
function fillDisk(after = 0): void {
  let n = 0;
  IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
    if (n++ >= after) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    return realPut.apply(this, args);
  };
}
function freeDisk(): void {
  IDBObjectStore.prototype.put = realPut;
}
afterEach(freeDisk);

/** A deterministic buffer of `mb` megabytes. */
function bytes(mb: number, fill: number): ArrayBuffer {
  const a = new Uint8Array(Math.round(mb * 2 ** 20));
  for (let i = 0; i < a.length; i += 4096) a[i] = (fill + i) & 255;
  return a.buffer;
}
const same = (a: ArrayBuffer | undefined, b: ArrayBuffer) => a !== undefined && Buffer.from(a).equals(Buffer.from(b));

describe('runs and artifacts on a full disk', () => {
  it('saveArtifacts throws StorageFullError with the MB needed, keeps earlier data, and saves after space is freed', async () => {
    const old = newRun('train', 'earlier run', { seed: 1 });
    const oldLatest = bytes(1, 1);
    await saveRun(old);
    await saveArtifacts(old, { latest: oldLatest, best: bytes(0.5, 2) });

    const run = newRun('train', 'new run', { seed: 2 });
    await saveRun(run);
    const latest = bytes(3, 3);
    const best = bytes(1.5, 4);
    fillDisk(1); // the first artifact is written, the second refused: the transaction must leave neither
    const err = await saveArtifacts(run, { latest, best }).catch((e: unknown) => e);
    freeDisk();
    expect(err).toBeInstanceOf(StorageFullError);
    const full = err as StorageFullError;
    expect(full.bytesNeeded).toBe(latest.byteLength + best.byteLength);
    expect(full.message).toMatch(/storage for this site is full: saving artifacts of "new run" needs about 4\.5 MB more/);
    expect(full.message).toMatch(/Free space on the Runs page .* then resume: what was saved before is intact/);

    // Nothing half-written, and the record does not point at missing artifacts.
    expect(await loadArtifact(`${run.id}/latest`)).toBeUndefined();
    expect(await loadArtifact(`${run.id}/best`)).toBeUndefined();
    expect((await getRun(run.id))?.artifacts).toEqual({});
    expect(run.artifacts).toEqual({});
    // The earlier run is intact.
    expect(same(await loadArtifact(`${old.id}/latest`), oldLatest)).toBe(true);
    expect((await getRun(old.id))?.artifacts).toEqual({ latest: `${old.id}/latest`, best: `${old.id}/best` });

    // Space is back: the same save resumes and both artifacts read back exactly.
    await saveArtifacts(run, { latest, best });
    expect(same(await loadArtifact(`${run.id}/latest`), latest)).toBe(true);
    expect(same(await loadArtifact(`${run.id}/best`), best)).toBe(true);
    expect(Object.keys((await getRun(run.id))!.artifacts).sort()).toEqual(['best', 'latest']);
  });

  it('a checkpoint that cannot be saved does not move the run summary (no step listed past its latest checkpoint)', async () => {
    const run = newRun('train', 'summary run', { seed: 3 });
    await saveRun(run);
    await saveArtifacts(run, { latest: bytes(0.1, 5) }, { step: 36 });
    expect(run.summary).toEqual({ step: 36 });
    fillDisk();
    await expect(saveArtifacts(run, { latest: bytes(0.1, 6) }, { step: 38 })).rejects.toBeInstanceOf(StorageFullError);
    freeDisk();
    expect(run.summary).toEqual({ step: 36 }); // in memory, as the run's final save will store it
    expect((await getRun(run.id))?.summary).toEqual({ step: 36 });
    expect(same(await loadArtifact(`${run.id}/latest`), bytes(0.1, 5))).toBe(true);
    await saveArtifacts(run, { latest: bytes(0.1, 6) }, { step: 38 });
    expect((await getRun(run.id))?.summary).toEqual({ step: 38 });
  });

  it('saveRun and saveArtifact on a full disk throw StorageFullError and change nothing stored', async () => {
    const run = newRun('record', 'recording', {});
    await saveRun(run);
    const before = structuredClone(await getRun(run.id));
    run.summary = { step: 5 };
    fillDisk();
    await expect(saveRun(run)).rejects.toThrow(StorageFullError);
    const one = await saveArtifact(run, 'report', bytes(0.25, 9)).catch((e: unknown) => e);
    freeDisk();
    expect(one).toBeInstanceOf(StorageFullError);
    expect((one as StorageFullError).message).toMatch(/saving report of "recording" needs about 0\.3 MB more/);
    expect(await getRun(run.id)).toEqual(before);
    expect(await loadArtifact(`${run.id}/report`)).toBeUndefined();
    await saveArtifact(run, 'report', bytes(0.25, 9));
    expect((await getRun(run.id))?.summary).toEqual({ step: 5 });
  });

  it('other write failures are not reported as a full disk', async () => {
    const run = newRun('steer', 'clone failure', {});
    IDBObjectStore.prototype.put = () => {
      throw new DOMException('could not be cloned', 'DataCloneError');
    };
    const err = await saveRun(run).catch((e: unknown) => e);
    freeDisk();
    expect(err).toBeInstanceOf(DOMException);
    expect((err as DOMException).name).toBe('DataCloneError');
  });

  it('deleteRun frees artifacts the record does not list (left behind by an interrupted save)', async () => {
    const run = newRun('train', 'to delete', {});
    await saveArtifacts(run, { latest: bytes(0.1, 5) });
    // A stray key under the run's prefix that the record does not list.
    await idbSet(`${run.id}/stray`, bytes(0.1, 6), createStore('memgen-artifacts', 'artifacts'));
    const other = newRun('train', 'kept', {});
    await saveArtifacts(other, { latest: bytes(0.1, 7) });
    await deleteRun(run.id);
    expect(await loadArtifact(`${run.id}/latest`)).toBeUndefined();
    expect(await loadArtifact(`${run.id}/stray`)).toBeUndefined();
    expect(await getRun(run.id)).toBeUndefined();
    expect(same(await loadArtifact(`${other.id}/latest`), bytes(0.1, 7))).toBe(true);
    expect((await listRuns()).map((r) => r.id)).toContain(other.id);
  });
});

const HOOKS = [
  { name: 'hook_embed', layer: -1, dim: 8 },
  { name: 'blocks.0.mlp.hook_post', layer: 0, dim: 32 },
];
const manifest = (id: string): ActivationManifest => ({
  id, version: 1, model: 'gpt2-tiny', checkpoint: 'step-1', task: 'cipher', hooks: HOOKS, dtype: 'float32', createdAt: '2026-01-01T00:00:00Z',
});
function rows(start: number, n: number) {
  const r: Record<string, Float32Array> = {};
  for (const h of HOOKS) r[h.name] = Float32Array.from({ length: n * h.dim }, (_, i) => start * 1000 + i);
  return { r, labels: Uint8Array.from({ length: n }, (_, i) => (start + i) % 3), ids: Array.from({ length: n }, (_, i) => `p${start + i}`) };
}
// 32 dims x 4 bytes x 4 rows = 512 bytes per hook chunk: 4 rows per chunk.
const SMALL = { chunkBytes: 512 };

describe('ActivationStore on a full IndexedDB (the real kv layer, not an injected one)', () => {
  it('create() on a full disk throws StoreQuotaError and stores nothing; it works once space is back', async () => {
    fillDisk();
    const err = await ActivationStore.create(manifest('full-create'), SMALL).catch((e: unknown) => e);
    freeDisk();
    expect(err).toBeInstanceOf(StoreQuotaError);
    expect((err as StoreQuotaError).durableRows).toBe(0);
    expect((await ActivationStore.list()).map((m) => m.id)).not.toContain('full-create');
    const s = await ActivationStore.create(manifest('full-create'), SMALL);
    expect(s.rowCount()).toBe(0);
  });

  it('a chunk refused mid-transaction leaves the durable rows readable and flush() resumes', async () => {
    const s = await ActivationStore.create(manifest('full-append'), SMALL);
    const a = rows(0, 8);
    await s.appendRows(a.r, a.labels, a.ids); // two chunks committed
    fillDisk(1); // the next chunk's first hook is written, then the disk is full
    const b = rows(8, 6);
    const err = await s.appendRows(b.r, b.labels, b.ids).catch((e: unknown) => e);
    freeDisk();
    expect(err).toBeInstanceOf(StoreQuotaError);
    expect((err as StoreQuotaError).message).toMatch(/writing 0\.0 MB of activations to store "full-append" was refused\. The 8 rows stored before are intact/);
    const reopened = await ActivationStore.open('full-append', SMALL);
    expect(reopened.rowCount()).toBe(8);
    expect(Array.from((await reopened.readAll('hook_embed')).data)).toEqual(Array.from(a.r.hook_embed));
    // The 4 rows of the refused chunk are still buffered in `s`; flushing writes them and the last 2.
    expect(s.bufferedRows()).toBe(4);
    await s.flush(); // commits the refused chunk
    const rest = Object.fromEntries(HOOKS.map((h) => [h.name, b.r[h.name].subarray(4 * h.dim)]));
    await s.appendRows(rest, b.labels.subarray(4), b.ids.slice(4)); // the 2 rows the failed call never buffered
    await s.flush();
    const all = await (await ActivationStore.open('full-append', SMALL)).readAll('blocks.0.mlp.hook_post');
    expect(all.rows).toBe(14);
    expect(Array.from(all.data.subarray(8 * 32))).toEqual(Array.from(b.r['blocks.0.mlp.hook_post']));
    expect(all.promptIds).toEqual(Array.from({ length: 14 }, (_, i) => `p${i}`));
  });
});

describe('ActivationStore.open on damaged stored data', () => {
  const kv = kvStore('memgen-activations', 'chunks');

  it(`refuses 2,000 tampered manifests with a message, never a RangeError or an oversized buffer (seed 31)`, async () => {
    const good = await ActivationStore.create(manifest('tamper-src'), SMALL);
    const r = rows(0, 5);
    await good.appendRows(r.r, r.labels, r.ids);
    await good.flush();
    const stored = await kv.get<Record<string, unknown>>('m/tamper-src');
    const rng = new Rng(31);
    let opened = 0;
    let refused = 0;
    for (let i = 0; i < 2000; i++) {
      const { value, ops } = mutateJSON(stored, rng, 2);
      await kv.set('m/tampered', value);
      const before = process.memoryUsage().arrayBuffers;
      try {
        const s = await ActivationStore.open('tampered', SMALL);
        opened++;
        // What opens must be usable: its buffers fit in the default 256 MiB limit.
        expect(process.memoryUsage().arrayBuffers - before, `case ${i} [${ops.join(', ')}]`).toBeLessThan(300 * 2 ** 20);
        expect(s.rowCount()).toBe(s.manifest.chunkRows.reduce((a, b) => a + b, 0));
      } catch (e) {
        refused++;
        const where = `case ${i} [${ops.join(', ')}]: ${(e as Error)?.name}: ${(e as Error)?.message}`;
        expect(e instanceof RangeError || e instanceof TypeError, where).toBe(false); // e.g. from new Float32Array(huge)
        expect((e as Error).message, where).toMatch(
          /ActivationStore.open: the manifest of "tampered" (is invalid|could not be read) \(.+\); delete the store and record again|ActivationStore: .*record fewer hooks/,
        );
      }
    }
    console.log(`activation manifests: ${opened} opened, ${refused} refused`);
    expect(refused).toBeGreaterThan(1000);
    expect(opened).toBeGreaterThan(50);
  });

  it('refuses a manifest whose hooks claim gigabytes per row before allocating', async () => {
    const stored = await kv.get<Record<string, unknown>>('m/tamper-src');
    const before = process.memoryUsage().arrayBuffers;
    await kv.set('m/huge', { ...stored, id: 'huge', hooks: [{ name: 'blocks.0.mlp.hook_post', layer: 0, dim: 2 ** 31 }] });
    await expect(ActivationStore.open('huge')).rejects.toThrow(/one row of all hooks needs 8192\.0 MB/);
    await expect(ActivationStore.create({ ...manifest('huge-new'), hooks: [{ name: 'x', layer: 0, dim: 2 ** 28 }] })).rejects.toThrow(
      /one row of all hooks needs 1024\.0 MB/,
    );
    expect(await kv.get('m/huge-new')).toBeUndefined(); // refused before the manifest was written
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 2 ** 20);
  });

  it('names damaged chunks when reading', async () => {
    await kv.set('c/tamper-src/000000/h1', new Float32Array(3)); // wrong length
    const s = await ActivationStore.open('tamper-src', SMALL);
    await expect(s.readAll('blocks.0.mlp.hook_post')).rejects.toThrow(/chunk 0 of "blocks.0.mlp.hook_post" is not 128 float32 values; the store is damaged, delete it/);
    await kv.set('c/tamper-src/000001/meta', { labels: 'oops', promptIds: null });
    await expect(s.readAll('hook_embed')).rejects.toThrow(/chunk 1 of "hook_embed" has damaged labels or prompt ids; the store is damaged, delete it/);
    await kv.del('c/tamper-src/000000/h0');
    await expect(s.readAll('hook_embed')).rejects.toThrow(/chunk 0 of hook "hook_embed" is missing from IndexedDB/);
  });
});
