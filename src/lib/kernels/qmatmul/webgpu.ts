// WGSL programs that read raw GGUF block bytes (an int32 tensor holding the bytes) and dequantize in the kernel.
// One `wAt(n, k)` per format returns W[n, k] of a row-major [N, K] weight; three programs use it:
//   QMatMulProgram   y[m, n]  = sum_k x[m, k] * W[n, k]     (y = x W^T)
//   QMatMulDxProgram dx[m, k] = sum_n dy[m, n] * W[n, k]    (gradient to x)
//   QGatherProgram   e[i, k]  = W[ids[i], k]                (embedding rows)
// f16 scales are decoded with unpack2x16float, which is core WGSL (no shader-f16 needed).
// The gradient and gather programs are simple: one thread per output, every weight element decoded where used.
// The forward (the hot path) has a faster version per block format: one 64-thread workgroup per output,
// threads take whole blocks, decode each block header once, and reduce in workgroup memory.
//
// Index range. tfjs's flat thread index (getGlobalIndex) is an i32: at one 64-lane workgroup per output it
// passes 2^31 once M x N x 64 does, i.e. from M = 262 rows against a 128,256-token vocabulary, and every row
// past that was silently left unwritten. The block forward therefore never uses the thread index: it takes its
// output from the workgroup id on a 2-D grid it lays out itself (`outputGrid`), so its largest index is the
// output count M x N. Every program checks that the indices it computes stay below 2^31 (`checkIndexRange`).
import { checkFlatThreads, I32_LIMIT, type WebGPURun } from '../common';
import { workgroupReduceWGSL } from '../wgsl';
import { blockInfo } from '../../gguf/types';
import type { QAttrs, QFormat } from './reference';

/** WebGPU's default (and guaranteed) maxComputeWorkgroupsPerDimension. */
export const MAX_WORKGROUPS_PER_DIM = 65535;

/** A 2-D grid of at least `n` workgroups, each side within the per-dimension limit (extra ones exit). */
export function outputGrid(n: number): [number, number, number] {
  const x = Math.max(1, Math.min(n, MAX_WORKGROUPS_PER_DIM));
  const y = Math.ceil(n / x);
  if (y > MAX_WORKGROUPS_PER_DIM) throw new Error(`qMatMul: ${n} outputs need more than ${MAX_WORKGROUPS_PER_DIM}^2 workgroups; split the input into fewer rows.`);
  return [x, y, 1];
}

/** The output element a workgroup of the block forward computes (shared with the index test). */
export const WORKGROUP_OUTPUT_WGSL = `
fn workgroupOutput(wid : vec3<u32>, nwg : vec3<u32>) -> i32 {
  return i32(wid.z * nwg.x * nwg.y + wid.y * nwg.x + wid.x);
}`;

/**
 * Throws unless every index a program computes fits an i32: `outputs` output elements (thread indices up to
 * `threads`), and byte offsets into an [N, K] weight of `fmt`.
 */
export function checkIndexRange(op: string, fmt: QFormat, N: number, K: number, outputs: number, threads: number): void {
  if (outputs >= I32_LIMIT) throw new Error(`${op}: ${outputs} output values exceed the 2^31 a WebGPU index can address; split the input into fewer rows.`);
  checkFlatThreads(op, threads);
  const { blockSize, typeSize } = blockInfo(fmt);
  const bytes = N * (K / blockSize) * typeSize;
  if (bytes >= I32_LIMIT) throw new Error(`${op}: a ${fmt} [${N}, ${K}] weight of ${bytes} bytes exceeds the 2^31 bytes a WebGPU index can address.`);
}

const BYTES = `
fn byteAt(o : u32) -> u32 { return (bitcast<u32>(w[o >> 2u]) >> ((o & 3u) * 8u)) & 255u; }
fn f16At(o : u32) -> f32 { return unpack2x16float(byteAt(o) | (byteAt(o + 1u) << 8u)).x; }
fn i8At(o : u32) -> f32 { let b = i32(byteAt(o)); return f32(select(b, b - 256, b >= 128)); }
`;

