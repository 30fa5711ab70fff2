// Crafted hostile files for the hardening tests (tests/unit/hardening.test.ts) and the fuzz seeds: each one is a
// case found by hand in issue 17 (a memory bomb from a small file, or nonsense that loaded silently).
import { readFileSync } from 'node:fs';
import { parseGGUF, GGUFValueType, type GGUFHeader, type GGUFValue } from '../../src/lib/gguf/reader';
import { writeGGUF, type GGUFWriteValue, type GGUFWriteTensor } from '../../src/lib/gguf/writer';
import type { QuantType } from '../../src/lib/gguf/types';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointHeader } from '../../src/lib/train/checkpoint';
import { initWeights, weightShapes } from '../../src/lib/models/gpt2/model';
import type { GPT2Config } from '../../src/lib/models/gpt2/config';
import { getTask } from '../../src/lib/tasks';
import { RUNS_FILE_MAGIC } from '../../src/lib/report/runs-file';

export const fixture = (f: string) => new Uint8Array(readFileSync(`tests/fixtures/${f}`));

/** The writer's form of a parsed metadata value (the types the fixtures use). */
function writeValue(h: GGUFHeader, key: string): GGUFWriteValue {
  const v = h.metadata[key] as GGUFValue;
  const { type, elementType } = h.metadataTypes[key];
  switch (type) {
    case GGUFValueType.STRING: return { type: 'string', value: v as string };
    case GGUFValueType.UINT32: return { type: 'u32', value: v as number };
    case GGUFValueType.INT32: return { type: 'i32', value: v as number };
    case GGUFValueType.FLOAT32: return { type: 'f32', value: v as number };
    case GGUFValueType.UINT64: return { type: 'u64', value: v as number };
    case GGUFValueType.FLOAT64: return { type: 'f64', value: v as number };
    case GGUFValueType.UINT8: return { type: 'u8', value: v as number };
    case GGUFValueType.BOOL: return { type: 'bool', value: v as boolean };
    case GGUFValueType.ARRAY:
      if (elementType === GGUFValueType.STRING) return { type: 'array-string', value: v as string[] };
      if (elementType === GGUFValueType.INT32) return { type: 'array-i32', value: v as ArrayLike<number> };
      if (elementType === GGUFValueType.FLOAT32) return { type: 'array-f32', value: v as ArrayLike<number> };
  }
  throw new Error(`writeValue: ${key} has a type the writer does not emit`);
}

/**
 * A fixture written again with metadata changed (null deletes a key) and tensors edited (`tensors` maps the
 * parsed list to the list to write, with each tensor's bytes).
 */
export function rewriteGGUF(
  file: string,
  meta: Record<string, GGUFWriteValue | null> = {},
  tensors: (ts: GGUFWriteTensor[]) => GGUFWriteTensor[] = (ts) => ts,
): Uint8Array {
  const bytes = fixture(file);
  const h = parseGGUF(bytes);
  const md: Record<string, GGUFWriteValue> = {};
  for (const k of Object.keys(h.metadata)) if (k !== 'general.alignment') md[k] = writeValue(h, k);
  for (const [k, v] of Object.entries(meta)) {
    if (v === null) delete md[k];
    else md[k] = v;
  }
  const ts = h.tensors.map((t) => ({
    name: t.name, dims: t.dims, type: t.type as QuantType,
    data: bytes.slice(h.dataOffset + t.offset, h.dataOffset + t.offset + t.nBytes),
  }));
  return writeGGUF(md, tensors(ts), h.alignment);
}

/** Replaces the first occurrence of ASCII `from` by `to` (same length) in the header: renames a key in place. */
export function renameInPlace(b: Uint8Array, from: string, to: string): Uint8Array {
  if (from.length !== to.length) throw new Error('renameInPlace: names must have the same length');
  const f = new TextEncoder().encode(from);
  outer: for (let i = 0; i + f.length <= b.length; i++) {
    for (let j = 0; j < f.length; j++) if (b[i + j] !== f[j]) continue outer;
    const out = b.slice();
    out.set(new TextEncoder().encode(to), i);
    return out;
  }
  throw new Error(`renameInPlace: "${from}" not found`);
}

/** Byte offset of tensor `name`'s data offset field (u64) in its tensor info record. */
export function tensorOffsetField(b: Uint8Array, name: string): number {
  const h = parseGGUF(b);
  const t = h.tensors.find((x) => x.name === name)!;
  const needle = new TextEncoder().encode(name);
  outer: for (let i = b.length - needle.length; i >= 8; i--) {
    for (let j = 0; j < needle.length; j++) if (b[i + j] !== needle[j]) continue outer;
    if (Number(new DataView(b.buffer, b.byteOffset + i - 8, 8).getBigUint64(0, true)) !== needle.length) continue;
    // name, u32 n_dims, u64 dims..., u32 type, u64 offset
    return i + needle.length + 4 + 8 * t.dims.length + 4;
  }
  throw new Error(`tensor ${name} not found`);
}

/** The 445 KB-class bomb of issue 17: the q8_0 fixture claiming llama.block_count = 1e8. */
export function ggufBlockCountBomb(): Uint8Array {
  return rewriteGGUF('tiny-llama-q8_0.gguf', { 'llama.block_count': { type: 'u32', value: 1e8 } });
}

