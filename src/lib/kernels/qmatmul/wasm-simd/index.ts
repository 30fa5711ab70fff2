// The wasm SIMD part of the quantized matmul, an extra beside the usual reference / cpu / webgpu: LabQMatMul on
// the 'wasm' backend (cpu.ts sends it here) with x rounded to int8 as llama.cpp does. Files:
//   asm/qdot.ts   the kernel, AssemblyScript, built by `npm run build:qdot` into qdot-wasm.ts (generated)
//   int8.ts       its JS twin (the same float32 operations in the same order: bit-for-bit equal)
//   worker.ts     a helper thread (rows of W split across workers sharing tfjs-wasm's memory)
//   index.ts      this file: loads the module against a given memory (on the wasm backend tfjs-wasm's own heap,
//                 so the weights are read where tfjs keeps them; standalone, for tests or any caller holding
//                 plain arrays, a memory of its own that the inputs are copied into), the thread pool, and the
//                 kernel body run in tfjs-wasm's heap.
import { compileBase64, decodeBase64, MemoryBoundModule } from '../../wasm-module';
import { QDOT_WASM, QDOT_WASM_RELAXED, QDOT_WASM_RELAXED_SHARED, QDOT_WASM_SHARED } from './qdot-wasm';
import { FORMAT_CODE, qMatMulInt8Ref } from './int8';
import { bytesOf, rowBytes, type QAttrs, type QFormat } from '../reference';

export interface QDotExports {
  scratchBytes(M: number, K: number): number;
  quantize(fmt: number, x: number, M: number, K: number, scratch: number): void;
  rows(fmt: number, w: number, N: number, K: number, M: number, scratch: number, y: number, n0: number, n1: number): void;
  qmatmul(fmt: number, x: number, M: number, K: number, w: number, N: number, y: number, scratch: number): void;
}

const kernel = new MemoryBoundModule<QDotExports>(compiledFor);

/** The kernel bound to `memory` (instantiated once per memory), or null where wasm SIMD is missing (callers use the JS twin). */
export function qdotFor(memory: WebAssembly.Memory): QDotExports | null {
  return kernel.exportsFor(memory);
}

let relaxedOk: boolean | null = null;
let relaxedOff = false;

/** Whether the relaxed-SIMD build is used (the engine validates it, and it was not turned off). */
export function relaxed(): boolean {
  relaxedOk ??= WebAssembly.validate(decodeBase64(QDOT_WASM_RELAXED) as BufferSource);
  return relaxedOk && !relaxedOff;
}

/** Use only the baseline SIMD build from now on (tests compare both builds; results are identical). */
export function setRelaxedSimd(on: boolean): void {
  relaxedOff = !on;
}

/** Why the SIMD kernel could not load here (null when it did or was not tried). */
export function qdotUnavailable(): string | null {
  return kernel.unavailable;
}

/**
 * y = x W^T through the SIMD kernel on a memory of its own (inputs copied in). For tests and callers outside
 * tfjs-wasm; null where wasm SIMD is missing.
 */
export function qMatMulInt8Wasm(x: Float32Array, M: number, w: Uint8Array, format: QFormat, N: number, K: number): Float32Array | null {
  const code = FORMAT_CODE[format];
  if (code === undefined) throw new Error(`qMatMulInt8Wasm: no int8 kernel for ${format}.`);
  const align = (v: number) => (v + 15) & ~15;
  const xAt = 0, wAt = align(x.byteLength), yAt = align(wAt + w.byteLength), sAt = align(yAt + M * N * 4);
  // the scratch size is the kernel's own formula (scratchBytes), repeated here to size the memory first
  const total = sAt + M * K + 2 * ((M * K) >> 3) + 16;
  const memory = new WebAssembly.Memory({ initial: Math.ceil(total / 65536) + 1 });
  const k = qdotFor(memory);
  if (!k) return null;
  const u8 = new Uint8Array(memory.buffer);
  u8.set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), xAt);
  u8.set(w, wAt);
  k.qmatmul(code, xAt, M, K, wAt, N, yAt, sAt);
  return new Float32Array(memory.buffer, yAt, M * N).slice();
}

