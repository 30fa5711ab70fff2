// The int8-activation quantized matmul in plain JS: the reference twin of the wasm SIMD kernel (asm/qdot.ts),
// same integer sums and the same float32 operations in the same order (Math.fround after each), so the two
// agree bit for bit (tests/unit/qdot.test.ts). As llama.cpp does, x is quantized once per call to int8: per 32
// values for Q8_0/Q4_0 weights (its Q8_0), per 256 values with per-32 sums for Q4_K/Q6_K (its Q8_K), then each
// weight block is an integer dot product scaled once. This differs from the float path (dequantize + dot) by
// the rounding of x to 8 bits: about 0.4% of a block's largest |x| per value.
import type { QFormat } from '../reference';
import { halfTable } from '../../../gguf/quant';

export const INT8_FORMATS: ReadonlySet<string> = new Set(['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K']);
/** The format codes of asm/qdot.ts. */
export const FORMAT_CODE: Record<string, number> = { Q8_0: 0, Q4_0: 1, Q4_K: 2, Q6_K: 3 };

/** x [M, K] as int8: qx, an f32 scale per block (stored per 32 values: dx[k >> 5]), a sum per 16 values. */
export interface Int8Rows { qx: Int8Array; dx: Float32Array; bs: Int16Array; M: number; K: number }

const fr = Math.fround;

/** Round half to even, as wasm's f32.nearest. */
function nearest(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Quantize x [M, K] per block of 32 (Q8_0/Q4_0 weights) or 256 (K-quants). */
export function quantizeRows(format: QFormat, x: Float32Array, M: number, K: number): Int8Rows {
  const n = M * K, B = format === 'Q4_K' || format === 'Q6_K' ? 256 : 32;
  const qx = new Int8Array(n), dx = new Float32Array(n >> 5), bs = new Int16Array(n >> 4);
  for (let b = 0; b < n; b += B) {
    let amax = 0;
    for (let i = 0; i < B; i++) amax = Math.max(amax, Math.abs(x[b + i]));
    const d = fr(amax / 127), id = d !== 0 ? fr(1 / d) : 0;
    dx[b >> 5] = d;
    for (let j = 0; j < B; j += 16) {
      let s = 0;
      for (let i = 0; i < 16; i++) {
        const q = Math.min(127, Math.max(-127, nearest(fr(x[b + j + i] * id))));
        qx[b + j + i] = q;
        s += q;
      }
      bs[(b + j) >> 4] = s;
    }
  }
  return { qx, dx, bs, M, K };
}

/** One weight row (bytes from `at`) against row m of the quantized x. */
export function qDotRowInt8(format: QFormat, q: Uint8Array, at: number, X: Int8Rows, m: number): number {
  const H = halfTable(), K = X.K, qx = X.qx, x0 = m * K, s0 = m * (K >> 5), b0 = m * (K >> 4);
  const i8 = (p: number) => (q[p] << 24) >> 24;
  let sum = 0;
  switch (format) {
    case 'Q8_0':
      for (let b = 0, o = at; b < K; b += 32, o += 34) {
        let isum = 0;
        for (let j = 0; j < 32; j++) isum += i8(o + 2 + j) * qx[x0 + b + j];
        sum = fr(sum + fr(fr(H[q[o] | (q[o + 1] << 8)] * X.dx[s0 + (b >> 5)]) * isum));
      }
      return sum;
    case 'Q4_0':
      for (let b = 0, o = at; b < K; b += 32, o += 18) {
        let isum = 0;
        for (let j = 0; j < 16; j++) {
          const v = q[o + 2 + j];
          isum += ((v & 15) - 8) * qx[x0 + b + j] + ((v >> 4) - 8) * qx[x0 + b + j + 16];
        }
        sum = fr(sum + fr(fr(H[q[o] | (q[o + 1] << 8)] * X.dx[s0 + (b >> 5)]) * isum));
      }
      return sum;
    case 'Q4_K':
      for (let b = 0, o = at; b < K; b += 256, o += 144) {
        const d = H[q[o] | (q[o + 1] << 8)], dmin = H[q[o + 2] | (q[o + 3] << 8)], s = o + 4;
        let sumi = 0, summ = 0;
        for (let j = 0; j < 8; j++) {
          const sc = j < 4 ? q[s + j] & 63 : (q[s + j + 4] & 0xf) | ((q[s + j - 4] >> 6) << 4);
          const mn = j < 4 ? q[s + j + 4] & 63 : (q[s + j + 4] >> 4) | ((q[s + j] >> 6) << 4);
          // sub-block j: low nibbles (even j) or high nibbles (odd j) of the 32 bytes of chunk j >> 1
          const qo = o + 16 + 32 * (j >> 1), xo = x0 + b + 32 * j, shift = (j & 1) * 4;
          let isum = 0;
          for (let l = 0; l < 32; l++) isum += ((q[qo + l] >> shift) & 15) * qx[xo + l];
          sumi += sc * isum;
          summ += mn * (X.bs[b0 + (b >> 4) + 2 * j] + X.bs[b0 + (b >> 4) + 2 * j + 1]);
        }
        const dxb = X.dx[s0 + (b >> 5)];
        sum = fr(sum + fr(fr(fr(d * dxb) * fr(sumi)) - fr(fr(dmin * dxb) * fr(summ))));
      }
      return sum;
    case 'Q6_K':
      for (let b = 0, o = at; b < K; b += 256, o += 210) {
        const d = H[q[o + 208] | (q[o + 209] << 8)];
        let sumi = 0;
        for (let half = 0; half < 2; half++) {
          const ql = o + 64 * half, qh = o + 128 + 32 * half, sc = o + 192 + 8 * half, xo = x0 + b + 128 * half;
          for (let is = 0; is < 2; is++) {
            let a1 = 0, a2 = 0, a3 = 0, a4 = 0;
            for (let l = 16 * is; l < 16 * is + 16; l++) {
              const hb = q[qh + l], lo = q[ql + l], hi = q[ql + l + 32];
              a1 += (((lo & 15) | ((hb & 3) << 4)) - 32) * qx[xo + l];
              a2 += (((hi & 15) | (((hb >> 2) & 3) << 4)) - 32) * qx[xo + l + 32];
              a3 += (((lo >> 4) | (((hb >> 4) & 3) << 4)) - 32) * qx[xo + l + 64];
              a4 += (((hi >> 4) | (((hb >> 6) & 3) << 4)) - 32) * qx[xo + l + 96];
            }
            sumi += i8(sc + is) * a1 + i8(sc + is + 2) * a2 + i8(sc + is + 4) * a3 + i8(sc + is + 6) * a4;
          }
        }
        sum = fr(sum + fr(fr(d * X.dx[s0 + (b >> 5)]) * fr(sumi)));
      }
      return sum;
    default:
      throw new Error(`qDotRowInt8: no int8 dot for ${format}; it takes ${[...INT8_FORMATS].join(', ')}.`);
  }
}

/** y = x W^T, x [M, K] float, W [N, K] raw blocks: quantize x once, then every row. */
export function qMatMulInt8Ref(x: Float32Array, M: number, w: Uint8Array, format: QFormat, N: number, K: number, rowBytes: number): Float32Array {
  const X = quantizeRows(format, x, M, K);
  const y = new Float32Array(M * N);
  for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) y[m * N + n] = qDotRowInt8(format, w, n * rowBytes, X, m);
  return y;
}