/** The same fixture with two tensors sharing bytes (the second points at the first's data). */
export function ggufOverlap(): Uint8Array {
  const b = fixture('tiny-llama-q8_0.gguf');
  const h = parseGGUF(b);
  const at = tensorOffsetField(b, h.tensors[1].name);
  new DataView(b.buffer, b.byteOffset).setBigUint64(at, BigInt(h.tensors[0].offset), true);
  return b;
}

// ---------------------------------------------------------------- GPT-2 checkpoints

const ckTok = getTask('cipher').tokenizer();
export const ckConfig: GPT2Config = { nLayer: 1, nHead: 2, dModel: 8, nCtx: 12, vocabSize: ckTok.size, eps: 1e-5 };

/** A small valid checkpoint (1 layer, 8 wide) with `train` settings merged over sane ones. */
export function tinyCheckpoint(seed = 1, train: Record<string, unknown> = {}, withAdam = false): ArrayBuffer {
  const w = initWeights(ckConfig, seed);
  const shapes = weightShapes(ckConfig);
  const tensors: Record<string, Float32Array> = { ...w };
  const allShapes: Record<string, number[]> = { ...shapes };
  if (withAdam)
    for (const [k, v] of Object.entries(w)) {
      tensors[`${k}.adam_m`] = v.map((x) => x * 0.1);
      allShapes[`${k}.adam_m`] = shapes[k];
    }
  const header: Omit<CheckpointHeader, 'tensors'> = {
    format: 'memgen-gpt2-checkpoint', version: 1, id: `tiny-${seed}`, task: 'cipher', preset: 'tiny', config: ckConfig,
    tokenizer: ckTok.toJSON(), seed, step: 40, train: { task: 'cipher', preset: 'tiny', lr: 0.001, steps: 100, batchSize: 8, ...train },
    eval: { step: 40, mem: 0.5, gen: 0.25, other: 0.25, total: 1, decode: 'greedy' },
    log: [{ step: 10, loss: 3.2 }, { step: 40, gen: 0.25, mem: 0.5 }], createdAt: '2026-01-01T00:00:00.000Z',
  };
  return encodeCheckpoint(header, tensors, allShapes);
}

/** Rebuilds a checkpoint file around a new header JSON, keeping the tensor bytes. */
export function withCheckpointHeader(buf: ArrayBuffer, header: unknown, extraData = 0): Uint8Array {
  const hlen = new DataView(buf).getUint32(8, true);
  const data = new Uint8Array(buf, Math.ceil((12 + hlen) / 8) * 8);
  const json = new TextEncoder().encode(JSON.stringify(header) ?? 'null');
  const start = Math.ceil((12 + json.length) / 8) * 8;
  const out = new Uint8Array(start + data.length + extraData);
  out.set(new Uint8Array(buf, 0, 8));
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  out.set(data, start);
  return out;
}

/**
 * The .mgck bomb of issue 17: about 4 MB of data and 250 tensor entries that all point at the same 4 MB
 * (decoding used to copy each: 1 GB).
 */
export function checkpointOverlapBomb(): Uint8Array {
  const base = tinyCheckpoint(1);
  const h = decodeCheckpoint(base).header;
  const n = 1 << 20; // 4 MB of floats
  const tensors = Array.from({ length: 250 }, (_, i) => ({ name: `t${i}`, shape: [n], offset: 0, length: n }));
  const header = { ...h, tensors };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = Math.ceil((12 + json.length) / 8) * 8;
  const out = new Uint8Array(start + 4 * n);
  out.set(new Uint8Array(base, 0, 8));
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  return out;
}

/** A valid checkpoint with one weight set to `value` (NaN, Infinity...). */
export function checkpointWithValue(value: number, tensor = 'wte', index = 3): Uint8Array {
  const buf = tinyCheckpoint(2);
  const h = decodeCheckpoint(buf).header;
  const e = h.tensors.find((t) => t.name === tensor)!;
  const out = new Uint8Array(buf.slice(0));
  const dataStart = Math.ceil((12 + new DataView(buf).getUint32(8, true)) / 8) * 8;
  new DataView(out.buffer).setFloat32(dataStart + e.offset + 4 * index, value, true);
  return out;
}

// ---------------------------------------------------------------- runs files

const RUNS_PREFIX = RUNS_FILE_MAGIC.length + 4;

/** A runs file built by hand: a header with the given runs and the given data after it. */
export function rawRunsFile(runs: unknown[], data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify({ kind: 'memgen-runs', version: 1, exportedAt: '2026-01-01T00:00:00.000Z', runs }));
  const out = new Uint8Array(RUNS_PREFIX + json.length + data.length);
  out.set(new TextEncoder().encode(RUNS_FILE_MAGIC));
  new DataView(out.buffer).setUint32(RUNS_FILE_MAGIC.length, json.length, true);
  out.set(json, RUNS_PREFIX);
  out.set(data, RUNS_PREFIX + json.length);
  return out;
}

export const runRecord = (id: string, config: Record<string, unknown> = { task: 'cipher', lr: 0.001 }, kind = 'train') => ({
  id, kind, title: `run ${id}`, status: 'done', config, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', summary: {}, artifacts: {},
});

/** The runs-file bomb of issue 17: 250 artifacts over the same 4 MB (hashed and copied 250 times: 1 GB). */
export async function runsOverlapBomb(): Promise<Uint8Array> {
  const data = new Uint8Array(4 << 20);
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  const sha256 = Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
  const artifacts = Array.from({ length: 250 }, (_, i) => ({ name: `a${i}`, offset: 0, length: data.length, sha256 }));
  return rawRunsFile([{ record: runRecord('bomb', {}, 'steer'), artifacts }], data);
}
