// Activation store logic on fake-indexeddb: chunking, resume, quota failure, float16, manifests.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { ActivationStore, StoreQuotaError, kvStore, f16ToF32, f32ToF16, toHalfBits, type ActivationManifest, type KvStore } from '../../src/lib/store';
import { mulberry32 } from '../../src/lib/util/rng';

const HOOKS = [
  { name: 'hook_embed', layer: -1, dim: 16 },
  { name: 'blocks.0.hook_resid_post', layer: 0, dim: 16 },
  { name: 'blocks.0.mlp.hook_post', layer: 0, dim: 64 },
];

function manifest(id: string, dtype: 'float32' | 'float16' = 'float32'): ActivationManifest {
  return { id, version: 1, model: 'gpt2-tiny', checkpoint: 'step-100', task: 'math', hooks: HOOKS, dtype, createdAt: new Date().toISOString(), labels: ['gen', 'mem'] };
}

/** Deterministic rows [n, dim] per hook for global rows start..start+n. */
function makeRows(start: number, n: number) {
  const rows: Record<string, Float32Array> = {};
  for (const h of HOOKS) {
    const a = new Float32Array(n * h.dim);
    const rand = mulberry32(start * 31 + h.dim);
    for (let i = 0; i < a.length; i++) a[i] = (rand() - 0.5) * 10;
    rows[h.name] = a;
  }
  const labels = Uint8Array.from({ length: n }, (_, i) => (start + i) % 2);
  const promptIds = Array.from({ length: n }, (_, i) => `p${start + i}`);
  return { rows, labels, promptIds };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// 64 dims x 4 bytes x 10 rows = 2560 bytes per key: 10 rows per chunk, so small tests cross many chunk boundaries.
const SMALL = { chunkBytes: 2560 };

describe('ActivationStore', () => {
  it('writes uneven batches in fixed chunks and reads every hook back exactly', async () => {
    const store = await ActivationStore.create(manifest('roundtrip'), SMALL);
    expect(store.rowsPerChunk).toBe(10);
    const batches = [[0, 3], [3, 25], [25, 26], [26, 47]];
    const written: ReturnType<typeof makeRows>[] = [];
    for (const [a, b] of batches) {
      const r = makeRows(a, b - a);
      written.push(r);
      await store.appendRows(r.rows, r.labels, r.promptIds);
    }
    expect(store.rowCount()).toBe(40); // 4 full chunks committed
    expect(store.bufferedRows()).toBe(7);
    await store.flush();
    expect(store.rowCount()).toBe(47);
    expect(store.manifest.chunkRows).toEqual([10, 10, 10, 10, 7]);
    for (const h of HOOKS) {
      const all = await store.readAll(h.name);
      expect(all.rows).toBe(47);
      expect(all.dim).toBe(h.dim);
      expect(Array.from(all.data)).toEqual(Array.from(concat(written.map((w) => w.rows[h.name]))));
      expect(Array.from(all.labels)).toEqual(Array.from({ length: 47 }, (_, i) => i % 2));
      expect(all.promptIds).toEqual(Array.from({ length: 47 }, (_, i) => `p${i}`));
    }
    const sizes: number[] = [];
    for await (const ch of store.iterate('blocks.0.mlp.hook_post')) {
      expect(ch.data.length).toBe(ch.rows * 64);
      sizes.push(ch.rows);
    }
    expect(sizes).toEqual([10, 10, 10, 10, 7]);
  });

  it('resumes after a reopen from the durable rows only', async () => {
    const a = await ActivationStore.create(manifest('resume'), SMALL);
    const first = makeRows(0, 23);
    await a.appendRows(first.rows, first.labels, first.promptIds); // 20 committed, 3 buffered (lost on "crash")
    const b = await ActivationStore.open('resume', SMALL);
    expect(b.rowCount()).toBe(20);
    const more = makeRows(20, 15);
    await b.appendRows(more.rows, more.labels, more.promptIds);
    await b.flush();
    const all = await b.readAll('blocks.0.hook_resid_post');
    expect(all.rows).toBe(35);
    const want = concat([first.rows['blocks.0.hook_resid_post'].subarray(0, 20 * 16), more.rows['blocks.0.hook_resid_post']]);
    expect(Array.from(all.data)).toEqual(Array.from(want));
    expect(all.promptIds[19]).toBe('p19');
    expect(all.promptIds[20]).toBe('p20');
  });

  it('turns a full disk into StoreQuotaError and keeps the rows written before', async () => {
    const real = kvStore('memgen-activations', 'chunks');
    let failing = false;
    const kv: KvStore = {
      ...real,
      setMany: (entries) => {
        if (failing) return Promise.reject(new DOMException('The quota has been exceeded.', 'QuotaExceededError'));
        return real.setMany(entries);
      },
    };
    const store = await ActivationStore.create(manifest('quota'), { ...SMALL, kv });
    const first = makeRows(0, 20);
    await store.appendRows(first.rows, first.labels, first.promptIds);
    expect(store.rowCount()).toBe(20);
    failing = true;
    const more = makeRows(20, 10);
    const err = await store.appendRows(more.rows, more.labels, more.promptIds).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreQuotaError);
    const q = err as StoreQuotaError;
    expect(q.bytesNeeded).toBe(10 * (16 + 16 + 64) * 4); // one chunk of all three hooks
    expect(q.durableRows).toBe(20);
    expect(q.message).toMatch(/storage is full.*20 rows stored before are intact.*flush\(\) again/s);
    expect(store.rowCount()).toBe(20);
    // What a fresh open sees: the 20 earlier rows, untouched.
    const reopened = await ActivationStore.open('quota', { kv: real });
    expect(reopened.rowCount()).toBe(20);
    const got = await reopened.readAll('hook_embed');
    expect(Array.from(got.data)).toEqual(Array.from(first.rows.hook_embed));
    // After space is freed, flushing again writes the rows that were kept in memory.
    failing = false;
    await store.flush();
    expect(store.rowCount()).toBe(30);
    const after = await (await ActivationStore.open('quota', { kv: real })).readAll('hook_embed');
    expect(Array.from(after.data.subarray(20 * 16))).toEqual(Array.from(more.rows.hook_embed));
  });

  it('stores float16 as half the bytes and reads back the rounded values', async () => {
    const store = await ActivationStore.create(manifest('half', 'float16'), SMALL);
    const r = makeRows(0, 12);
    await store.appendRows(r.rows, r.labels, r.promptIds);
    await store.flush();
    const kv = kvStore('memgen-activations', 'chunks');
    const raw = await kv.get<Uint16Array>('c/half/000000/h2');
    expect(raw).toBeInstanceOf(Uint16Array);
    expect(raw!.byteLength).toBe(10 * 64 * 2);
    const all = await store.readAll('blocks.0.mlp.hook_post');
    const want = f16ToF32(f32ToF16(r.rows['blocks.0.mlp.hook_post']));
    expect(Array.from(all.data)).toEqual(Array.from(want));
    let worst = 0;
    r.rows['blocks.0.mlp.hook_post'].forEach((v, i) => (worst = Math.max(worst, Math.abs(v - all.data[i]) / Math.abs(v))));
    expect(worst).toBeLessThanOrEqual(2 ** -11); // half of float16's relative spacing
  });

  it('validates manifests, lists and deletes stores', async () => {
    await expect(ActivationStore.create({ ...manifest('bad id!') })).rejects.toThrow(/invalid manifest: id: use 1-128 letters/);
    await expect(ActivationStore.create({ ...manifest('dup'), hooks: [HOOKS[0], HOOKS[0]] })).rejects.toThrow(/hook names must be unique/);
    await ActivationStore.create(manifest('listed'));
    await expect(ActivationStore.create(manifest('listed'))).rejects.toThrow(/exists; open it to resume or delete it/);
    const kv = kvStore('memgen-activations', 'chunks');
    await kv.set('m/broken', { id: 'broken', version: 2 });
    await expect(ActivationStore.open('broken')).rejects.toThrow(/manifest of "broken" is invalid \(version/);
    await expect(ActivationStore.open('nothing')).rejects.toThrow(/no activation store with id "nothing"/);
    const ids = (await ActivationStore.list()).map((m) => m.id);
    expect(ids).toContain('listed');
    expect(ids).toContain('roundtrip');
    expect(ids).not.toContain('broken');
    await ActivationStore.delete('roundtrip');
    expect((await ActivationStore.list()).map((m) => m.id)).not.toContain('roundtrip');
    expect(await kv.keysWithPrefix('c/roundtrip/')).toEqual([]);
    expect((await kv.keysWithPrefix('c/resume/')).length).toBeGreaterThan(0); // other stores untouched
  });

  it('rejects bad rows with messages naming the problem', async () => {
    const store = await ActivationStore.create(manifest('badrows'), SMALL);
    const r = makeRows(0, 4);
    expect(() => store.appendRows(r.rows, r.labels, r.promptIds.slice(1))).toThrow(/3 prompt ids for 4 labels/);
    expect(() => store.appendRows({ ...r.rows, 'blocks.9.hook_resid_post': new Float32Array(64) }, r.labels, r.promptIds)).toThrow(/"blocks.9.hook_resid_post" is not in this store's manifest/);
    const { hook_embed: _, ...missing } = r.rows;
    expect(() => store.appendRows(missing, r.labels, r.promptIds)).toThrow(/rows for hook "hook_embed" are missing/);
    expect(() => store.appendRows({ ...r.rows, hook_embed: new Float32Array(10) }, r.labels, r.promptIds)).toThrow(/expected 4 rows x 16 = 64/);
    await expect(store.readAll('nope')).rejects.toThrow(/has no hook "nope"/);
  });
});

describe('float16 conversion', () => {
  it('round-trips every finite half value and rounds to nearest even', () => {
    const bits = new Uint16Array(65536);
    for (let i = 0; i < 65536; i++) bits[i] = i;
    const back = f32ToF16(f16ToF32(bits));
    for (let i = 0; i < 65536; i++) {
      const isNaN = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
      if (!isNaN && back[i] !== i) throw new Error(`half 0x${i.toString(16)} came back as 0x${back[i].toString(16)}`);
    }
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00); // tie -> even (1.0)
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even (up)
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(65519)).toBe(0x7bff);
    expect(toHalfBits(65520)).toBe(0x7c00); // rounds to Infinity
    expect(toHalfBits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toHalfBits(2 ** -25)).toBe(0x0000); // tie -> even (zero)
    expect(toHalfBits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(toHalfBits(-0)).toBe(0x8000);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(NaN) & 0x7c00).toBe(0x7c00);
    expect(f16ToF32(new Uint16Array([0x3555]))[0]).toBeCloseTo(0.333251953125, 12);
  });
});
