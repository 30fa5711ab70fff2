// Dequantizers and simple round-to-nearest quantizers for the block formats the lab supports.
// Layouts follow ggml-common.h (all little-endian, blocks laid one after another along a row):
//   Q8_0  32 values, 34 B: f16 d | i8 qs[32]                    x = d * q
//   Q4_0  32 values, 18 B: f16 d | u8 qs[16]                    x[j] = d * ((qs[j] & 15) - 8), x[j+16] = d * ((qs[j] >> 4) - 8)
//   Q4_K 256 values, 144 B: f16 d | f16 dmin | u8 scales[12] | u8 qs[128]
//        8 sub-blocks of 32 with 6-bit scale sc and min m packed in `scales`; x = d*sc*q - dmin*m, q in 0..15
//        qs: for each 64-value chunk c, qs[32c + l] holds value 64c+l (low nibble) and 64c+32+l (high nibble)
//   Q6_K 256 values, 210 B: u8 ql[128] | u8 qh[64] | i8 scales[16] | f16 d
//        16 sub-blocks of 16 with int8 scale; x = d * sc * (q - 32), q 6 bits = 4 low bits in ql + 2 high in qh
import { blockInfo, type QuantType } from './types';

// ---------- f16 <-> f32 ----------
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** f32 -> f16 bits, round to nearest even (as ggml's GGML_FP32_TO_FP16). */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h; // a mantissa carry rolls into the exponent, which is the right rounding
}

export const roundHalf = (v: number): number => halfToFloat(floatToHalf(v));

// ---------- dequantize ----------

function checkSize(type: QuantType, bytes: Uint8Array, n: number): void {
  const { blockSize, typeSize } = blockInfo(type);
  if (n % blockSize !== 0) throw new Error(`dequantize ${type}: ${n} values is not a multiple of the block size ${blockSize}.`);
  const need = (n / blockSize) * typeSize;
  if (bytes.byteLength < need) throw new Error(`dequantize ${type}: ${n} values need ${need} bytes, got ${bytes.byteLength}.`);
}

/** Unpack Q4_K's 12 scale bytes into 8 scales and 8 mins (ggml's get_scale_min_k4). */
export function unpackQ4KScales(s: Uint8Array, o: number): { sc: number[]; m: number[] } {
  const sc: number[] = [], m: number[] = [];
  for (let j = 0; j < 8; j++) {
    if (j < 4) {
      sc.push(s[o + j] & 63);
      m.push(s[o + j + 4] & 63);
    } else {
      sc.push((s[o + j + 4] & 0xf) | ((s[o + j - 4] >> 6) << 4));
      m.push((s[o + j + 4] >> 4) | ((s[o + j] >> 6) << 4));
    }
  }
  return { sc, m };
}

/** Dequantize `n` values of `type` from `bytes` (row-major, blocks consecutive). */
export function dequantize(type: QuantType, bytes: Uint8Array, n: number): Float32Array {
  checkSize(type, bytes, n);
  const out = new Float32Array(n);
  dequantizeInto(type, bytes, 0, n, out);
  return out;
}

// Every f16 value as f32, so a block's scale is one load (the CPU matmul twins dequantize one row per output).
let HALF: Float32Array | null = null;
export function halfTable(): Float32Array {
  if (!HALF) {
    HALF = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) HALF[i] = halfToFloat(i);
  }
  return HALF;
}

/**
 * Dequantize `n` values starting at byte `at` of `bytes` into `out` (from `outAt`), allocating nothing: the hot
 * loop of the CPU twins of the quantized matmuls. Sizes are the caller's to check (see `dequantize`).
 */
