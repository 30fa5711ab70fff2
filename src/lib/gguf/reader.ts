// GGUF reader (v2/v3): header, metadata of every value type, tensor infos, data offset.
// Every length read from the file is checked against the bytes that remain before anything is allocated,
// so a corrupt or hostile file fails with a message instead of exhausting memory.
// A Blob/File is read lazily: only the header bytes first (growing the window when the header is longer),
// then each tensor's bytes on demand, so a 1 GB file is never read twice.
//
// Allocation bound (checked by tests/unit/fuzz.test.ts): parsing a header allocates at most
// GGUF_HEADER_BOUND(header bytes) = 32 x the header's bytes + 1 MiB of JS heap and typed arrays, because every count
// and length is checked against the bytes left before anything is allocated, and no item is smaller than 1 byte
// in the file (a JS array slot or string costs at most ~32 bytes per file byte). The header window itself is at
// most the header's length + 1 MiB. Tensor bytes are read one tensor at a time, never more than the file holds.
// Refused, as llama.cpp refuses them: a metadata key given twice, general.alignment of any type other than
// UINT32 (or not a power of two), and tensor data extents that overlap or are out of file order.
import { GGML_TYPES, SUPPORTED_TYPES, isSupported, typeName, type QuantType } from './types';

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian

export enum GGUFValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** Metadata values: numbers (64-bit ints become bigint only when beyond 2^53), strings, booleans, arrays. */
export type GGUFValue = number | bigint | string | boolean | GGUFValue[] | ArrayLike<number>;

export interface GGUFTensorInfo {
  name: string;
  /** ggml order: dims[0] is the contiguous (innermost) dimension. A [out, in] matrix has dims [in, out]. */
  dims: number[];
  typeId: number;
  type: QuantType;
  /** Offset of the data relative to the start of the data section. */
  offset: number;
  nElements: number;
  nBytes: number;
}

export interface GGUFHeader {
  version: number;
  metadata: Record<string, GGUFValue>;
  /** The value type of each metadata key (ARRAY keys also get their element type). */
  metadataTypes: Record<string, { type: GGUFValueType; elementType?: GGUFValueType }>;
  tensors: GGUFTensorInfo[];
  alignment: number;
  /** Absolute byte offset where tensor data starts. */
  dataOffset: number;
  /** Total file size in bytes. */
  fileSize: number;
}

export class GGUFError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GGUFError';
  }
}

/** Thrown internally when the header window ends before the header does; the Blob reader then reads more. */
class NeedMoreBytes extends Error {
  constructor(readonly need: number) {
    super('need more bytes');
  }
}

/** The most JS heap + typed-array bytes parsing a header of `headerBytes` may allocate (see the header comment). */
export const GGUF_HEADER_BOUND = (headerBytes: number): number => 32 * headerBytes + (1 << 20);

const MAX_DIMS = 4; // GGML_MAX_DIMS
const MAX_STRING = 1 << 26; // 64 MiB: no key or value is legitimately longer

