// GGUF v3 writer, for the lab's fixtures and LoRA adapter files. Values carry their GGUF type explicitly.
import { GGUF_MAGIC, GGUFValueType } from './reader';
import { TYPE_ID, blockInfo, type QuantType } from './types';

export type GGUFWriteValue =
  | { type: 'u32' | 'i32' | 'f32' | 'u64' | 'u8' | 'f64'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array-string'; value: string[] }
  | { type: 'array-i32' | 'array-f32'; value: ArrayLike<number> };

export interface GGUFWriteTensor {
  name: string;
  /** ggml order (innermost first): a [out, in] matrix is [in, out]. */
  dims: number[];
  type: QuantType;
  data: Uint8Array;
}

const enc = new TextEncoder();

class Buf {
  private chunks: Uint8Array[] = [];
  length = 0;
  push(b: Uint8Array) { this.chunks.push(b); this.length += b.byteLength; }
  private num(n: number, f: (dv: DataView) => void) { const b = new Uint8Array(n); f(new DataView(b.buffer)); this.push(b); }
  u8(v: number) { this.num(1, (d) => d.setUint8(0, v)); }
  u32(v: number) { this.num(4, (d) => d.setUint32(0, v, true)); }
  i32(v: number) { this.num(4, (d) => d.setInt32(0, v, true)); }
  f32(v: number) { this.num(4, (d) => d.setFloat32(0, v, true)); }
  f64(v: number) { this.num(8, (d) => d.setFloat64(0, v, true)); }
  u64(v: number) { this.num(8, (d) => d.setBigUint64(0, BigInt(v), true)); }
  str(s: string) { const b = enc.encode(s); this.u64(b.byteLength); this.push(b); }
  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) { out.set(c, o); o += c.byteLength; }
    return out;
  }
}

export function writeGGUF(metadata: Record<string, GGUFWriteValue>, tensors: GGUFWriteTensor[], alignment = 32): Uint8Array {
  const b = new Buf();
  b.u32(GGUF_MAGIC);
  b.u32(3);
  b.u64(tensors.length);
  const kv = { ...metadata };
  if (alignment !== 32) kv['general.alignment'] = { type: 'u32', value: alignment };
  b.u64(Object.keys(kv).length);
  for (const [k, v] of Object.entries(kv)) {
    b.str(k);
    switch (v.type) {
      case 'u8': b.u32(GGUFValueType.UINT8); b.u8(v.value); break;
      case 'u32': b.u32(GGUFValueType.UINT32); b.u32(v.value); break;
      case 'i32': b.u32(GGUFValueType.INT32); b.i32(v.value); break;
      case 'f32': b.u32(GGUFValueType.FLOAT32); b.f32(v.value); break;
      case 'f64': b.u32(GGUFValueType.FLOAT64); b.f64(v.value); break;
      case 'u64': b.u32(GGUFValueType.UINT64); b.u64(v.value); break;
      case 'bool': b.u32(GGUFValueType.BOOL); b.u8(v.value ? 1 : 0); break;
      case 'string': b.u32(GGUFValueType.STRING); b.str(v.value); break;
      case 'array-string': b.u32(GGUFValueType.ARRAY); b.u32(GGUFValueType.STRING); b.u64(v.value.length); for (const s of v.value) b.str(s); break;
      case 'array-i32': b.u32(GGUFValueType.ARRAY); b.u32(GGUFValueType.INT32); b.u64(v.value.length); for (let i = 0; i < v.value.length; i++) b.i32(v.value[i]); break;
      case 'array-f32': b.u32(GGUFValueType.ARRAY); b.u32(GGUFValueType.FLOAT32); b.u64(v.value.length); for (let i = 0; i < v.value.length; i++) b.f32(v.value[i]); break;
    }
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    const n = t.dims.reduce((a, c) => a * c, 1);
    const { blockSize, typeSize } = blockInfo(t.type);
    if (t.dims[0] % blockSize !== 0) throw new Error(`writeGGUF: tensor ${t.name} row ${t.dims[0]} is not a multiple of ${blockSize} (${t.type}).`);
    if (t.data.byteLength !== (n / blockSize) * typeSize) throw new Error(`writeGGUF: tensor ${t.name} has ${t.data.byteLength} bytes, expected ${(n / blockSize) * typeSize}.`);
    b.str(t.name);
    b.u32(t.dims.length);
    for (const d of t.dims) b.u64(d);
    b.u32(TYPE_ID[t.type]);
    b.u64(offset);
    offsets.push(offset);
    offset = Math.ceil((offset + t.data.byteLength) / alignment) * alignment;
  }
  const pad = (n: number) => { if (n > 0) b.push(new Uint8Array(n)); };
  pad(Math.ceil(b.length / alignment) * alignment - b.length);
  const start = b.length;
  tensors.forEach((t, i) => {
    pad(start + offsets[i] - b.length);
    b.push(t.data);
  });
  pad(Math.ceil(b.length / alignment) * alignment - b.length);
  return b.concat();
}
