// Seeded fuzzing of every file reader the user can feed: GPT-2 checkpoints, GGUF models, task tokenizer JSON,
// runs files and reports (the lab's import formats).
// Each mutated input must either decode into something consistent or throw the reader's own error class with a
// message that names the problem and what to do. Never a RangeError/TypeError from DataView or a typed-array
// constructor, never a slow case, never an allocation larger than the file.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { Mutator, mutateJSON, writeLE, type FuzzCase } from '../../src/lib/util/fuzz';
import { Rng } from '../../src/lib/util/rng';
import { CheckpointFormatError, decodeCheckpoint } from '../../src/lib/train/checkpoint';
import { validateConfig } from '../../src/lib/models/gpt2/config';
import { getTask } from '../../src/lib/tasks';
import { TaskTokenizer } from '../../src/lib/tasks/tokenizer';
import { GGUFError, parseGGUF } from '../../src/lib/gguf/reader';
import { writeGGUF } from '../../src/lib/gguf/writer';
import { configFromGGUF } from '../../src/lib/models/llama/config';
import { decodeRunsFile, encodeRunsFile, RunsFileError } from '../../src/lib/report/runs-file';
import { parseReport, ReportFormatError } from '../../src/lib/report/schema';
import { makeReport } from './report-fixture';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { GGUF_HEADER_BOUND } from '../../src/lib/gguf/reader';
import { CHECKPOINT_BOUND } from '../../src/lib/train/checkpoint';
import { RUNS_FILE_BOUND } from '../../src/lib/report/runs-file';
import { REPORT_BOUND } from '../../src/lib/report/schema';
import { checkpointOverlapBomb, checkpointWithValue, ggufBlockCountBomb, ggufOverlap, runsOverlapBomb, tinyCheckpoint } from './hostile-files';
import { reportTables, reportSummary, lossSeries, evalSeries, neuronMapRows, volcanoData, layerBars, probeBars, steerBars, consistencyBars, crossSteerBars } from '../../src/lib/report';

const CASES = 10_000;
/** Slowest acceptable single case. A parse takes about 1 ms; the margin covers GC pauses on a busy machine. */
const CASE_MS = 1000;

/** Runs `decode` on every case; returns counts, and fails on the first case that breaks the contract. */
function fuzz(
  cases: () => FuzzCase,
  n: number,
  decode: (c: FuzzCase) => void,
  checkError: (e: unknown, c: FuzzCase) => void,
): { ok: number; rejected: number; worstMs: number; messages: Map<string, number> } {
  let ok = 0;
  let rejected = 0;
  let worstMs = 0;
  const messages = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const c = cases();
    const t0 = performance.now();
    try {
      decode(c);
      ok++;
    } catch (e) {
      rejected++;
      checkError(e, c);
      // The message with names and numbers blanked: how many different checks were reached.
      const head = String((e as Error).message).replace(/"[^"]*"/g, '""').replace(/\d+/g, 'N').slice(0, 60);
      messages.set(head, (messages.get(head) ?? 0) + 1);
    }
    const ms = performance.now() - t0;
    worstMs = Math.max(worstMs, ms);
    if (ms > CASE_MS) throw new Error(`case ${c.index} (${c.ops.join(', ')}) took ${ms.toFixed(0)} ms`);
  }
  return { ok, rejected, worstMs, messages };
}

/** The most frequent error shapes, for the log. */
function top(m: Map<string, number>): string {
  const all = [...m].sort((a, b) => b[1] - a[1]);
  return `${m.size} distinct; most frequent: ${all.slice(0, 4).map(([k, n]) => `${n}x ${k}`).join(' | ')}`;
}

/** The error must be `cls` itself (not a RangeError/TypeError leaking out), with a message matching `fix`. */
function expectCleanError(e: unknown, c: FuzzCase, cls: new (...a: never[]) => Error, fix: RegExp): void {
  const where = `case ${c.index} [${c.ops.join(', ')}]`;
  if (!(e instanceof cls)) throw new Error(`${where}: threw ${(e as Error)?.name ?? typeof e}: ${(e as Error)?.message ?? String(e)}`);
  if (e.message.length < 20 || !fix.test(e.message)) throw new Error(`${where}: message does not name a fix: "${e.message}"`);
}

// ---------------------------------------------------------------- GPT-2 checkpoints


/** A small valid checkpoint (the hardening tests' own, optionally with AdamW moments): the fuzz corpus. */
const validCheckpoint = (withAdam: boolean, seed: number): ArrayBuffer => tinyCheckpoint(seed, {}, withAdam);