class Cursor {
  pos = 0;
  private readonly dv: DataView;
  private readonly dec = new TextDecoder('utf-8', { fatal: false });
  constructor(
    private readonly bytes: Uint8Array,
    /** Size of the whole file: the window may be shorter (Blob header reads). */
    readonly fileSize: number,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number, what: string): void {
    if (this.pos + n <= this.bytes.byteLength) return;
    if (this.pos + n <= this.fileSize) throw new NeedMoreBytes(this.pos + n);
    throw new GGUFError(
      `truncated: ${what} needs bytes up to ${this.pos + n} but the file has ${this.fileSize}. ` +
        'The download may be incomplete: fetch the file again.',
    );
  }
  remaining(): number {
    return this.fileSize - this.pos;
  }
  u8(w: string) { this.need(1, w); return this.dv.getUint8(this.pos++); }
  i8(w: string) { this.need(1, w); return this.dv.getInt8(this.pos++); }
  u16(w: string) { this.need(2, w); const v = this.dv.getUint16(this.pos, true); this.pos += 2; return v; }
  i16(w: string) { this.need(2, w); const v = this.dv.getInt16(this.pos, true); this.pos += 2; return v; }
  u32(w: string) { this.need(4, w); const v = this.dv.getUint32(this.pos, true); this.pos += 4; return v; }
  i32(w: string) { this.need(4, w); const v = this.dv.getInt32(this.pos, true); this.pos += 4; return v; }
  f32(w: string) { this.need(4, w); const v = this.dv.getFloat32(this.pos, true); this.pos += 4; return v; }
  f64(w: string) { this.need(8, w); const v = this.dv.getFloat64(this.pos, true); this.pos += 8; return v; }
  u64(w: string): number | bigint {
    this.need(8, w);
    const v = this.dv.getBigUint64(this.pos, true);
    this.pos += 8;
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  i64(w: string): number | bigint {
    this.need(8, w);
    const v = this.dv.getBigInt64(this.pos, true);
    this.pos += 8;
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
  }
  /** A u64 count or length that must fit in the rest of the file at `minBytesEach` bytes per item. */
  count(what: string, minBytesEach: number): number {
    const n = this.u64(what);
    if (typeof n === 'bigint' || n * minBytesEach > this.remaining()) {
      throw new GGUFError(
        `corrupt: ${what} says ${n} items of at least ${minBytesEach} bytes, but only ${this.remaining()} bytes ` +
          'remain in the file. The file is damaged or not a GGUF file.',
      );
    }
    return n;
  }
  str(what: string): string {
    const n = this.count(`length of ${what}`, 1);
    if (n > MAX_STRING) throw new GGUFError(`corrupt: ${what} claims a string of ${n} bytes (limit ${MAX_STRING}).`);
    this.need(n, what);
    const s = this.dec.decode(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
}

const SCALAR_SIZE: Partial<Record<GGUFValueType, number>> = {
  [GGUFValueType.UINT8]: 1, [GGUFValueType.INT8]: 1, [GGUFValueType.BOOL]: 1,
  [GGUFValueType.UINT16]: 2, [GGUFValueType.INT16]: 2,
  [GGUFValueType.UINT32]: 4, [GGUFValueType.INT32]: 4, [GGUFValueType.FLOAT32]: 4,
  [GGUFValueType.UINT64]: 8, [GGUFValueType.INT64]: 8, [GGUFValueType.FLOAT64]: 8,
};

function readValue(c: Cursor, type: number, key: string, depth: number): GGUFValue {
  switch (type) {
    case GGUFValueType.UINT8: return c.u8(key);
    case GGUFValueType.INT8: return c.i8(key);
    case GGUFValueType.UINT16: return c.u16(key);
    case GGUFValueType.INT16: return c.i16(key);
    case GGUFValueType.UINT32: return c.u32(key);
    case GGUFValueType.INT32: return c.i32(key);
    case GGUFValueType.FLOAT32: return c.f32(key);
    case GGUFValueType.FLOAT64: return c.f64(key);
    case GGUFValueType.UINT64: return c.u64(key);
    case GGUFValueType.INT64: return c.i64(key);
    case GGUFValueType.BOOL: {
      const b = c.u8(key);
      if (b > 1) throw new GGUFError(`corrupt: metadata "${key}" is a bool with byte value ${b} (must be 0 or 1).`);
      return b === 1;
    }
    case GGUFValueType.STRING: return c.str(`metadata "${key}"`);
    case GGUFValueType.ARRAY: {
      if (depth > 3) throw new GGUFError(`corrupt: metadata "${key}" nests arrays deeper than 3 levels.`);
      const et = c.u32(`element type of "${key}"`);
      const size = SCALAR_SIZE[et as GGUFValueType];
      const minEach = size ?? (et === GGUFValueType.STRING ? 8 : et === GGUFValueType.ARRAY ? 12 : 0);
      if (minEach === 0) throw new GGUFError(`corrupt: metadata array "${key}" has unknown element type ${et}.`);
      const n = c.count(`array "${key}"`, minEach);
      if (et === GGUFValueType.INT32 || et === GGUFValueType.UINT32 || et === GGUFValueType.FLOAT32) {
        const out = et === GGUFValueType.INT32 ? new Int32Array(n) : et === GGUFValueType.UINT32 ? new Uint32Array(n) : new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = readValue(c, et, key, depth + 1) as number;
        return out;
      }
      const out: GGUFValue[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readValue(c, et, key, depth + 1);
      return out;
    }
    default:
      throw new GGUFError(`corrupt: metadata "${key}" has unknown value type ${type} (valid types are 0..12).`);
  }
}

export interface ParseOptions {
  /** Keep tensors of types this lab cannot compute with (for inspecting a file); default false: throw. */
  allowUnsupported?: boolean;
}

function parseFrom(bytes: Uint8Array, fileSize: number, opts: ParseOptions): GGUFHeader {
  const c = new Cursor(bytes, fileSize);
  if (fileSize < 8) throw new GGUFError(`not a GGUF file: it is only ${fileSize} bytes long.`);
  const magic = c.u32('magic');
  if (magic !== GGUF_MAGIC) {
    const hex = magic.toString(16).padStart(8, '0');
    throw new GGUFError(`not a GGUF file (magic 0x${hex}, expected 0x46554747 "GGUF"). Pick a .gguf model file.`);
  }
  const version = c.u32('version');
  if (version !== 2 && version !== 3) {
    throw new GGUFError(`unsupported GGUF version ${version}: this reader handles versions 2 and 3. Re-convert the model with a recent llama.cpp.`);
  }
  const nTensors = c.count('tensor count', 24);
  const nKv = c.count('metadata count', 12);
  const metadata: Record<string, GGUFValue> = {};
  const metadataTypes: GGUFHeader['metadataTypes'] = {};
  for (let i = 0; i < nKv; i++) {
    const key = c.str(`metadata key #${i}`);
    // llama.cpp refuses a repeated key; taking the last value would load a different model than llama.cpp does.
    if (Object.hasOwn(metadata, key)) throw new GGUFError(`corrupt: metadata key "${key}" appears twice. The file is damaged or was written by a broken converter: re-convert it with llama.cpp.`);
    const type = c.u32(`value type of "${key}"`);
    const start = c.pos;
    metadata[key] = readValue(c, type, key, 0);
    metadataTypes[key] = { type };
    if (type === GGUFValueType.ARRAY) {
      const dv = new DataView(bytes.buffer, bytes.byteOffset + start, 4);
      metadataTypes[key].elementType = dv.getUint32(0, true);
    }
  }
  let alignment = 32;
  if ('general.alignment' in metadata) {
    const a = metadata['general.alignment'];
    if (metadataTypes['general.alignment'].type !== GGUFValueType.UINT32) {
      throw new GGUFError(
        `general.alignment is stored as ${GGUFValueType[metadataTypes['general.alignment'].type] ?? 'an unknown type'}: GGUF requires UINT32. ` +
          'The file was written by a broken converter: re-convert it with llama.cpp.',
      );
    }
    if (typeof a !== 'number' || !Number.isInteger(a) || a <= 0 || (a & (a - 1)) !== 0) {
      throw new GGUFError(`general.alignment is ${String(a)}: it must be a power of two.`);
    }
    alignment = a;
  }
  const tensors: GGUFTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const name = c.str(`name of tensor #${i}`);
    if (names.has(name)) throw new GGUFError(`corrupt: tensor "${name}" appears twice.`);
    names.add(name);
    const nDims = c.u32(`dimension count of tensor ${name}`);
    if (nDims < 1 || nDims > MAX_DIMS) throw new GGUFError(`corrupt: tensor ${name} has ${nDims} dimensions (1..${MAX_DIMS} allowed).`);
    const dims: number[] = [];
    let nElements = 1;
    for (let d = 0; d < nDims; d++) {
      const v = c.u64(`dimension ${d} of tensor ${name}`);
      if (typeof v === 'bigint' || v < 1) throw new GGUFError(`corrupt: tensor ${name} dimension ${d} is ${v}.`);
      dims.push(v);
      nElements *= v;
    }
    if (!Number.isSafeInteger(nElements)) throw new GGUFError(`corrupt: tensor ${name} has too many elements (${dims.join('x')}).`);
    const typeId = c.u32(`type of tensor ${name}`);
    const info = GGML_TYPES[typeId];
    const tName = typeName(typeId);
    if (!info) throw new GGUFError(`corrupt: tensor ${name} has unknown ggml type id ${typeId}.`);
    if (!isSupported(tName) && !opts.allowUnsupported) {
      throw new GGUFError(
        `unsupported quantization type ${tName} for tensor ${name}: supported are ${SUPPORTED_TYPES.join(', ')}. ` +
          'Pick a GGUF quantized as Q4_K_M, Q4_0, Q8_0, F16 or F32.',
      );
    }
    if (dims[0] % info.blockSize !== 0) {
      throw new GGUFError(`corrupt: tensor ${name} (${tName}) has a row of ${dims[0]} elements, not a multiple of its block size ${info.blockSize}.`);
    }
    const offset = c.u64(`offset of tensor ${name}`);
    if (typeof offset === 'bigint') throw new GGUFError(`corrupt: tensor ${name} offset ${offset} is beyond any file.`);
    if (offset % alignment !== 0) throw new GGUFError(`corrupt: tensor ${name} offset ${offset} is not a multiple of the alignment ${alignment}.`);
    tensors.push({ name, dims, typeId, type: tName as QuantType, offset, nElements, nBytes: (nElements / info.blockSize) * info.typeSize });
  }
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  let prevEnd = 0;
  let prev = '';
  for (const t of tensors) {
    // In file order and disjoint, as llama.cpp requires: two tensors sharing bytes would alias one weight as another.
    if (t.offset < prevEnd) {
      throw new GGUFError(
        `corrupt: tensor ${t.name} starts at data offset ${t.offset}, inside or before tensor ${prev} (which ends at ${prevEnd}). ` +
          'Tensor data must not overlap and must be in file order: the file is damaged; fetch or convert it again.',
      );
    }
    prevEnd = t.offset + t.nBytes;
    prev = t.name;
    const end = dataOffset + t.offset + t.nBytes;
    if (end > fileSize) {
      throw new GGUFError(
        `truncated: tensor ${t.name} needs bytes up to ${end} but the file has ${fileSize}. The download may be incomplete: fetch the file again.`,
      );
    }
  }
  return { version, metadata, metadataTypes, tensors, alignment, dataOffset, fileSize };
}

/** Parse a whole GGUF file held in memory. */
export function parseGGUF(buf: ArrayBuffer | Uint8Array, opts: ParseOptions = {}): GGUFHeader {
  const bytes = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  try {
    return parseFrom(bytes, bytes.byteLength, opts);
  } catch (e) {
    if (e instanceof NeedMoreBytes) throw new GGUFError('internal: header window shorter than file');
    throw e;
  }
}

/** Parse only the header of a Blob/File, reading 1 MiB and growing the window while the header is longer. */
export async function readGGUFHeader(blob: Blob, opts: ParseOptions = {}): Promise<GGUFHeader> {
  let window = Math.min(blob.size, 1 << 20);
  for (;;) {
    const bytes = new Uint8Array(await blob.slice(0, window).arrayBuffer());
    try {
      return parseFrom(bytes, blob.size, opts);
    } catch (e) {
      if (!(e instanceof NeedMoreBytes)) throw e;
      window = Math.min(blob.size, Math.max(window * 2, e.need + (1 << 20)));
    }
  }
}

/** Either a whole file in memory or a Blob read lazily. */
export type GGUFSource = ArrayBuffer | Uint8Array | Blob;

export function findTensor(h: GGUFHeader, name: string): GGUFTensorInfo {
  const t = h.tensors.find((x) => x.name === name);
  if (!t) throw new GGUFError(`tensor ${name} is missing from the GGUF file. The file is not a complete model of this architecture.`);
  return t;
}

/** The raw bytes of one tensor (a view into the buffer for in-memory sources). */
export async function readTensorBytes(src: GGUFSource, h: GGUFHeader, t: GGUFTensorInfo): Promise<Uint8Array> {
  const start = h.dataOffset + t.offset;
  if (src instanceof Blob) return new Uint8Array(await src.slice(start, start + t.nBytes).arrayBuffer());
  const bytes = src instanceof Uint8Array ? src : new Uint8Array(src);
  return bytes.subarray(start, start + t.nBytes);
}

/** Typed metadata getters that name the missing key. */
export function metaNumber(h: GGUFHeader, key: string, fallback?: number): number {
  const v = h.metadata[key];
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new GGUFError(`metadata key "${key}" is missing: the file does not describe this model fully.`);
  }
  if (typeof v !== 'number') throw new GGUFError(`metadata key "${key}" should be a number but is ${typeof v}.`);
  return v;
}

export function metaString(h: GGUFHeader, key: string, fallback?: string): string {
  const v = h.metadata[key];
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new GGUFError(`metadata key "${key}" is missing: the file does not describe this model fully.`);
  }
  if (typeof v !== 'string') throw new GGUFError(`metadata key "${key}" should be a string.`);
  return v;
}
