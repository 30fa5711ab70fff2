// IEEE 754 half precision <-> single precision for stored activations (halves the bytes on disk).
// Written here because Float16Array is missing in Node 20 and older browsers. Rounding is to nearest,
// ties to even, as a GPU or numpy's astype(float16) does; overflow gives +-Infinity, NaN stays NaN.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** One float32 value to its float16 bits. */
export function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // Inf or (quiet) NaN
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 31) return sign | 0x7c00; // too large: Infinity
  if (e <= 0) {
    // Subnormal half (or zero): shift the mantissa with its implicit 1 into place, then round.
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent is correct (up to Infinity)
  return sign | h;
}

let table: Float32Array | undefined;

/** float16 bits -> float32 for all 65,536 patterns (256 KB), built on first use. */
function halfTable(): Float32Array {
  if (table) return table;
  table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) table[h] = sign * mant * 2 ** -24;
    else if (exp === 31) table[h] = mant ? NaN : sign * Infinity;
    else table[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return table;
}

export function f32ToF16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  if (dst.length < src.length) throw new Error(`f32ToF16: destination holds ${dst.length} values, source has ${src.length}.`);
  for (let i = 0; i < src.length; i++) dst[i] = toHalfBits(src[i]);
  return dst;
}

export function f16ToF32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  if (dst.length < src.length) throw new Error(`f16ToF32: destination holds ${dst.length} values, source has ${src.length}.`);
  const t = halfTable();
  for (let i = 0; i < src.length; i++) dst[i] = t[src[i]];
  return dst;
}
