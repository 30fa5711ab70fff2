// Quantized matmul in plain JS: the float reference of LabQMatMul / LabQMatMulDx / LabQGather, which the CPU twins
// (cpu.ts) run on 'cpu' and 'wasm' and the tests compare against. One row of W is dequantized at a time
// (src/lib/gguf/quant.ts); for few rows of x the fused dot below is used instead.
//
// Fused dequantize-and-dot of one quantized row with one float row, for the CPU twins when x has few rows
// (decoding: one row per token). Each block's scales are applied once to a sum over its quants instead of
// dequantizing every value first, about half the work of dequantize-then-dot; same math up to float rounding
// (tested against dequantize + dot in tests/unit/gguf.test.ts). Layouts: see src/lib/gguf/quant.ts.
import { dequantizeInto, halfTable } from '../../gguf/quant';
import { blockInfo } from '../../gguf/types';

// Formats the quantized kernels accept (F32 weights use tf.matMul directly).
export const Q_FORMATS = ['F16', 'Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'] as const;
export type QFormat = (typeof Q_FORMATS)[number];
export function isQFormat(s: string): s is QFormat {
  return (Q_FORMATS as readonly string[]).includes(s);
}

/** The kernels' attributes: the weight's format and its [N, K] shape. */
export interface QAttrs { format: QFormat; N: number; K: number }

export function rowBytes(format: QFormat, K: number): number {
  const { blockSize, typeSize } = blockInfo(format);
  return (K / blockSize) * typeSize;
}

/** Formats with a fused dot here. */
export const FUSED_DOT: ReadonlySet<string> = new Set(['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K']);

/** sum_k x[xAt + k] * W[row][k] for one quantized row starting at byte `at`; K values. */
export function qDotRow(format: QFormat, q: Uint8Array, at: number, x: Float32Array, xAt: number, K: number): number {
  const H = halfTable();
  let y = 0;
  switch (format) {
    case 'Q8_0':
      for (let b = 0, o = at, k = xAt; b < K / 32; b++, o += 34, k += 32) {
        let acc = 0;
        for (let j = 0; j < 32; j++) acc += x[k + j] * ((q[o + 2 + j] << 24) >> 24);
        y += H[q[o] | (q[o + 1] << 8)] * acc;
      }
      return y;
    case 'Q4_0':
      for (let b = 0, o = at, k = xAt; b < K / 32; b++, o += 18, k += 32) {
        let acc = 0, sx = 0;
        for (let j = 0; j < 16; j++) {
          const v = q[o + 2 + j], x0 = x[k + j], x1 = x[k + j + 16];
          acc += x0 * (v & 15) + x1 * (v >> 4);
          sx += x0 + x1;
        }
        y += H[q[o] | (q[o + 1] << 8)] * (acc - 8 * sx);
      }
      return y;
    case 'Q4_K':
      for (let b = 0, o = at, k = xAt; b < K / 256; b++, o += 144, k += 256) {
        const d = H[q[o] | (q[o + 1] << 8)], dmin = H[q[o + 2] | (q[o + 3] << 8)], s = o + 4;
        for (let c = 0; c < 4; c++) {
          const j0 = 2 * c, j1 = j0 + 1;
          const sc0 = j0 < 4 ? q[s + j0] & 63 : (q[s + j0 + 4] & 0xf) | ((q[s + j0 - 4] >> 6) << 4);
          const m0 = j0 < 4 ? q[s + j0 + 4] & 63 : (q[s + j0 + 4] >> 4) | ((q[s + j0] >> 6) << 4);
          const sc1 = j1 < 4 ? q[s + j1] & 63 : (q[s + j1 + 4] & 0xf) | ((q[s + j1 - 4] >> 6) << 4);
          const m1 = j1 < 4 ? q[s + j1 + 4] & 63 : (q[s + j1 + 4] >> 4) | ((q[s + j1] >> 6) << 4);
          const qo = o + 16 + 32 * c, xo = k + 64 * c;
          let a0 = 0, a1 = 0, s0 = 0, s1 = 0;
          for (let l = 0; l < 32; l++) {
            const v = q[qo + l], x0 = x[xo + l], x1 = x[xo + 32 + l];
            a0 += x0 * (v & 15);
            a1 += x1 * (v >> 4);
            s0 += x0;
            s1 += x1;
          }
          y += d * (sc0 * a0 + sc1 * a1) - dmin * (m0 * s0 + m1 * s1);
        }
      }
      return y;
    case 'Q6_K':
      for (let b = 0, o = at, k = xAt; b < K / 256; b++, o += 210, k += 256) {
        const d = H[q[o + 208] | (q[o + 209] << 8)];
        for (let half = 0; half < 2; half++) {
          const ql = o + 64 * half, qh = o + 128 + 32 * half, sc = o + 192 + 8 * half, xo = k + 128 * half;
          // 8 sub-blocks of 16 in this half: (l >> 4) picks the first or second 16 of each 32-value quarter
          for (let is = 0; is < 2; is++) {
            let a1 = 0, a2 = 0, a3 = 0, a4 = 0;
            for (let l = 16 * is; l < 16 * is + 16; l++) {
              const Hb = q[qh + l], lo = q[ql + l], hi = q[ql + l + 32];
              a1 += x[xo + l] * (((lo & 15) | ((Hb & 3) << 4)) - 32);
              a2 += x[xo + l + 32] * (((hi & 15) | (((Hb >> 2) & 3) << 4)) - 32);
              a3 += x[xo + l + 64] * (((lo >> 4) | (((Hb >> 4) & 3) << 4)) - 32);
              a4 += x[xo + l + 96] * (((hi >> 4) | (((Hb >> 6) & 3) << 4)) - 32);
            }
            const i8 = (p: number) => (q[p] << 24) >> 24;
            y += d * (i8(sc + is) * a1 + i8(sc + is + 2) * a2 + i8(sc + is + 4) * a3 + i8(sc + is + 6) * a4);
          }
        }
      }
      return y;
    default:
      throw new Error(`qDotRow: no fused dot for ${format}; use dequantize + dot.`);
  }
}