export function dequantizeInto(type: QuantType, bytes: Uint8Array, at: number, n: number, out: Float32Array, outAt = 0): void {
  const H = halfTable();
  const h = (o: number) => H[bytes[o] | (bytes[o + 1] << 8)];
  const i8 = (o: number) => (bytes[o] << 24) >> 24;
  switch (type) {
    case 'F32': {
      const dv = new DataView(bytes.buffer, bytes.byteOffset + at, n * 4);
      for (let i = 0; i < n; i++) out[outAt + i] = dv.getFloat32(i * 4, true);
      break;
    }
    case 'F16':
      for (let i = 0; i < n; i++) out[outAt + i] = h(at + i * 2);
      break;
    case 'Q8_0':
      for (let b = 0; b < n / 32; b++) {
        const o = at + b * 34, d = h(o), y = outAt + b * 32;
        for (let j = 0; j < 32; j++) out[y + j] = d * i8(o + 2 + j);
      }
      break;
    case 'Q4_0':
      for (let b = 0; b < n / 32; b++) {
        const o = at + b * 18, d = h(o), y = outAt + b * 32;
        for (let j = 0; j < 16; j++) {
          const q = bytes[o + 2 + j];
          out[y + j] = d * ((q & 15) - 8);
          out[y + j + 16] = d * ((q >> 4) - 8);
        }
      }
      break;
    case 'Q4_K':
      for (let b = 0; b < n / 256; b++) {
        const o = at + b * 144, d = h(o), dmin = h(o + 2), s = o + 4, y = outAt + b * 256;
        for (let c = 0; c < 4; c++) {
          // sub-blocks 2c and 2c+1 (ggml's get_scale_min_k4, inlined)
          const j0 = 2 * c, j1 = 2 * c + 1;
          const sc0 = j0 < 4 ? bytes[s + j0] & 63 : (bytes[s + j0 + 4] & 0xf) | ((bytes[s + j0 - 4] >> 6) << 4);
          const m0 = j0 < 4 ? bytes[s + j0 + 4] & 63 : (bytes[s + j0 + 4] >> 4) | ((bytes[s + j0] >> 6) << 4);
          const sc1 = j1 < 4 ? bytes[s + j1] & 63 : (bytes[s + j1 + 4] & 0xf) | ((bytes[s + j1 - 4] >> 6) << 4);
          const m1 = j1 < 4 ? bytes[s + j1 + 4] & 63 : (bytes[s + j1 + 4] >> 4) | ((bytes[s + j1] >> 6) << 4);
          const a0 = d * sc0, b0 = dmin * m0, a1 = d * sc1, b1 = dmin * m1;
          const qo = o + 16 + 32 * c, yo = y + 64 * c;
          for (let l = 0; l < 32; l++) {
            const q = bytes[qo + l];
            out[yo + l] = a0 * (q & 15) - b0;
            out[yo + 32 + l] = a1 * (q >> 4) - b1;
          }
        }
      }
      break;
    case 'Q6_K':
      for (let b = 0; b < n / 256; b++) {
        const o = at + b * 210, d = h(o + 208);
        for (let half = 0; half < 2; half++) {
          const ql = o + 64 * half, qh = o + 128 + 32 * half, sc = o + 192 + 8 * half, y = outAt + b * 256 + 128 * half;
          for (let l = 0; l < 32; l++) {
            const is = l >> 4;
            const Hb = bytes[qh + l];
            const q1 = ((bytes[ql + l] & 15) | ((Hb & 3) << 4)) - 32;
            const q2 = ((bytes[ql + l + 32] & 15) | (((Hb >> 2) & 3) << 4)) - 32;
            const q3 = ((bytes[ql + l] >> 4) | (((Hb >> 4) & 3) << 4)) - 32;
            const q4 = ((bytes[ql + l + 32] >> 4) | (((Hb >> 6) & 3) << 4)) - 32;
            out[y + l] = d * i8(sc + is) * q1;
            out[y + l + 32] = d * i8(sc + is + 2) * q2;
            out[y + l + 64] = d * i8(sc + is + 4) * q3;
            out[y + l + 96] = d * i8(sc + is + 6) * q4;
          }
        }
      }
      break;
  }
}

// ---------- quantize (round to nearest; for fixtures) ----------