/** W[n, k] for each format; `rowBytes` is the byte length of one row of K values. */
const W_AT: Record<QFormat, string> = {
  F16: `fn wAt(n : i32, k : i32) -> f32 { return f16At(u32(n * uniforms.K * 2 + k * 2)); }`,
  Q8_0: `fn wAt(n : i32, k : i32) -> f32 {
    let o = u32(n * (uniforms.K / 32) * 34 + (k / 32) * 34);
    return f16At(o) * i8At(o + 2u + u32(k % 32)); }`,
  Q4_0: `fn wAt(n : i32, k : i32) -> f32 {
    let o = u32(n * (uniforms.K / 32) * 18 + (k / 32) * 18);
    let j = k % 32;
    let b = byteAt(o + 2u + u32(j % 16));
    let q = select(b & 15u, b >> 4u, j >= 16);
    return f16At(o) * (f32(q) - 8.0); }`,
  Q4_K: `fn wAt(n : i32, k : i32) -> f32 {
    let o = u32(n * (uniforms.K / 256) * 144 + (k / 256) * 144);
    let e = k % 256;
    let s = u32(e / 32);                      // sub-block of 32 values
    let b = byteAt(o + 16u + 32u * u32(e / 64) + u32(e % 32));
    let q = select(b & 15u, b >> 4u, (e % 64) >= 32);
    var sc : u32; var mn : u32;
    if (s < 4u) {
      sc = byteAt(o + 4u + s) & 63u;
      mn = byteAt(o + 8u + s) & 63u;
    } else {
      sc = (byteAt(o + 8u + s) & 15u) | ((byteAt(o + s) >> 6u) << 4u);
      mn = (byteAt(o + 8u + s) >> 4u) | ((byteAt(o + 4u + s) >> 6u) << 4u);
    }
    return f16At(o) * f32(sc) * f32(q) - f16At(o + 2u) * f32(mn); }`,
  Q6_K: `fn wAt(n : i32, k : i32) -> f32 {
    let o = u32(n * (uniforms.K / 256) * 210 + (k / 256) * 210);
    let e = u32(k % 256);
    let half = e / 128u; let g = (e % 128u) / 32u; let l = e % 32u;
    let lb = byteAt(o + 64u * half + l + 32u * (g & 1u));
    let lo = select(lb & 15u, lb >> 4u, g >= 2u);
    let hi = (byteAt(o + 128u + 32u * half + l) >> (2u * g)) & 3u;
    let sc = i8At(o + 192u + 8u * half + l / 16u + 2u * g);
    return f16At(o + 208u) * sc * (f32(lo | (hi << 4u)) - 32.0); }`,
};

interface Program {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  size: boolean;
  uniforms: string;
  getUserCode(): string;
}

function flat(outputShape: number[], key: string, vars: string[], body: string): Program {
  const n = outputShape.reduce((a, b) => a * b, 1);
  checkFlatThreads(key, Math.ceil(n / 64) * 64);
  return {
    variableNames: vars,
    outputShape,
    shaderKey: key,
    dispatchLayout: { x: outputShape.map((_, i) => i) }, // flat: tfjs reshapes > 65535 workgroups itself
    dispatch: [Math.ceil(n / 64), 1, 1],
    workgroupSize: [64, 1, 1],
    size: true,
    uniforms: 'N : i32, K : i32,',
    getUserCode: () => body,
  };
}

/** Dot of block b of row n with x[xo ..]; QK values per block. */
const DOT_BLOCK: Partial<Record<QFormat, { qk: number; code: string }>> = {
  Q8_0: { qk: 32, code: `fn dotBlock(n : i32, b : i32, xo : i32) -> f32 {
    let o = u32((n * (uniforms.K / 32) + b) * 34);
    var s = 0.0;
    for (var j = 0u; j < 32u; j++) { s += i8At(o + 2u + j) * x[xo + i32(j)]; }
    return f16At(o) * s; }` },
  Q4_0: { qk: 32, code: `fn dotBlock(n : i32, b : i32, xo : i32) -> f32 {
    let o = u32((n * (uniforms.K / 32) + b) * 18);
    var s = 0.0;
    for (var j = 0u; j < 16u; j++) {
      let q = byteAt(o + 2u + j);
      s += (f32(q & 15u) - 8.0) * x[xo + i32(j)] + (f32(q >> 4u) - 8.0) * x[xo + i32(j) + 16];
    }
    return f16At(o) * s; }` },
  Q4_K: { qk: 256, code: `fn dotBlock(n : i32, b : i32, xo : i32) -> f32 {
    let o = u32((n * (uniforms.K / 256) + b) * 144);
    let d = f16At(o); let dmin = f16At(o + 2u);
    var s = 0.0;
    for (var sb = 0u; sb < 8u; sb++) {          // sub-block of 32: chunk sb/2, nibble sb%2
      var sc : u32; var mn : u32;
      if (sb < 4u) { sc = byteAt(o + 4u + sb) & 63u; mn = byteAt(o + 8u + sb) & 63u; }
      else {
        sc = (byteAt(o + 8u + sb) & 15u) | ((byteAt(o + sb) >> 6u) << 4u);
        mn = (byteAt(o + 8u + sb) >> 4u) | ((byteAt(o + 4u + sb) >> 6u) << 4u);
      }
      var qx = 0.0; var xs = 0.0;
      let qo = o + 16u + 32u * (sb / 2u); let sh = 4u * (sb % 2u);
      for (var l = 0u; l < 32u; l++) {
        let xv = x[xo + i32(32u * sb + l)];
        qx += f32((byteAt(qo + l) >> sh) & 15u) * xv;
        xs += xv;
      }
      s += d * f32(sc) * qx - dmin * f32(mn) * xs;   // sum (d*sc*q - dmin*m) x
    }
    return s; }` },
  Q6_K: { qk: 256, code: `fn dotBlock(n : i32, b : i32, xo : i32) -> f32 {
    let o = u32((n * (uniforms.K / 256) + b) * 210);
    var s = 0.0;
    for (var half = 0u; half < 2u; half++) {
      for (var g = 0u; g < 4u; g++) {
        for (var t = 0u; t < 2u; t++) {           // 16 values share one int8 scale
          var qx = 0.0;
          for (var l16 = 0u; l16 < 16u; l16++) {
            let l = 16u * t + l16;
            let lb = byteAt(o + 64u * half + l + 32u * (g & 1u));
            let lo = select(lb & 15u, lb >> 4u, g >= 2u);
            let hi = (byteAt(o + 128u + 32u * half + l) >> (2u * g)) & 3u;
            qx += (f32(lo | (hi << 4u)) - 32.0) * x[xo + i32(128u * half + 32u * g + l)];
          }
          s += i8At(o + 192u + 8u * half + t + 2u * g) * qx;
        }
      }
    }
    return f16At(o + 208u) * s; }` },
};