/**
 * Jobs split across threads so far, and the most threads one used (tests and the bench read it). Kept on
 * globalThis: the test harness's dynamic imports get their own module instances (Vite's ?import URLs).
 */
export const qdotPoolStats: { jobs: number; threads: number } =
  ((globalThis as Record<string, unknown>).__labQdotPoolStats as { jobs: number; threads: number } | undefined) ??
  ((globalThis as Record<string, unknown>).__labQdotPoolStats = { jobs: 0, threads: 1 }) as { jobs: number; threads: number };

/**
 * Helper threads for the SIMD kernel on a shared memory (tfjs-wasm's threaded build): W's rows are split
 * evenly, the calling thread takes the first slice and spins (a page's main thread may not block) until the
 * helpers, sleeping on a control word in the same memory, have done theirs. Workers start asynchronously;
 * until all are ready, run() returns false and the caller computes alone (the same bits either way).
 */
export class QDotPool {
  private ready = 0;
  private readonly workers: Worker[] = [];
  private readonly c: Int32Array;

  constructor(private readonly memory: WebAssembly.Memory, private readonly k: QDotExports, ctrl: number, readonly threads: number) {
    this.c = new Int32Array(memory.buffer, ctrl, 16);
    this.c.fill(0);
    const mod = compiledFor(true);
    for (let i = 1; i < threads; i++) {
      const w = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
      w.onmessage = () => { this.ready++; };
      w.postMessage({ module: mod, memory, ctrl, index: i, count: threads });
      this.workers.push(w);
    }
  }

  /** y rows [0, N) for x already quantized in scratch; false (nothing done) while helpers are starting. */
  run(fmt: number, w: number, N: number, K: number, M: number, scratch: number, y: number): boolean {
    const helpers = this.threads - 1;
    if (this.ready < helpers) return false;
    const c = this.c;
    c[1] = fmt; c[2] = w; c[3] = N; c[4] = K; c[5] = M; c[6] = scratch; c[7] = y;
    Atomics.store(c, 8, 0);
    Atomics.add(c, 0, 1);
    Atomics.notify(c, 0);
    this.k.rows(fmt, w, N, K, M, scratch, y, 0, Math.floor(N / this.threads));
    while (Atomics.load(c, 8) < helpers) { /* spin: the helpers finish their slices */ }
    qdotPoolStats.jobs++;
    qdotPoolStats.threads = Math.max(qdotPoolStats.threads, this.threads);
    return true;
  }

  dispose(): void {
    Atomics.store(this.c, 1, -1);
    Atomics.add(this.c, 0, 1);
    Atomics.notify(this.c, 0);
    this.workers.length = 0;
  }
}

function compiledFor(shared: boolean): WebAssembly.Module {
  return compileBase64(relaxed() ? (shared ? QDOT_WASM_RELAXED_SHARED : QDOT_WASM_RELAXED) : shared ? QDOT_WASM_SHARED : QDOT_WASM);
}

// ---------- LabQMatMul in tfjs-wasm's heap ----------

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
export interface TfWasmModule {
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
export function wasmInt8MatMul(b: WasmBackend, x: HeapTensor, w: HeapTensor, a: QAttrs): HeapTensor {
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

/** A tensor of tfjs-wasm (a TensorInfo), described by what is used here. */
type HeapTensor = { shape: number[] };
/** The parts of tfjs-wasm's backend used here (no runtime import of the package). */
export interface WasmBackend {
  typedArrayFromHeap(t: HeapTensor): Float32Array;
  makeOutput(shape: number[], dtype: string): HeapTensor;
  wasm: TfWasmModule;
}
