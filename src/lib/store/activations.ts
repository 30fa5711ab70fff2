// Activation store: recorded hidden states (one [rows, dim] matrix per hook) in IndexedDB, written in large
// chunks so a 5,000-pair x 131,072-neuron recording (~5 GB in float32) streams to disk with bounded memory.
//
// Layout in database "memgen-activations", object store "chunks" (keys sort in chunk order):
//   m/{id}                         the manifest (zod-validated on open) with the durable row count
//   c/{id}/{chunk:6}/h{hookIndex}  Float32Array or Uint16Array (float16 bits) [rows, dim] of one hook
//   c/{id}/{chunk:6}/meta          { labels: Uint8Array [rows], promptIds: string[] }
// Every chunk is written together with the updated manifest in one transaction (setMany), so the manifest's
// rowCount only advances once the chunk is committed: after a crash or a full disk, what it counts is intact.
import { z } from '../util/zod';
import { kvStore, type KvStore } from './kv';
import { f16ToF32, f32ToF16 } from './f16';

export const HookSpecSchema = z.object({
  /** TransformerLens hook name, e.g. "blocks.3.hook_resid_post". */
  name: z.string().min(1),
  /** Block index, -1 outside the blocks (hook_embed). */
  layer: z.number().int().min(-1),
  dim: z.number().int().positive(),
});

export const ManifestSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'use 1-128 letters, digits, ".", "_" or "-"'),
  version: z.literal(1),
  model: z.string().min(1),
  checkpoint: z.string(),
  task: z.string().min(1),
  hooks: z
    .array(HookSpecSchema)
    .min(1)
    .refine((h) => new Set(h.map((x) => x.name)).size === h.length, 'hook names must be unique'),
  dtype: z.enum(['float32', 'float16']),
  /** ISO date. */
  createdAt: z.string().min(1),
  /** Names of the label values, index = value (e.g. ["gen", "mem", "other"]). */
  labels: z.array(z.string()).optional(),
});

export const StoredManifestSchema = ManifestSchema.extend({
  /** Rows committed to disk. */
  rowCount: z.number().int().min(0),
  /** Rows in each committed chunk, in order. */
  chunkRows: z.array(z.number().int().positive()),
}).refine((m) => m.chunkRows.reduce((a, b) => a + b, 0) === m.rowCount, 'rowCount must equal the sum of chunkRows');

export type HookSpec = z.infer<typeof HookSpecSchema>;
export type ActivationManifest = z.infer<typeof ManifestSchema>;
export type StoredManifest = z.infer<typeof StoredManifestSchema>;

export interface ActivationChunk {
  /** Index of the chunk's first row in the store. */
  start: number;
  rows: number;
  dim: number;
  /** [rows, dim] row-major, decoded to float32. */
  data: Float32Array;
  labels: Uint8Array;
  promptIds: string[];
}

export interface StoreOptions {
  /** Storage backend; default the IndexedDB store "memgen-activations"/"chunks". Tests inject failures here. */
  kv?: KvStore;
  /** Target bytes per hook per chunk (one IndexedDB value). Default 16 MiB (measured faster than 8 MiB in Chromium). */
  chunkBytes?: number;
  /** Upper bound on the rows buffered in memory, over all hooks. Default 256 MiB. */
  maxBufferBytes?: number;
}

/** Thrown when the browser refuses a write because storage is full. Rows stored before stay valid. */
export class StoreQuotaError extends Error {
  constructor(
    readonly storeId: string,
    readonly bytesNeeded: number,
    readonly durableRows: number,
    override readonly cause?: unknown,
  ) {
    super(
      `Browser storage is full: writing ${(bytesNeeded / 2 ** 20).toFixed(1)} MB of activations to store "${storeId}" was refused. ` +
        `The ${durableRows} rows stored before are intact and the unwritten rows are still buffered. ` +
        'Free space (delete old activation stores or checkpoints on the Runs page), record fewer hooks or rows, ' +
        'or use dtype "float16", then call flush() again.',
    );
    this.name = 'StoreQuotaError';
  }
}