export function qMatMulProgram(fmt: QFormat, M: number, N: number, K: number): Program {
  const blk = DOT_BLOCK[fmt];
  if (!blk) return qMatMulSimpleProgram(fmt, M, N, K);
  const p = flat([M, N], `lab_qmm_blk_${fmt}`, ['x', 'w'], `${BYTES}${blk.code}
    ${workgroupReduceWGSL(64)}
    ${WORKGROUP_OUTPUT_WGSL}
    fn main(index : i32) {                      // index (the i32 thread index) is not used: see the top of the file
      let lid = i32(localIndex);
      let o = workgroupOutput(workgroupId, numWorkgroups); // one workgroup per output element m*N + n
      let valid = o < uniforms.size;
      let m = o / uniforms.N; let n = o % uniforms.N;
      var acc = 0.0;
      if (valid) {
        for (var b = lid; b < uniforms.K / ${blk.qk}; b += 64) { acc += dotBlock(n, b, m * uniforms.K + b * ${blk.qk}); }
      }
      let total = wgSum(acc); // every thread calls it, valid or not (it holds barriers)
      if (valid && lid == 0) { setOutputAtIndex(o, total); }
    }`);
  checkIndexRange('qMatMul', fmt, N, K, M * N, 0); // the thread index is unused here
  p.dispatch = outputGrid(M * N); // 2-D, within limits: tfjs keeps it as is
  return p;
}

/** One thread per output, per-element decode (F16, and the reference the block version replaced). */
export function qMatMulSimpleProgram(fmt: QFormat, M: number, N: number, K: number): Program {
  checkIndexRange('qMatMul', fmt, N, K, M * N, Math.ceil((M * N) / 64) * 64);
  return flat([M, N], `lab_qmm_${fmt}`, ['x', 'w'], `${BYTES}${W_AT[fmt]}
    fn main(index : i32) {
      if (index >= uniforms.size) { return; }
      let m = index / uniforms.N; let n = index % uniforms.N;
      let xo = m * uniforms.K;
      var acc = 0.0;
      for (var k = 0; k < uniforms.K; k++) { acc += x[xo + k] * wAt(n, k); }
      setOutputAtIndex(index, acc);
    }`);
}

export function qMatMulDxProgram(fmt: QFormat, M: number, N: number, K: number): Program {
  checkIndexRange('qMatMul gradient', fmt, N, K, M * K, Math.ceil((M * K) / 64) * 64);
  return flat([M, K], `lab_qmm_dx_${fmt}`, ['dy', 'w'], `${BYTES}${W_AT[fmt]}
    fn main(index : i32) {
      if (index >= uniforms.size) { return; }
      let m = index / uniforms.K; let k = index % uniforms.K;
      let go = m * uniforms.N;
      var acc = 0.0;
      for (var n = 0; n < uniforms.N; n++) { acc += dy[go + n] * wAt(n, k); }
      setOutputAtIndex(index, acc);
    }`);
}

export function qGatherProgram(fmt: QFormat, R: number, N: number, K: number): Program {
  checkIndexRange('qGather', fmt, N, K, R * K, Math.ceil((R * K) / 64) * 64);
  return flat([R, K], `lab_qgather_${fmt}`, ['ids', 'w'], `${BYTES}${W_AT[fmt]}
    fn main(index : i32) {
      if (index >= uniforms.size) { return; }
      let r = index / uniforms.K; let k = index % uniforms.K;
      let n = clamp(ids[r], 0, uniforms.N - 1);
      setOutputAtIndex(index, wAt(n, k));
    }`);
}

/** The kernel bodies on webgpu: each program reads x (or dy, or ids) and the weight's bytes, with N and K as uniforms. */
function run(program: (fmt: QFormat, M: number, N: number, K: number) => Program): WebGPURun {
  return (inputs, be, attrs) => {
    const a = attrs as unknown as QAttrs;
    const rows = inputs.x ?? inputs.dy ?? inputs.ids; // the program's first variable; the weight's bytes second
    return be.runWebGPUProgram(program(a.format, rows.shape[0], a.N, a.K), [rows, inputs.w], 'float32', [
      { type: 'int32', data: [a.N] },
      { type: 'int32', data: [a.K] },
    ]);
  };
}
export const qMatMulWebGPU = run(qMatMulProgram);
export const qMatMulDxWebGPU = run(qMatMulDxProgram);
export const qGatherWebGPU = run(qGatherProgram);