/** Everything the loaders do with a decoded checkpoint before touching tfjs, with their own error checks. */
function checkDecoded(buf: ArrayBuffer): void {
  const ck = decodeCheckpoint(buf);
  for (const t of ck.header.tensors) {
    const a = ck.tensors[t.name];
    if (!(a instanceof Float32Array) || a.length !== t.shape.reduce((x, y) => x * y, 1)) throw new Error(`decoded tensor ${t.name} is inconsistent`);
  }
  for (const step of [() => validateConfig(ck.header.config), () => TaskTokenizer.fromJSON(ck.header.tokenizer)]) {
    try {
      step();
    } catch (e) {
      if (!(e instanceof Error) || e instanceof RangeError || e instanceof TypeError || !/GPT-2 config|TaskTokenizer/.test(e.message))
        throw new Error(`loader check leaked ${(e as Error)?.name}: ${(e as Error)?.message}`);
    }
  }
}

const CK_FIX = /Choose a checkpoint file saved by MemGen Lab|Download it again|Re-export it/;

/** Rebuilds a checkpoint file around a new header JSON, keeping the tensor bytes. */
function withHeader(buf: ArrayBuffer, header: unknown): Uint8Array {
  const hlen = new DataView(buf).getUint32(8, true);
  const data = new Uint8Array(buf, Math.ceil((12 + hlen) / 8) * 8);
  const json = new TextEncoder().encode(JSON.stringify(header) ?? 'null');
  const start = Math.ceil((12 + json.length) / 8) * 8;
  const out = new Uint8Array(start + data.length);
  out.set(new Uint8Array(buf, 0, 8));
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  out.set(data, start);
  return out;
}

describe('fuzz: decodeCheckpoint', () => {
  const corpus = [new Uint8Array(validCheckpoint(false, 1)), new Uint8Array(validCheckpoint(true, 2))];
  const hot = Math.max(...corpus.map((b) => 12 + new DataView(b.buffer).getUint32(8, true)));
  let sliced = 0;
  let biggest = 0;
  beforeEach(() => {
    // Every tensor copy goes through ArrayBuffer.slice: record the largest, to prove no copy exceeds the file.
    const real = ArrayBuffer.prototype.slice;
    vi.spyOn(ArrayBuffer.prototype, 'slice').mockImplementation(function (this: ArrayBuffer, a?: number, b?: number) {
      const out = real.call(this, a, b);
      sliced = Math.max(sliced, out.byteLength);
      return out;
    });
  });
  afterEach(() => vi.restoreAllMocks());

  it('decodes the valid corpus', () => {
    for (const b of corpus) checkDecoded(b.slice().buffer);
  });

  it(`survives ${CASES} byte-level mutations (seed 7)`, () => {
    const m = new Mutator(7, corpus, { hot });
    const r = fuzz(
      () => m.next(),
      CASES,
      (c) => {
        biggest = Math.max(biggest, c.bytes.length);
        checkDecoded(c.bytes.buffer as ArrayBuffer);
      },
      (e, c) => expectCleanError(e, c, CheckpointFormatError, CK_FIX),
    );
    console.log(`checkpoint bytes: ${r.ok} decoded, ${r.rejected} rejected, worst ${r.worstMs.toFixed(1)} ms`, top(r.messages));
    expect(r.ok + r.rejected).toBe(CASES);
    expect(r.ok).toBeGreaterThan(100); // mutations in the tensor data still decode
    expect(r.messages.size).toBeGreaterThan(4); // many different checks were reached, not only "not valid JSON"
    expect(sliced).toBeLessThanOrEqual(biggest);
  });

  it(`survives ${CASES / 2} structural header mutations (seed 8)`, () => {
    const base = corpus[1].slice().buffer;
    const header = decodeCheckpoint(base).header;
    const rng = new Rng(8);
    let i = 0;
    const r = fuzz(
      () => {
        const { value, ops } = mutateJSON(header, rng, 3);
        return { index: i++, bytes: withHeader(base, value), ops };
      },
      CASES / 2,
      (c) => checkDecoded(c.bytes.buffer as ArrayBuffer),
      (e, c) => expectCleanError(e, c, CheckpointFormatError, CK_FIX),
    );
    console.log(`checkpoint header: ${r.ok} decoded, ${r.rejected} rejected, worst ${r.worstMs.toFixed(1)} ms`, top(r.messages));
    expect(r.ok).toBeGreaterThan(100);
    expect(r.rejected).toBeGreaterThan(1000);
  });

  it('refuses a tensor listed twice or named "__proto__" (found by seed 7, case 4460)', () => {
    const base = corpus[0].slice().buffer;
    const h = decodeCheckpoint(base).header;
    const twice = { ...h, tensors: [...h.tensors, { ...h.tensors[0], shape: [h.tensors[0].length] }] };
    expect(() => decodeCheckpoint(withHeader(base, twice).buffer as ArrayBuffer)).toThrow(/lists tensor "wte" twice.*Choose a checkpoint file/);
    const proto = { ...h, tensors: [{ ...h.tensors[0], name: '__proto__' }, ...h.tensors.slice(1)] };
    expect(() => decodeCheckpoint(withHeader(base, proto).buffer as ArrayBuffer)).toThrow(CheckpointFormatError);
  });

  it('refuses headers and tensors that claim gigabytes before allocating', () => {
    const base = corpus[0];
    const before = process.memoryUsage().arrayBuffers;
    // A header length of 4 GB in a small file.
    const big = base.slice();
    new DataView(big.buffer).setUint32(8, 0xfffffff0, true);
    expect(() => decodeCheckpoint(big.buffer)).toThrow(/header claims 4294967280 bytes.*Download it again/);
    // A tensor entry claiming 2^30 floats (4 GB) with a matching shape.
    const h = decodeCheckpoint(base.slice().buffer).header;
    h.tensors[0] = { ...h.tensors[0], shape: [2 ** 15, 2 ** 15], length: 2 ** 30 };
    expect(() => decodeCheckpoint(withHeader(base.slice().buffer, h).buffer as ArrayBuffer)).toThrow(/ends past the end of the file/);
    // Offsets at the edge of safe integers.
    h.tensors[0] = { ...h.tensors[0], shape: [1], length: 1, offset: Number.MAX_SAFE_INTEGER - 3 };
    expect(() => decodeCheckpoint(withHeader(base.slice().buffer, h).buffer as ArrayBuffer)).toThrow(CheckpointFormatError);
    expect(sliced).toBeLessThanOrEqual(base.length);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 2 ** 20);
  });
});