const DB_NAME = 'memgen-activations';
const OBJECT_STORE = 'chunks';
let defaultKv: KvStore | undefined;
function kvOf(opts: StoreOptions): KvStore {
  if (opts.kv) return opts.kv;
  defaultKv ??= kvStore(DB_NAME, OBJECT_STORE);
  return defaultKv;
}

const manifestKey = (id: string) => `m/${id}`;
const chunkPrefix = (id: string) => `c/${id}/`;
const chunkKey = (id: string, chunk: number, part: string) => `c/${id}/${String(chunk).padStart(6, '0')}/${part}`;

function isQuotaError(e: unknown): boolean {
  const name = (e as { name?: string } | null)?.name;
  return name === 'QuotaExceededError' || (e as { inner?: { name?: string } } | null)?.inner?.name === 'QuotaExceededError';
}

function describeZod(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

export class ActivationStore {
  /** Rows per chunk, the same for all hooks (the last chunk may be shorter). */
  readonly rowsPerChunk: number;
  private m: StoredManifest;
  private readonly kv: KvStore;
  private readonly buf: Float32Array[]; // per hook: [rowsPerChunk, dim]
  private readonly bufLabels: Uint8Array;
  private bufPromptIds: string[] = [];
  private buffered = 0;
  private lock: Promise<unknown> = Promise.resolve();

  private constructor(m: StoredManifest, opts: StoreOptions) {
    this.m = m;
    this.kv = kvOf(opts);
    const chunkBytes = opts.chunkBytes ?? 16 * 2 ** 20;
    const maxBufferBytes = opts.maxBufferBytes ?? 256 * 2 ** 20;
    if (!(chunkBytes > 0) || !(maxBufferBytes > 0)) throw new Error('ActivationStore: chunkBytes and maxBufferBytes must be positive.');
    const maxDim = Math.max(...m.hooks.map((h) => h.dim));
    const rowBytesAll = m.hooks.reduce((a, h) => a + h.dim * 4, 0); // buffered as float32
    // At least one row of every hook is buffered: refuse (a damaged manifest's) dims that would not fit.
    if (rowBytesAll > maxBufferBytes)
      throw new Error(
        `ActivationStore: one row of all hooks needs ${(rowBytesAll / 2 ** 20).toFixed(1)} MB, more than the ${(maxBufferBytes / 2 ** 20).toFixed(1)} MB ` +
          `row buffer of store "${m.id}". Check the hook dims, record fewer hooks, or raise maxBufferBytes.`,
      );
    this.rowsPerChunk = Math.max(1, Math.min(Math.floor(chunkBytes / (maxDim * 4)), Math.floor(maxBufferBytes / rowBytesAll)));
    this.buf = m.hooks.map((h) => new Float32Array(this.rowsPerChunk * h.dim));
    this.bufLabels = new Uint8Array(this.rowsPerChunk);
  }

  /** Creates an empty store. Fails if a store with this id exists. */
  static async create(manifest: ActivationManifest, opts: StoreOptions = {}): Promise<ActivationStore> {
    const parsed = ManifestSchema.safeParse(manifest);
    if (!parsed.success) throw new Error(`ActivationStore.create: invalid manifest: ${describeZod(parsed.error)}.`);
    const kv = kvOf(opts);
    if ((await kv.get(manifestKey(parsed.data.id))) !== undefined)
      throw new Error(`ActivationStore.create: a store with id "${parsed.data.id}" exists; open it to resume or delete it first.`);
    const m: StoredManifest = { ...parsed.data, rowCount: 0, chunkRows: [] };
    const store = new ActivationStore(m, { ...opts, kv }); // checks the buffers fit before anything is written
    try {
      await kv.set(manifestKey(m.id), m);
    } catch (e) {
      if (isQuotaError(e)) throw new StoreQuotaError(m.id, JSON.stringify(m).length, 0, e);
      throw e;
    }
    return store;
  }

  /** Opens an existing store to read or to resume appending after its durable rows. */
  static async open(id: string, opts: StoreOptions = {}): Promise<ActivationStore> {
    const kv = kvOf(opts);
    let raw: unknown;
    try {
      raw = await kv.get<unknown>(manifestKey(id));
    } catch (e) {
      // IndexedDB itself failed to read the value back (a damaged database or value).
      throw new Error(`ActivationStore.open: the manifest of "${id}" could not be read (${(e as Error)?.message ?? e}); delete the store and record again.`);
    }
    if (raw === undefined) throw new Error(`ActivationStore.open: no activation store with id "${id}"; list() shows the stored ones.`);
    const parsed = StoredManifestSchema.safeParse(raw);
    if (!parsed.success)
      throw new Error(`ActivationStore.open: the manifest of "${id}" is invalid (${describeZod(parsed.error)}); delete the store and record again.`);
    return new ActivationStore(parsed.data, { ...opts, kv });
  }

  /** Manifests of all valid stores, newest first. Invalid ones are skipped with a console warning naming them. */
  static async list(opts: StoreOptions = {}): Promise<StoredManifest[]> {
    const all = await kvOf(opts).valuesWithPrefix<unknown>('m/');
    const out: StoredManifest[] = [];
    for (const raw of all) {
      const p = StoredManifestSchema.safeParse(raw);
      if (p.success) out.push(p.data);
      else console.warn(`Activation store "${(raw as { id?: string })?.id}" has an invalid manifest: ${describeZod(p.error)}`);
    }
    return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /** Deletes a store's manifest and all its chunks in one transaction. */
  static async delete(id: string, opts: StoreOptions = {}): Promise<void> {
    await kvOf(opts).deleteAll([manifestKey(id)], [chunkPrefix(id)]);
  }

  get manifest(): StoredManifest {
    return structuredClone(this.m);
  }

  /** Rows committed to disk (what a later open() sees). */
  rowCount(): number {
    return this.m.rowCount;
  }

  /** Rows held in memory, not yet committed. */
  bufferedRows(): number {
    return this.buffered;
  }

  /**
   * Appends n rows: `rows[hook]` is [n, dim] row-major for every hook of the manifest, one label and one prompt
   * id per row. Rows are copied into the chunk buffer (after earlier appends finish, so leave the arrays
   * unchanged until the promise resolves); full chunks are committed before it resolves.
   */
  appendRows(rows: Record<string, Float32Array>, labels: Uint8Array, promptIds: string[]): Promise<void> {
    const n = labels.length;
    if (promptIds.length !== n) throw new Error(`appendRows: ${promptIds.length} prompt ids for ${n} labels; pass one of each per row.`);
    const names = new Set(this.m.hooks.map((h) => h.name));
    for (const k of Object.keys(rows))
      if (!names.has(k)) throw new Error(`appendRows: hook "${k}" is not in this store's manifest (${[...names].join(', ')}).`);
    for (const h of this.m.hooks) {
      const a = rows[h.name];
      if (!a) throw new Error(`appendRows: rows for hook "${h.name}" are missing; every append must include every hook.`);
      if (a.length !== n * h.dim) throw new Error(`appendRows: hook "${h.name}" has ${a.length} values; expected ${n} rows x ${h.dim} = ${n * h.dim}.`);
    }
    return this.exclusive(async () => {
      let done = 0;
      while (done < n) {
        const take = Math.min(n - done, this.rowsPerChunk - this.buffered);
        this.m.hooks.forEach((h, i) => this.buf[i].set(rows[h.name].subarray(done * h.dim, (done + take) * h.dim), this.buffered * h.dim));
        this.bufLabels.set(labels.subarray(done, done + take), this.buffered);
        for (let r = 0; r < take; r++) this.bufPromptIds.push(promptIds[done + r]);
        this.buffered += take;
        done += take;
        if (this.buffered === this.rowsPerChunk) await this.commit();
      }
    });
  }

  /** Commits buffered rows (a shorter chunk). Call it when the recording ends. */
  flush(): Promise<void> {
    return this.exclusive(() => (this.buffered > 0 ? this.commit() : Promise.resolve()));
  }

  /** Yields one hook's committed rows chunk by chunk (one chunk in memory at a time). */
  async *iterate(hook: string): AsyncGenerator<ActivationChunk> {
    const hi = this.hookIndex(hook);
    const dim = this.m.hooks[hi].dim;
    const chunkRows = this.m.chunkRows.slice();
    let start = 0;
    for (let c = 0; c < chunkRows.length; c++) {
      const [raw, meta] = await this.kv.getMany<unknown>([chunkKey(this.m.id, c, `h${hi}`), chunkKey(this.m.id, c, 'meta')]);
      const rows = chunkRows[c];
      if (raw === undefined || meta === undefined)
        throw new Error(`ActivationStore "${this.m.id}": chunk ${c} of hook "${hook}" is missing from IndexedDB; the store is damaged, delete it and record again.`);
      const data = this.decode(raw, rows * dim, c, hook);
      const { labels, promptIds } = meta as { labels: unknown; promptIds: unknown };
      if (!(labels instanceof Uint8Array) || labels.length !== rows || !Array.isArray(promptIds) || promptIds.length !== rows)
        throw new Error(`ActivationStore "${this.m.id}": chunk ${c} of "${hook}" has damaged labels or prompt ids; the store is damaged, delete it and record again.`);
      yield { start, rows, dim, data, labels, promptIds };
      start += rows;
    }
  }

  /** One hook's committed rows as a single [rowCount, dim] array, with labels and prompt ids. */
  async readAll(hook: string): Promise<{ rows: number; dim: number; data: Float32Array; labels: Uint8Array; promptIds: string[] }> {
    const dim = this.m.hooks[this.hookIndex(hook)].dim;
    const rows = this.m.rowCount;
    const data = new Float32Array(rows * dim); // (rows, dim)
    const labels = new Uint8Array(rows);
    const promptIds: string[] = [];
    for await (const ch of this.iterate(hook)) {
      data.set(ch.data, ch.start * dim);
      labels.set(ch.labels, ch.start);
      promptIds.push(...ch.promptIds);
    }
    return { rows, dim, data, labels, promptIds };
  }

  private hookIndex(hook: string): number {
    const i = this.m.hooks.findIndex((h) => h.name === hook);
    if (i < 0) throw new Error(`ActivationStore "${this.m.id}" has no hook "${hook}"; it has ${this.m.hooks.map((h) => h.name).join(', ')}.`);
    return i;
  }

  private decode(raw: unknown, n: number, chunk: number, hook: string): Float32Array {
    const want = this.m.dtype === 'float16' ? Uint16Array : Float32Array;
    if (!(raw instanceof want) || raw.length !== n)
      throw new Error(`ActivationStore "${this.m.id}": chunk ${chunk} of "${hook}" is not ${n} ${this.m.dtype} values; the store is damaged, delete it and record again.`);
    return raw instanceof Uint16Array ? f16ToF32(raw) : (raw as Float32Array);
  }

  /** Writes the buffered rows and the advanced manifest in one transaction; on failure nothing changes. */
  private async commit(): Promise<void> {
    const rows = this.buffered;
    const c = this.m.chunkRows.length;
    const entries: [string, unknown][] = [];
    let bytes = 0;
    this.m.hooks.forEach((h, i) => {
      const view = this.buf[i].subarray(0, rows * h.dim);
      // A typed array is stored with its whole ArrayBuffer, so a partial chunk is copied to its own buffer.
      const value = this.m.dtype === 'float16' ? f32ToF16(view) : rows === this.rowsPerChunk ? this.buf[i] : view.slice();
      bytes += value.byteLength;
      entries.push([chunkKey(this.m.id, c, `h${i}`), value]);
    });
    entries.push([chunkKey(this.m.id, c, 'meta'), { labels: this.bufLabels.slice(0, rows), promptIds: this.bufPromptIds.slice() }]);
    const next: StoredManifest = { ...this.m, rowCount: this.m.rowCount + rows, chunkRows: [...this.m.chunkRows, rows] };
    entries.push([manifestKey(this.m.id), next]);
    try {
      await this.kv.setMany(entries);
    } catch (e) {
      if (isQuotaError(e)) throw new StoreQuotaError(this.m.id, bytes, this.m.rowCount, e);
      throw new Error(`ActivationStore "${this.m.id}": writing chunk ${c} failed: ${(e as Error)?.message ?? e}. Rows stored before are intact.`);
    }
    this.m = next;
    this.buffered = 0;
    this.bufPromptIds = [];
  }

  /** Runs `f` after every earlier append/flush, so concurrent calls cannot interleave their rows. */
  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.lock.then(f, f);
    this.lock = run.catch(() => undefined);
    return run;
  }
}
