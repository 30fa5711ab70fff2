// Quantized matmul on raw GGUF bytes: y = x W^T with W [N, K] in F16/Q8_0/Q4_0/Q4_K/Q6_K blocks,
// its gradient to x, and a row gather (embeddings). Registered tfjs kernels: WGSL on 'webgpu',
// a CPU twin (dequantize one row at a time in JS) on 'wasm' and 'cpu'. W never gets a gradient (frozen base).
// On 'wasm' the forward of Q8_0/Q4_0/Q4_K/Q6_K runs the wasm SIMD kernel (asm/qdot.ts) in tfjs-wasm's heap,
// with x quantized to int8 as llama.cpp does (int8.ts is its JS twin); setQMatMulActivations('float') there
// gives the float path of the other backends instead.
//   registerQMatMulKernels()       register once (the lab's kernels/registry.ts lists it)
//   makeQWeight(format, N, K, b)   wrap raw block bytes as an int32 tensor
//   qMatMul(x, w) / qGather(ids, w) the ops
import * as tf from '@tensorflow/tfjs';
import { dequantizeInto } from '../../gguf/quant';
import { FUSED_DOT, qDotRow } from './dot';
import { blockInfo } from '../../gguf/types';
import { isQFormat, Q_FORMATS, type QFormat } from './formats';
import { qGatherProgram, qMatMulDxProgram, qMatMulProgram } from './wgsl';
import { FORMAT_CODE, INT8_FORMATS, qMatMulInt8Ref } from './int8';
import { QDotPool, qdotFor, type QDotExports } from './simd';

export { Q_FORMATS, isQFormat, type QFormat };

export interface QWeight {
  format: QFormat;
  /** Rows (output features). */
  N: number;
  /** Columns (input features); a multiple of the block size. */
  K: number;
  /** The raw GGUF bytes of the [N, K] weight, padded to whole int32 words. */
  data: tf.Tensor1D;
}

export function rowBytes(format: QFormat, K: number): number {
  const { blockSize, typeSize } = blockInfo(format);
  return (K / blockSize) * typeSize;
}

/** Wrap raw block bytes (row-major [N, K]) as an int32 tensor without changing the bits. */
export function makeQWeight(format: QFormat, N: number, K: number, bytes: Uint8Array): QWeight {
  if (!isQFormat(format)) throw new Error(`makeQWeight: format ${String(format)} is not one of ${Q_FORMATS.join(', ')}.`);
  const { blockSize } = blockInfo(format);
  if (K % blockSize !== 0) throw new Error(`makeQWeight: K=${K} is not a multiple of the ${format} block size ${blockSize}.`);
  const need = N * rowBytes(format, K);
  if (bytes.byteLength !== need) throw new Error(`makeQWeight: a ${format} [${N}, ${K}] weight has ${need} bytes, got ${bytes.byteLength}.`);
  const words = new Int32Array(Math.ceil(need / 4));
  new Uint8Array(words.buffer).set(bytes);
  return { format, N, K, data: tf.tensor1d(words, 'int32') }; // (ceil(bytes/4),) int32
}

interface QAttrs { format: QFormat; N: number; K: number }

export function qMatMul(x: tf.Tensor2D, w: QWeight): tf.Tensor2D {
  if (x.shape[1] !== w.K) throw new Error(`qMatMul: x has ${x.shape[1]} columns but the weight expects K=${w.K}.`);
  const attrs = { format: w.format, N: w.N, K: w.K } as unknown as tf.NamedAttrMap;
  // The gradient closes over the weight rather than saving it: tfjs clones every saved input for the backward
  // pass, and on wasm a clone is a copy, so each training pass duplicated every base weight it went through.
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.engine().runKernel('LabQMatMul', { x: args[0] as tf.Tensor, w: w.data }, attrs) as tf.Tensor2D, // (M, N)
    gradFunc: (dy: tf.Tensor) => tf.engine().runKernel('LabQMatMulDx', { dy, w: w.data }, attrs) as tf.Tensor, // (M, K)
  }));
  return op(x) as tf.Tensor2D;
}