// ---------------------------------------------------------------- GGUF

const fixture = (f: string) => new Uint8Array(readFileSync(`tests/fixtures/${f}`));

/** A small GGUF with every value type the writer emits, a 3-D tensor and a non-default alignment. */
function writerGGUF(): Uint8Array {
  const f32 = new Float32Array(4 * 2 * 3).map((_, i) => i * 0.5);
  const f16 = new Uint8Array(64 * 2);
  return writeGGUF(
    {
      'general.architecture': { type: 'string', value: 'llama' },
      'a.u8': { type: 'u8', value: 7 },
      'a.i32': { type: 'i32', value: -5 },
      'a.f64': { type: 'f64', value: Math.E },
      'a.u64': { type: 'u64', value: 2 ** 40 },
      'a.bool': { type: 'bool', value: true },
      'a.strs': { type: 'array-string', value: ['a', 'bc', ''] },
      'a.ints': { type: 'array-i32', value: [1, -2, 3] },
      'a.floats': { type: 'array-f32', value: [0.5, 1.5] },
    },
    [
      { name: 'w3', dims: [4, 2, 3], type: 'F32', data: new Uint8Array(f32.buffer) },
      { name: 'h', dims: [64], type: 'F16', data: f16 },
    ],
    64,
  );
}

const GGUF_SHAPE = /^(truncated|corrupt|not a GGUF file|unsupported|general\.alignment|metadata key|tensor .* is missing|head size|head_count|llama\.)/;

describe('fuzz: parseGGUF', () => {
  const corpus = [fixture('tiny-llama-q4_0.gguf'), fixture('tiny-llama-q8_0.gguf'), writerGGUF()];
  const hot = Math.max(...corpus.map((b) => parseGGUF(b).dataOffset));

  it(`survives ${CASES} byte-level mutations (seed 11), and configFromGGUF on what parses`, () => {
    const m = new Mutator(11, corpus, { hot });
    const r = fuzz(
      () => m.next(),
      CASES,
      (c) => {
        const h = parseGGUF(c.bytes);
        for (const t of h.tensors)
          if (!(h.dataOffset + t.offset + t.nBytes <= c.bytes.length) || !Number.isSafeInteger(t.nBytes)) throw new Error(`tensor ${t.name} out of bounds`);
        if (h.metadata['general.architecture'] !== undefined && h.tensors.length > 2) configFromGGUF(h);
      },
      (e, c) => {
        expectCleanError(e, c, GGUFError, /./);
        if (!GGUF_SHAPE.test((e as Error).message)) throw new Error(`case ${c.index}: unexpected message shape "${(e as Error).message}"`);
      },
    );
    console.log(`gguf: ${r.ok} parsed, ${r.rejected} rejected, worst ${r.worstMs.toFixed(1)} ms`, top(r.messages));
    expect(r.ok).toBeGreaterThan(500);
    expect(r.rejected).toBeGreaterThan(2000);
    expect(r.messages.size).toBeGreaterThan(4);
  });

  it('refuses counts and lengths that claim gigabytes before allocating', () => {
    const before = process.memoryUsage().arrayBuffers;
    // Hand-made header: one metadata array of i32 claiming 2^31 elements in a 60-byte file.
    const b = new Uint8Array(64);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, 0x46554747, true);
    dv.setUint32(4, 3, true);
    dv.setBigUint64(8, 0n, true); // tensors
    dv.setBigUint64(16, 1n, true); // metadata entries
    dv.setBigUint64(24, 1n, true); // key length
    b[32] = 0x6b; // "k"
    dv.setUint32(33, 9, true); // ARRAY
    dv.setUint32(37, 5, true); // of INT32
    dv.setBigUint64(41, 2n ** 31n, true);
    expect(() => parseGGUF(b)).toThrow(/array "k" says 2147483648 items of at least 4 bytes, but only \d+ bytes remain/);
    // The same with a string length of 2^40, and a tensor count of 2^63.
    dv.setUint32(33, 8, true); // STRING
    dv.setBigUint64(37, 2n ** 40n, true);
    expect(() => parseGGUF(b)).toThrow(GGUFError);
    dv.setBigUint64(8, 2n ** 63n, true);
    expect(() => parseGGUF(b)).toThrow(/tensor count says \d+ items/);
    // A matrix of 2^20 x 2^20 (a terabyte) in a fixture: refused as truncated.
    const q = fixture('tiny-llama-q8_0.gguf');
    const h = parseGGUF(q);
    const mat = h.tensors.find((t) => t.dims.length === 2)!;
    const at = findTensorInfo(q, mat.name);
    writeLE(q, at, 8, 2n ** 20n);
    writeLE(q, at + 8, 8, 2n ** 20n);
    expect(() => parseGGUF(q)).toThrow(/truncated: tensor .* needs bytes up to \d+ but the file has/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 2 ** 20);
  });
});

