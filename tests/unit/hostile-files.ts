// Crafted hostile files for the hardening tests (tests/unit/hardening.test.ts) and the fuzz seeds: each one is a
// case found by hand in issue 17 (a memory bomb from a small file, or nonsense that loaded silently).
import { readFileSync } from 'node:fs';
import { parseGGUF, GGUFValueType, type GGUFHeader, type GGUFValue } from '../../src/lib/gguf/reader';
import { writeGGUF, type GGUFWriteValue, type GGUFWriteTensor } from '../../src/lib/gguf/writer';
import type { QuantType } from '../../src/lib/gguf/types';

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