export function bytesOf(words: Int32Array): Uint8Array {
  return new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
}

// One row of W is dequantized at a time into a reused buffer, then dotted with every row of x: memory stays at
// one row, and nothing is allocated per row (the per-token cost of decoding on wasm).
let scratch = new Float32Array(0);
function rowOf(b: Uint8Array, n: number, a: QAttrs): Float32Array {
  if (scratch.length < a.K) scratch = new Float32Array(a.K);
  dequantizeInto(a.format, b, n * rowBytes(a.format, a.K), a.K, scratch);
  return scratch;
}

export function qMatMulRef(x: Float32Array, M: number, w: Int32Array, a: QAttrs): Float32Array {
  const b = bytesOf(w);
  const y = new Float32Array(M * a.N);
  if (M <= 4 && FUSED_DOT.has(a.format)) {
    // few rows of x (decoding): the fused dot reads each block once per row of x, with no dequantized copy
    const rb = rowBytes(a.format, a.K);
    for (let n = 0; n < a.N; n++) for (let m = 0; m < M; m++) y[m * a.N + n] = qDotRow(a.format, b, n * rb, x, m * a.K, a.K);
    return y;
  }
  for (let n = 0; n < a.N; n++) {
    const row = rowOf(b, n, a);
    for (let m = 0; m < M; m++) {
      let acc = 0;
      for (let k = 0; k < a.K; k++) acc += x[m * a.K + k] * row[k];
      y[m * a.N + n] = acc;
    }
  }
  return y;
}

export function qMatMulDxRef(dy: Float32Array, M: number, w: Int32Array, a: QAttrs): Float32Array {
  const b = bytesOf(w);
  const dx = new Float32Array(M * a.K);
  for (let n = 0; n < a.N; n++) {
    const row = rowOf(b, n, a);
    for (let m = 0; m < M; m++) {
      const g = dy[m * a.N + n];
      for (let k = 0; k < a.K; k++) dx[m * a.K + k] += g * row[k];
    }
  }
  return dx;
}

export function qGatherRef(ids: Int32Array, w: Int32Array, a: QAttrs): Float32Array {
  const b = bytesOf(w), rb = rowBytes(a.format, a.K);
  const out = new Float32Array(ids.length * a.K);
  ids.forEach((id, r) => {
    const n = Math.min(Math.max(id, 0), a.N - 1);
    dequantizeInto(a.format, b, n * rb, a.K, out, r * a.K);
  });
  return out;
}