export function quantize(type: QuantType, x: Float32Array): Uint8Array {
  const n = x.length;
  const { blockSize, typeSize } = blockInfo(type);
  if (n % blockSize !== 0) throw new Error(`quantize ${type}: ${n} values is not a multiple of the block size ${blockSize}.`);
  const out = new Uint8Array((n / blockSize) * typeSize);
  const dv = new DataView(out.buffer);
  const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));
  switch (type) {
    case 'F32':
      for (let i = 0; i < n; i++) dv.setFloat32(i * 4, x[i], true);
      break;
    case 'F16':
      for (let i = 0; i < n; i++) dv.setUint16(i * 2, floatToHalf(x[i]), true);
      break;
    case 'Q8_0':
      for (let b = 0; b < n / 32; b++) {
        let amax = 0;
        for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]));
        const dh = floatToHalf(amax / 127), d = halfToFloat(dh);
        dv.setUint16(b * 34, dh, true);
        for (let j = 0; j < 32; j++) dv.setInt8(b * 34 + 2 + j, d ? clamp(Math.round(x[b * 32 + j] / d), -127, 127) : 0);
      }
      break;
    case 'Q4_0':
      for (let b = 0; b < n / 32; b++) {
        // As ggml: the value of largest magnitude maps to -8, so d may be negative.
        let max = 0;
        for (let j = 0; j < 32; j++) if (Math.abs(x[b * 32 + j]) > Math.abs(max)) max = x[b * 32 + j];
        const dh = floatToHalf(max / -8), d = halfToFloat(dh);
        dv.setUint16(b * 18, dh, true);
        for (let j = 0; j < 16; j++) {
          const q0 = d ? clamp(Math.round(x[b * 32 + j] / d) + 8, 0, 15) : 8;
          const q1 = d ? clamp(Math.round(x[b * 32 + j + 16] / d) + 8, 0, 15) : 8;
          out[b * 18 + 2 + j] = q0 | (q1 << 4);
        }
      }
      break;
    case 'Q4_K':
      for (let b = 0; b < n / 256; b++) {
        const o = b * 144, xb = x.subarray(b * 256, b * 256 + 256);
        const scale: number[] = [], mins: number[] = [];
        for (let s = 0; s < 8; s++) {
          let lo = 0, hi = 0; // the min is clamped at 0 so that mins stay non-negative (x = d*sc*q - dmin*m)
          for (let l = 0; l < 32; l++) { lo = Math.min(lo, xb[32 * s + l]); hi = Math.max(hi, xb[32 * s + l]); }
          scale.push((hi - lo) / 15);
          mins.push(-lo);
        }
        const dh = floatToHalf(Math.max(...scale) / 63), d = halfToFloat(dh);
        const mh = floatToHalf(Math.max(...mins) / 63), dmin = halfToFloat(mh);
        const sc = scale.map((v) => (d ? clamp(Math.round(v / d), 0, 63) : 0));
        const m = mins.map((v) => (dmin ? clamp(Math.round(v / dmin), 0, 63) : 0));
        dv.setUint16(o, dh, true);
        dv.setUint16(o + 2, mh, true);
        for (let j = 0; j < 4; j++) {
          out[o + 4 + j] = sc[j] | ((sc[j + 4] >> 4) << 6);
          out[o + 8 + j] = m[j] | ((m[j + 4] >> 4) << 6);
          out[o + 12 + j] = (sc[j + 4] & 15) | ((m[j + 4] & 15) << 4);
        }
        const q = new Uint8Array(256);
        for (let s = 0; s < 8; s++) {
          const ds = d * sc[s], ms = dmin * m[s];
          for (let l = 0; l < 32; l++) q[32 * s + l] = ds ? clamp(Math.round((xb[32 * s + l] + ms) / ds), 0, 15) : 0;
        }
        for (let c = 0; c < 4; c++) for (let l = 0; l < 32; l++) out[o + 16 + 32 * c + l] = q[64 * c + l] | (q[64 * c + 32 + l] << 4);
      }
      break;
    case 'Q6_K':
      for (let b = 0; b < n / 256; b++) {
        const o = b * 210, xb = x.subarray(b * 256, b * 256 + 256);
        const sub: number[] = [];
        for (let s = 0; s < 16; s++) {
          let amax = 0;
          for (let l = 0; l < 16; l++) amax = Math.max(amax, Math.abs(xb[16 * s + l]));
          sub.push(amax / 31);
        }
        const dh = floatToHalf(Math.max(...sub) / 127), d = halfToFloat(dh);
        const sc = sub.map((v) => (d ? clamp(Math.round(v / d), -128, 127) : 0));
        const q = new Uint8Array(256);
        for (let s = 0; s < 16; s++) {
          const ds = d * sc[s];
          for (let l = 0; l < 16; l++) q[16 * s + l] = (ds ? clamp(Math.round(xb[16 * s + l] / ds), -32, 31) : 0) + 32;
        }
        for (let half = 0; half < 2; half++) {
          const ql = o + 64 * half, qh = o + 128 + 32 * half, y = 128 * half;
          for (let l = 0; l < 32; l++) {
            const q1 = q[y + l], q2 = q[y + l + 32], q3 = q[y + l + 64], q4 = q[y + l + 96];
            out[ql + l] = (q1 & 15) | ((q3 & 15) << 4);
            out[ql + l + 32] = (q2 & 15) | ((q4 & 15) << 4);
            out[qh + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
          }
        }
        for (let s = 0; s < 16; s++) dv.setInt8(o + 192 + s, sc[s]);
        dv.setUint16(o + 208, dh, true);
      }
      break;
  }
  return out;
}