export function qGather(ids: tf.Tensor1D, w: QWeight): tf.Tensor2D {
  const attrs: QAttrs = { format: w.format, N: w.N, K: w.K };
  return tf.engine().runKernel('LabQGather', { ids, w: w.data }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor2D; // (R, K)
}

// ---------- CPU reference (used by the wasm and cpu twins, and by tests) ----------

function bytesOf(words: Int32Array): Uint8Array {
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

// ---------- the int8 SIMD path on the wasm backend ----------

export type QActivations = 'int8' | 'float';
let activations: QActivations = 'int8';

/**
 * How the wasm backend's quantized matmul treats x: 'int8' (default; the SIMD kernel, x rounded to int8 per
 * block as llama.cpp does) or 'float' (the JS float path, the same math as webgpu and cpu, about 5x slower).
 */
export function setQMatMulActivations(mode: QActivations): void {
  if (mode !== 'int8' && mode !== 'float') throw new Error(`setQMatMulActivations: mode must be 'int8' or 'float', got ${String(mode)}.`);
  activations = mode;
}
export function getQMatMulActivations(): QActivations {
  return activations;
}

let threadsWanted: number | null = null;

/**
 * Threads for the wasm SIMD quantized matmul (rows split across workers sharing tfjs-wasm's memory): by default
 * navigator.hardwareConcurrency, and only where tfjs-wasm runs its threaded build (a shared memory). Takes effect
 * for a tfjs-wasm module not yet used by the kernel.
 */
export function setQMatMulThreads(n: number | null): void {
  if (n !== null && !(Number.isInteger(n) && n >= 1)) throw new Error(`setQMatMulThreads: n must be a whole number >= 1 (or null for the default), got ${n}.`);
  threadsWanted = n;
}

const pools = new WeakMap<object, QDotPool | null>();

/** The helper threads for tfjs-wasm's module (null: one thread). Worth it only for large enough products. */
function poolFor(mod: TfWasmModule, k: QDotExports): QDotPool | null {
  if (pools.has(mod)) return pools.get(mod)!;
  const mem = mod.wasmMemory ?? mod.asm?.memory;
  const n = threadsWanted ?? (globalThis.navigator?.hardwareConcurrency ?? 1);
  let pool: QDotPool | null = null;
  if (n > 1 && typeof Worker !== 'undefined' && mem && typeof SharedArrayBuffer !== 'undefined' && mem.buffer instanceof SharedArrayBuffer) {
    const ctrl = mod._malloc(64);
    if (ctrl) {
      try { pool = new QDotPool(mem, k, ctrl, n); } catch { pool = null; }
    }
  }
  pools.set(mod, pool);
  return pool;
}

/** The parts of tfjs-wasm's Emscripten module used here. */
interface TfWasmModule {
  wasmMemory?: WebAssembly.Memory; // threaded build
  asm?: { memory?: WebAssembly.Memory }; // single-thread build
  _malloc(n: number): number;
  _free(p: number): void;
}

const scratchOf = new WeakMap<object, { ptr: number; size: number }>();

function heapKernel(mod: TfWasmModule): QDotExports | null {
  const mem = mod.wasmMemory ?? mod.asm?.memory;
  return mem instanceof WebAssembly.Memory ? qdotFor(mem) : null;
}

/** A scratch area in tfjs-wasm's heap, kept and grown per module (0 if malloc fails). */
function heapScratch(mod: TfWasmModule, bytes: number): number {
  let s = scratchOf.get(mod);
  if (!s || s.size < bytes) {
    if (s) mod._free(s.ptr);
    const size = Math.max(bytes, 1 << 16);
    s = { ptr: mod._malloc(size), size };
    scratchOf.set(mod, s);
  }
  return s.ptr;
}

/** LabQMatMul on the wasm backend in int8 mode: SIMD in the heap, or the JS twin where SIMD cannot load. */
function wasmInt8MatMul(b: AnyBackend, x: tf.TensorInfo, w: tf.TensorInfo, a: QAttrs): tf.TensorInfo {
  const M = x.shape[0], mod = b.wasm;
  const k = heapKernel(mod);
  const out = b.makeOutput([M, a.N], 'float32'); // may grow the heap: pointers are offsets, views are taken after
  if (k) {
    const s = heapScratch(mod, k.scratchBytes(M, a.K));
    if (s) {
      const xp = b.typedArrayFromHeap(x).byteOffset, wp = b.typedArrayFromHeap(w).byteOffset, yp = b.typedArrayFromHeap(out).byteOffset;
      const fmt = FORMAT_CODE[a.format];
      // threads only pay off past ~1 MB of weights (a 2048 x 2048 Q4_K matrix is 2.4 MB)
      const pool = a.N * a.K >= 1 << 20 ? poolFor(mod, k) : null;
      k.quantize(fmt, xp, M, a.K, s);
      if (!pool?.run(fmt, wp, a.N, a.K, M, s, yp)) k.rows(fmt, wp, a.N, a.K, M, s, yp, 0, a.N);
      return out;
    }
  }
  const wb = bytesOf(b.typedArrayFromHeap(w) as unknown as Int32Array);
  b.typedArrayFromHeap(out).set(qMatMulInt8Ref(b.typedArrayFromHeap(x), M, wb, a.format, a.N, a.K, rowBytes(a.format, a.K)));
  return out;
}

// ---------- registration ----------

type Compute = (arrays: ArrayLike<number>[], shapes: number[][], a: QAttrs) => { shape: number[]; values: Float32Array };

const COMPUTE: Record<string, Compute> = {
  LabQMatMul: ([x, w], [xs], a) => ({ shape: [xs[0], a.N], values: qMatMulRef(x as Float32Array, xs[0], w as Int32Array, a) }),
  LabQMatMulDx: ([dy, w], [ds], a) => ({ shape: [ds[0], a.K], values: qMatMulDxRef(dy as Float32Array, ds[0], w as Int32Array, a) }),
  LabQGather: ([ids, w], _s, a) => ({ shape: [ids.length, a.K], values: qGatherRef(ids as Int32Array, w as Int32Array, a) }),
};

const INPUTS: Record<string, [string, string]> = { LabQMatMul: ['x', 'w'], LabQMatMulDx: ['dy', 'w'], LabQGather: ['ids', 'w'] };

type AnyBackend = {
  readSync(id: object): ArrayLike<number>;
  makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  makeOutput(shape: number[], dtype: string): tf.TensorInfo;
  runWebGPUProgram(p: object, inputs: tf.TensorInfo[], dtype: string, u: { type: string; data: number[] }[]): tf.TensorInfo;
  wasm: TfWasmModule;
};

let registered = false;

export function registerQMatMulKernels(): void {
  if (registered) return;
  registered = true;
  for (const kernelName of Object.keys(COMPUTE)) {
    const [a0, a1] = INPUTS[kernelName];
    tf.registerKernel({
      kernelName,
      backendName: 'webgpu',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const a = attrs as unknown as QAttrs;
        const i0 = inputs[a0] as tf.TensorInfo, w = inputs[a1] as tf.TensorInfo;
        const p = kernelName === 'LabQMatMul' ? qMatMulProgram(a.format, i0.shape[0], a.N, a.K)
          : kernelName === 'LabQMatMulDx' ? qMatMulDxProgram(a.format, i0.shape[0], a.N, a.K)
          : qGatherProgram(a.format, i0.shape[0], a.N, a.K);
        return (backend as unknown as AnyBackend).runWebGPUProgram(p, [i0, w], 'float32', [
          { type: 'int32', data: [a.N] },
          { type: 'int32', data: [a.K] },
        ]);
      },
    });
    for (const backendName of ['wasm', 'cpu']) {
      tf.registerKernel({
        kernelName,
        backendName,
        kernelFunc: ({ inputs, backend, attrs }) => {
          const b = backend as unknown as AnyBackend;
          const ins = [inputs[a0] as tf.TensorInfo, inputs[a1] as tf.TensorInfo];
          const qa = attrs as unknown as QAttrs;
          if (backendName === 'wasm' && kernelName === 'LabQMatMul' && activations === 'int8' && INT8_FORMATS.has(qa.format)) {
            return wasmInt8MatMul(b, ins[0], ins[1], qa);
          }
          // heap views are read before anything is allocated on the heap (makeOutput, below), so no copy is needed
          const arrays = ins.map((t) => (backendName === 'wasm' ? b.typedArrayFromHeap(t) : b.readSync(t.dataId)));
          const { shape, values } = COMPUTE[kernelName](arrays, ins.map((t) => t.shape), attrs as unknown as QAttrs);
          if (backendName === 'cpu') return b.makeTensorInfo(shape, 'float32', values);
          const out = b.makeOutput(shape, 'float32'); // may grow the heap: views are taken after it
          b.typedArrayFromHeap(out).set(values);
          return out;
        },
      });
    }
  }
  // For direct runKernel callers only: qMatMul() brings its own gradient that saves nothing (see there).
  tf.registerGradient({
    kernelName: 'LabQMatMul',
    inputsToSave: ['w'],
    gradFunc: (dy, saved, attrs) => ({
      x: () => tf.engine().runKernel('LabQMatMulDx', { dy: dy as tf.Tensor, w: saved[0] }, attrs) as tf.Tensor,
    }),
  });
}