/** Byte offset of the first dimension of tensor `name`'s info record (after its name and dimension count). */
function findTensorInfo(b: Uint8Array, name: string): number {
  const needle = new TextEncoder().encode(name);
  outer: for (let i = b.length - needle.length; i >= 0; i--) {
    for (let j = 0; j < needle.length; j++) if (b[i + j] !== needle[j]) continue outer;
    // A tensor info is: u64 length, name, u32 n_dims, dims...; the metadata never holds tensor names after it.
    if (Number(new DataView(b.buffer, b.byteOffset + i - 8, 8).getBigUint64(0, true)) === needle.length) return i + needle.length + 4;
  }
  throw new Error(`tensor ${name} not found`);
}

// ---------------------------------------------------------------- Task tokenizer JSON

const TOK_FIX = /TaskTokenizer/;

function checkTokenizer(o: unknown): void {
  const t = TaskTokenizer.fromJSON(o);
  // What loads must work: same vocabulary through toJSON, and encoding either round-trips or names the character.
  const again = TaskTokenizer.fromJSON(t.toJSON());
  if (again.size !== t.size) throw new Error('tokenizer changed through toJSON');
  try {
    const ids = t.encode('hello world 12');
    if (t.decode(ids) !== 'hello world 12') throw new Error('tokenizer does not round-trip');
  } catch (e) {
    if (!(e instanceof Error) || !/is not in this task's vocabulary/.test(e.message)) throw e;
  }
}

describe('fuzz: TaskTokenizer.fromJSON', () => {
  const valid = ['cipher', 'arithmetic', 'color'].map((n) => getTask(n as 'cipher').tokenizer().toJSON());
  const text = valid.map((v) => new TextEncoder().encode(JSON.stringify(v)));
  const tokError = (e: unknown, c: FuzzCase) => {
    expectCleanError(e, c, Error, TOK_FIX);
    if (e instanceof RangeError || e instanceof TypeError) throw new Error(`case ${c.index} leaked ${e.name}: ${e.message}`);
    if (!/saved by TaskTokenizer\.toJSON|Is this a tokenizer file|this lab reads version 1/.test((e as Error).message))
      throw new Error(`case ${c.index}: message names no fix: "${(e as Error).message}"`);
  };

  it(`survives ${CASES} structural mutations (seed 21)`, () => {
    const rng = new Rng(21);
    const objs: unknown[] = [];
    let i = 0;
    const r = fuzz(
      () => {
        const { value, ops } = mutateJSON(rng.pick(valid), rng, 3);
        objs[0] = value;
        return { index: i++, bytes: new Uint8Array(0), ops };
      },
      CASES,
      () => checkTokenizer(objs[0]),
      tokError,
    );
    console.log(`tokenizer objects: ${r.ok} loaded, ${r.rejected} rejected, worst ${r.worstMs.toFixed(1)} ms`, top(r.messages));
    expect(r.ok).toBeGreaterThan(500);
    expect(r.rejected).toBeGreaterThan(3000);
  });

  it(`survives ${CASES} byte-level mutations of the JSON text (seed 22)`, () => {
    const m = new Mutator(22, text, { maxOps: 2 });
    let parsed = 0;
    const r = fuzz(
      () => m.next(),
      CASES,
      (c) => {
        let o: unknown;
        try {
          o = JSON.parse(new TextDecoder().decode(c.bytes));
        } catch {
          return; // not JSON: the file reader above refuses it before the tokenizer sees it
        }
        parsed++;
        checkTokenizer(o);
      },
      tokError,
    );
    console.log(`tokenizer text: ${parsed} parsed as JSON, ${r.rejected} rejected by fromJSON, worst ${r.worstMs.toFixed(1)} ms`);
    expect(parsed).toBeGreaterThan(1500);
    expect(r.rejected).toBeGreaterThan(100);
  });
});

// ---------------------------------------------------------------- import files: runs and reports

describe('fuzz: decodeRunsFile', () => {
  const RUNS_FIX = /Export the runs again|Pick a file saved by the Runs page/;
  async function corpus(): Promise<Uint8Array[]> {
    const now = '2026-01-01T00:00:00.000Z';
    const rec = (id: string, kind: 'train' | 'steer') => ({ id, kind, title: `run ${id}`, status: 'done' as const, config: { lr: 0.001, task: 'cipher' }, parent: undefined, createdAt: now, updatedAt: now, summary: { step: 40 }, artifacts: {} });
    const ck = validCheckpoint(false, 3);
    const files = [
      await encodeRunsFile([{ record: rec('a', 'train'), artifacts: { best: ck } }]),
      await encodeRunsFile([{ record: rec('b', 'steer'), artifacts: { report: new TextEncoder().encode('{"kind":"memgen-report"}').buffer as ArrayBuffer } }, { record: rec('c', 'train'), artifacts: {} }]),
    ];
    return Promise.all(files.map(async (b) => new Uint8Array(await b.arrayBuffer())));
  }

  it(`survives ${CASES} byte-level mutations (seed 41)`, async () => {
    const base = await corpus();
    for (const b of base) expect((await decodeRunsFile(b.slice().buffer)).length).toBeGreaterThan(0);
    const hot = Math.max(...base.map((b) => 16 + new DataView(b.buffer).getUint32(12, true)));
    const m = new Mutator(41, base, { hot });
    let ok = 0, rejected = 0, worst = 0;
    const kinds = new Set<string>();
    for (let i = 0; i < CASES; i++) {
      const c = m.next();
      const t0 = performance.now();
      try {
        const runs = await decodeRunsFile(c.bytes.buffer as ArrayBuffer);
        for (const r of runs) for (const a of Object.values(r.artifacts)) expect(a.byteLength).toBeLessThanOrEqual(c.bytes.length);
        ok++;
      } catch (e) {
        rejected++;
        expectCleanError(e, c, RunsFileError, RUNS_FIX);
        kinds.add(String((e as Error).message).replace(/"[^"]*"/g, '""').replace(/\d+/g, 'N').slice(0, 40));
      }
      worst = Math.max(worst, performance.now() - t0);
      if (worst > CASE_MS) throw new Error(`case ${c.index} (${c.ops.join(', ')}) took ${worst.toFixed(0)} ms`);
    }
    console.log(`runs file: ${ok} decoded, ${rejected} rejected, ${kinds.size} distinct messages, worst ${worst.toFixed(1)} ms`);
    expect(ok + rejected).toBe(CASES);
    expect(rejected).toBeGreaterThan(1000);
    expect(kinds.size).toBeGreaterThan(4); // magic, cut short, header JSON, schema, checksum... all reached
  });
});

describe('fuzz: parseReport', () => {
  const REPORT_FIX = /Export it again from the lab|Open a report saved by the lab/;
  const text = JSON.stringify(makeReport());

  it(`survives ${CASES} byte-level mutations of the JSON text (seed 51)`, () => {
    const m = new Mutator(51, [new TextEncoder().encode(text)], { hot: text.length });
    const r = fuzz(() => m.next(), CASES, (c) => renderData(new TextDecoder().decode(c.bytes)), (e, c) => expectCleanError(e, c, ReportFormatError, REPORT_FIX));
    console.log(`report bytes: ${r.ok} parsed, ${r.rejected} rejected, worst ${r.worstMs.toFixed(1)} ms`, top(r.messages));
    expect(r.ok + r.rejected).toBe(CASES);
    expect(r.rejected).toBeGreaterThan(1000);
  });

  it(`survives ${CASES} structural mutations (seed 52)`, () => {
    const base = JSON.parse(text);
    const rng = new Rng(52);
    let i = 0;
    const r = fuzz(
      () => { const { value, ops } = mutateJSON(base, rng, 3); return { index: i++, bytes: new TextEncoder().encode(JSON.stringify(value) ?? 'null'), ops }; },
      CASES,
      (c) => renderData(new TextDecoder().decode(c.bytes)),
      (e, c) => expectCleanError(e, c, ReportFormatError, REPORT_FIX),
    );
    console.log(`report structure: ${r.ok} parsed, ${r.rejected} rejected, worst ${r.worstMs.toFixed(1)} ms`, top(r.messages));
    expect(r.ok).toBeGreaterThan(100);
    expect(r.rejected).toBeGreaterThan(1000);
    expect(r.messages.size).toBeGreaterThan(5);
  });
});

/** What the Report page computes from a report: every table and every chart's data. */
function renderData(text: string): void {
  const r = parseReport(text);
  reportTables(r);
  reportSummary(r);
  lossSeries(r); evalSeries(r); neuronMapRows(r); volcanoData(r); layerBars(r); probeBars(r);
  steerBars(r, 'memToGen'); steerBars(r, 'genToMem'); consistencyBars(r); crossSteerBars(r);
}

describe('the mutator itself', () => {
  const corpus = [Uint8Array.from({ length: 300 }, (_, i) => i & 255)];

  it('is reproducible from its seed and differs between seeds', () => {
    const a = new Mutator(5, corpus);
    const b = new Mutator(5, corpus);
    const c = new Mutator(6, corpus);
    let differ = 0;
    for (let i = 0; i < 200; i++) {
      const x = a.next();
      const y = b.next();
      expect(y.ops).toEqual(x.ops);
      expect(Array.from(y.bytes)).toEqual(Array.from(x.bytes));
      if (c.next().ops.join() !== x.ops.join()) differ++;
    }
    expect(differ).toBeGreaterThan(190);
    expect(Array.from(corpus[0].subarray(0, 4))).toEqual([0, 1, 2, 3]); // the corpus is never changed in place
  });

  it('uses every kind of mutation and keeps most of them in the hot region', () => {
    const m = new Mutator(9, corpus, { hot: 16 });
    const kinds = new Set<string>();
    let hot = 0;
    let total = 0;
    for (let i = 0; i < 500; i++)
      for (const op of m.next().ops) {
        kinds.add(op.split('@')[0]);
        total++;
        if (Number(op.split('@')[1].match(/^\d+/)![0]) < 16) hot++;
      }
    expect([...kinds].sort()).toEqual(['bitflip', 'boundary', 'byte', 'delete', 'insert', 'splice', 'truncate']);
    expect(hot / total).toBeGreaterThan(0.75);
  });

  it('writes little-endian boundary values, clipped at the end', () => {
    const b = new Uint8Array(6);
    writeLE(b, 0, 4, 0x11223344n);
    expect(Array.from(b.subarray(0, 4))).toEqual([0x44, 0x33, 0x22, 0x11]);
    writeLE(b, 4, 8, 2n ** 64n - 1n);
    expect(Array.from(b)).toEqual([0x44, 0x33, 0x22, 0x11, 0xff, 0xff]);
  });

  it('mutateJSON leaves its input unchanged', () => {
    const v = { a: [1, 2, { b: 'c' }], d: null };
    const copy = structuredClone(v);
    const rng = new Rng(3);
    const outs = Array.from({ length: 50 }, () => JSON.stringify(mutateJSON(v, rng).value));
    expect(v).toEqual(copy);
    expect(new Set(outs).size).toBeGreaterThan(25);
  });
});

// ---------------------------------------------------------------- allocation bounds and the issue-17 seeds
//
// Each reader states in its header comment the most it allocates for a file of a given size (GGUF_HEADER_BOUND,
// CHECKPOINT_BOUND, RUNS_FILE_BOUND, REPORT_BOUND). Two measures hold it to that:
// - every typed array and ArrayBuffer a reader makes (constructors and ArrayBuffer.prototype.slice, wrapped while
//   the reader runs) is counted on every fuzz case below: a count over the bound fails the case;
// - the JS heap (JSON values, strings, objects) is measured around each issue-17 seed, with a collection before.

const TYPED = ['ArrayBuffer', 'Uint8Array', 'Int8Array', 'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array'] as const;
type G = Record<string, unknown>;

/** Runs `fn` with every typed-array allocation counted; returns its result (or error) and the bytes allocated. */
async function countAllocations<T>(fn: () => T | Promise<T>): Promise<{ value?: T; error?: unknown; bytes: number }> {
  const g = globalThis as unknown as G;
  const originals = TYPED.map((n) => g[n] as new (...a: unknown[]) => ArrayBufferView | ArrayBuffer);
  const RealAB = originals[0] as unknown as typeof ArrayBuffer;
  const realSlice = RealAB.prototype.slice;
  let bytes = 0;
  TYPED.forEach((n, i) => {
    g[n] = new Proxy(originals[i], {
      construct(t, args, nt) {
        const out = Reflect.construct(t, args, nt) as ArrayBufferView | ArrayBuffer;
        const viewOnly = args[0] instanceof RealAB || (typeof SharedArrayBuffer !== 'undefined' && args[0] instanceof SharedArrayBuffer);
        if (!viewOnly) bytes += out.byteLength;
        return out;
      },
    });
  });
  RealAB.prototype.slice = function (this: ArrayBuffer, a?: number, b?: number) {
    const out = realSlice.call(this, a, b);
    bytes += out.byteLength;
    return out;
  };
  try {
    return { value: await fn(), bytes };
  } catch (error) {
    return { error, bytes };
  } finally {
    TYPED.forEach((n, i) => (g[n] = originals[i]));
    RealAB.prototype.slice = realSlice;
  }
}

/** A full collection (V8's gc, exposed for this test). */
const collect: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/** Heap + external bytes allocated by `fn` (no collection in between, so garbage made counts too). */
async function heapGrowth(fn: () => unknown): Promise<{ bytes: number; error?: unknown }> {
  collect();
  const m0 = process.memoryUsage();
  let error: unknown;
  let keep: unknown;
  try {
    keep = await fn();
  } catch (e) {
    error = e;
  }
  const m1 = process.memoryUsage();
  void keep;
  return { bytes: m1.heapUsed - m0.heapUsed + (m1.arrayBuffers - m0.arrayBuffers), error };
}

const ckHeaderBytes = (b: Uint8Array) => (b.length >= 12 ? Math.min(b.length, 12 + new DataView(b.buffer, b.byteOffset).getUint32(8, true)) : b.length);
const runsHeaderBytes = (b: Uint8Array) => (b.length >= 16 ? Math.min(b.length, 16 + new DataView(b.buffer, b.byteOffset).getUint32(12, true)) : b.length);

describe('fuzz: every reader stays within its stated allocation bound', () => {
  it(`GGUF: ${CASES} mutations of the fixtures and the issue-17 seeds, each within GGUF_HEADER_BOUND`, async () => {
    const seeds = [ggufBlockCountBomb(), ggufOverlap()];
    const corpus = [fixture('tiny-llama-q8_0.gguf'), fixture('tiny-llama-q4_k_m.gguf'), writerGGUF(), ...seeds];
    const m = new Mutator(61, corpus, { hot: Math.max(...corpus.slice(0, 3).map((b) => parseGGUF(b).dataOffset)) });
    let worst = 0;
    for (let i = 0; i < CASES; i++) {
      const c = m.next();
      const r = await countAllocations(() => {
        const h = parseGGUF(c.bytes);
        if (h.metadata['general.architecture'] !== undefined && h.tensors.length > 2) configFromGGUF(h);
        return h;
      });
      if (r.error && !(r.error instanceof GGUFError)) throw new Error(`case ${c.index} [${c.ops}]: ${(r.error as Error).name}: ${(r.error as Error).message}`);
      const header = r.value ? r.value.dataOffset : c.bytes.length;
      worst = Math.max(worst, r.bytes / GGUF_HEADER_BOUND(header));
      if (r.bytes > GGUF_HEADER_BOUND(header)) throw new Error(`case ${c.index} [${c.ops}] allocated ${r.bytes} bytes, over GGUF_HEADER_BOUND(${header})`);
    }
    console.log(`gguf allocations: worst case used ${(100 * worst).toFixed(2)}% of GGUF_HEADER_BOUND`);
    const headerBytes = parseGGUF(fixture('tiny-llama-q8_0.gguf')).dataOffset; // both seeds are that fixture's header, edited
    for (const s of seeds) {
      const g = await heapGrowth(() => configFromGGUF(parseGGUF(s)));
      expect(g.error).toBeInstanceOf(GGUFError);
      expect(g.bytes).toBeLessThan(GGUF_HEADER_BOUND(headerBytes));
      console.log(`heap growth on a ${s.length}-byte seed: ${g.bytes} bytes (bound ${GGUF_HEADER_BOUND(headerBytes)})`);
    }
  });

  it(`checkpoints: ${CASES} mutations of valid files and the issue-17 seeds, each within CHECKPOINT_BOUND`, async () => {
    const seeds = [checkpointWithValue(NaN), new Uint8Array(tinyCheckpoint(1, { batchSize: 3e7, lr: 50, evalEvery: 0 }))];
    const corpus = [new Uint8Array(validCheckpoint(false, 1)), new Uint8Array(validCheckpoint(true, 2)), ...seeds];
    const m = new Mutator(62, corpus, { hot: Math.max(...corpus.map(ckHeaderBytes)) });
    let worst = 0;
    for (let i = 0; i < CASES; i++) {
      const c = m.next();
      const r = await countAllocations(() => decodeCheckpoint(c.bytes.buffer as ArrayBuffer));
      if (r.error) expectCleanError(r.error, c, CheckpointFormatError, CK_FIX);
      const bound = CHECKPOINT_BOUND(c.bytes.length, ckHeaderBytes(c.bytes));
      worst = Math.max(worst, r.bytes / bound);
      if (r.bytes > bound) throw new Error(`case ${c.index} [${c.ops}] allocated ${r.bytes} bytes, over CHECKPOINT_BOUND (${bound})`);
      // the tensor copies alone never exceed the file
      if (r.bytes > c.bytes.length) throw new Error(`case ${c.index} [${c.ops}] copied ${r.bytes} bytes from a ${c.bytes.length}-byte file`);
    }
    console.log(`checkpoint allocations: worst case used ${(100 * worst).toFixed(2)}% of CHECKPOINT_BOUND`);
    // The 4 MB bomb of 250 entries over the same bytes (1 GB before): refused, with next to nothing allocated.
    const bomb = checkpointOverlapBomb();
    const counted = await countAllocations(() => decodeCheckpoint(bomb.buffer as ArrayBuffer));
    expect(counted.error).toBeInstanceOf(CheckpointFormatError);
    expect(counted.bytes).toBe(0);
    for (const s of [bomb, ...seeds]) {
      const g = await heapGrowth(() => decodeCheckpoint(s.buffer as ArrayBuffer));
      expect(g.error).toBeInstanceOf(CheckpointFormatError);
      expect(g.bytes).toBeLessThan(CHECKPOINT_BOUND(s.length, ckHeaderBytes(s)));
      console.log(`heap growth on a ${s.length}-byte seed: ${g.bytes} bytes (bound ${CHECKPOINT_BOUND(s.length, ckHeaderBytes(s))})`);
    }
  });

  it(`runs files: ${CASES} mutations of valid files and the issue-17 seeds, each within RUNS_FILE_BOUND`, async () => {
    const now = '2026-01-01T00:00:00.000Z';
    const rec = (id: string, config: Record<string, unknown>) => ({ id, kind: 'train' as const, title: `run ${id}`, status: 'done' as const, config, createdAt: now, updatedAt: now, summary: {}, artifacts: {} });
    const valid = await encodeRunsFile([{ record: rec('a', { task: 'cipher', lr: 0.001 }), artifacts: { latest: tinyCheckpoint(1) } }]);
    const badSettings = await encodeRunsFile([{ record: rec('b', { batchSize: 3e7, lr: 50, evalEvery: 0 }), artifacts: {} }]);
    const nanCk = await encodeRunsFile([{ record: rec('c', { task: 'cipher' }), artifacts: { best: checkpointWithValue(Infinity).buffer as ArrayBuffer } }]);
    const corpus = await Promise.all([valid, badSettings, nanCk].map(async (b) => new Uint8Array(await b.arrayBuffer())));
    const m = new Mutator(63, corpus, { hot: Math.max(...corpus.map(runsHeaderBytes)) });
    let worst = 0;
    for (let i = 0; i < CASES; i++) {
      const c = m.next();
      const r = await countAllocations(() => decodeRunsFile(c.bytes.buffer as ArrayBuffer));
      if (r.error) expectCleanError(r.error, c, RunsFileError, /Export the runs again|Pick a file saved by the Runs page/);
      const bound = RUNS_FILE_BOUND(c.bytes.length, runsHeaderBytes(c.bytes));
      worst = Math.max(worst, r.bytes / bound);
      if (r.bytes > bound) throw new Error(`case ${c.index} [${c.ops}] allocated ${r.bytes} bytes, over RUNS_FILE_BOUND (${bound})`);
    }
    console.log(`runs-file allocations: worst case used ${(100 * worst).toFixed(2)}% of RUNS_FILE_BOUND`);
    const bomb = await runsOverlapBomb();
    const counted = await countAllocations(() => decodeRunsFile(bomb.buffer as ArrayBuffer));
    expect(counted.error).toBeInstanceOf(RunsFileError);
    expect(counted.bytes).toBe(0);
    for (const s of [bomb, corpus[1], corpus[2]]) {
      const g = await heapGrowth(() => decodeRunsFile(s.buffer as ArrayBuffer));
      expect(g.error).toBeInstanceOf(RunsFileError);
      expect(g.bytes).toBeLessThan(RUNS_FILE_BOUND(s.length, runsHeaderBytes(s)));
      console.log(`heap growth on a ${s.length}-byte seed: ${g.bytes} bytes (bound ${RUNS_FILE_BOUND(s.length, runsHeaderBytes(s))})`);
    }
  });

  it(`reports: ${CASES} mutations of the issue-17 seeds (r = 2, 900 %, kept = -3, the quadratic HTML), each refused within REPORT_BOUND`, async () => {
    const base = makeReport();
    const r2 = structuredClone(base); r2.analysis!.r[0][3] = 2;
    const share = structuredClone(base); share.steering!.cells[0].targeted.gen = 900;
    const kept = structuredClone(base); kept.pairs!.kept = -3;
    const hostile = '<html>' + '<script id='.repeat(23_000);
    const texts = [JSON.stringify(r2), JSON.stringify(share), JSON.stringify(kept), hostile];
    for (const t of texts) expect(() => parseReport(t)).toThrow(ReportFormatError);
    const m = new Mutator(64, texts.map((t) => new TextEncoder().encode(t)), { maxOps: 2 });
    const r = fuzz(() => m.next(), CASES, (c) => renderData(new TextDecoder().decode(c.bytes)), (e, c) => expectCleanError(e, c, ReportFormatError, /Export it again from the lab|Open a report saved by the lab/));
    console.log(`report seeds: ${r.ok} parsed, ${r.rejected} rejected, worst ${r.worstMs.toFixed(1)} ms`, top(r.messages));
    expect(r.rejected).toBeGreaterThan(CASES / 2);
    for (const t of texts) {
      const g = await heapGrowth(() => parseReport(t));
      expect(g.error).toBeInstanceOf(ReportFormatError);
      expect(g.bytes).toBeLessThan(REPORT_BOUND(t.length));
      console.log(`heap growth on a ${t.length}-byte seed: ${g.bytes} bytes (bound ${REPORT_BOUND(t.length)})`);
    }
  });
});
