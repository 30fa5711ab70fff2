// wasm SIMD kernels for GPT-2's lab ops (GELU, LayerNorm, causal attention, cross-entropy: forward and gradient;
// the embedding's gradient) on the 'wasm' backend, in place of their JS twins. Files:
//   asm/ops.ts   the kernels, AssemblyScript, built by `npm run build:simd` into ops-wasm.ts (generated)
//   index.ts     this file: loads the module against a memory (on the wasm backend tfjs-wasm's own heap, so
//                tensors are read and written where tfjs keeps them; standalone, a memory of its own for tests)
// Each op folder's wasm.ts is its kernel body on the wasm backend; the JS twins (cpu.ts, running reference.ts)
// stay the reference the tests compare against, and the path where SIMD cannot load. One thread: these ops
// are memory-bound or small next to the matmuls, and a second wasm module cannot join tfjs-wasm's pool.
import * as tf from '@tensorflow/tfjs';
import { OPS_WASM, OPS_WASM_SHARED } from './ops-wasm';
import { compileBase64, MemoryBoundModule } from '../wasm-module';

export interface SimdOps {
  gelu(x: number, y: number, n: number): void;
  geluGrad(dy: number, x: number, dx: number, n: number): void;
  layerNorm(x: number, g: number, b: number, y: number, N: number, C: number, eps: number): void;
  layerNormGrad(dy: number, x: number, g: number, dx: number, dg: number, db: number, N: number, C: number, eps: number): void;
  attention(q: number, k: number, v: number, y: number, BH: number, T: number, HS: number, scale: number, att: number): void;
  attentionGrad(
    dy: number, q: number, k: number, v: number, y: number, dq: number, dk: number, dv: number,
    BH: number, T: number, HS: number, scale: number, att: number,
  ): void;
  crossEntropy(logits: number, targets: number, weights: number, losses: number, N: number, V: number): void;
  crossEntropyGrad(dloss: number, logits: number, targets: number, weights: number, dlogits: number, N: number, V: number): void;
  embeddingGrad(dy: number, ids: number, dtable: number, N: number, V: number, C: number): void;
}

/**
 * tfjs flag: whether the wasm backend runs these kernels (true) or the JS twins (false, for the agreement tests
 * and the bench). A tfjs flag rather than a module variable because a dev server can load two copies of a module.
 */
export const SIMD_OPS_FLAG = 'LAB_WASM_SIMD_OPS';
try {
  tf.env().registerFlag(SIMD_OPS_FLAG, () => true);
} catch {
  /* registered by another copy of this module */
}

export function setSimdOps(on: boolean): void {
  tf.env().set(SIMD_OPS_FLAG, on);
}

const kernels = new MemoryBoundModule<SimdOps>((shared) => compileBase64(shared ? OPS_WASM_SHARED : OPS_WASM));

/** The kernels bound to `memory` (instantiated once per memory), or null where wasm SIMD is missing (callers use the JS twins). */
export function simdOpsFor(memory: WebAssembly.Memory): SimdOps | null {
  return kernels.exportsFor(memory);
}

/** Why the kernels could not load here (null when they did or were not tried). */
export function simdOpsUnavailable(): string | null {
  return kernels.unavailable;
}

/**
 * Runs `fn` on a memory of its own holding `arrays` (copied in, 16-byte aligned; `outs` more zeroed float32
 * arrays of the given lengths) and returns the outs. For tests and callers outside tfjs-wasm; null without SIMD.
 */
export function runStandalone(
  arrays: Array<Float32Array | Int32Array>, outs: number[], fn: (k: SimdOps, ptrs: number[]) => void,
): Float32Array[] | null {
  const lens = [...arrays.map((a) => a.length), ...outs];
  const ptrs: number[] = [];
  let at = 16;
  for (const n of lens) {
    ptrs.push(at);
    at += (n * 4 + 15) & ~15;
  }
  const memory = new WebAssembly.Memory({ initial: Math.ceil(at / 65536) + 1 });
  const k = simdOpsFor(memory);
  if (!k) return null;
  arrays.forEach((a, i) => new Uint8Array(memory.buffer, ptrs[i], a.byteLength).set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)));
  fn(k, ptrs);
  return outs.map((n, j) => new Float32Array(memory.buffer, ptrs[arrays.length + j], n).slice());
}

/** A tensor of tfjs-wasm (a TensorInfo), as used here. */
type HeapTensor = tf.TensorInfo;
/** The parts of tfjs-wasm's backend used here (no runtime import of the package). */
interface WasmBackend {
  typedArrayFromHeap(t: HeapTensor): Float32Array;
  makeOutput(shape: number[], dtype: string): HeapTensor;
  wasm: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory }; _malloc(n: number): number; _free(p: number): void };
}

/**
 * Kernel calls run here so far (tests read it to know the SIMD path ran). On globalThis: the test harness's
 * dynamic imports get their own module instances.
 */
export const simdOpsStats: { calls: number } =
  ((globalThis as Record<string, unknown>).__labSimdOpsStats as { calls: number } | undefined) ??
  ((globalThis as Record<string, unknown>).__labSimdOpsStats = { calls: 0 }) as { calls: number };

const scratchOf = new WeakMap<object, { ptr: number; size: number }>();

/**
 * Runs a kernel in tfjs-wasm's heap: allocates the outputs, then calls `fn` with the kernels, the byte offsets
 * of `inputs` then outputs, and a scratch area of `scratchBytes`. Null (nothing allocated) when the flag is off
 * or SIMD cannot load, so the JS twin runs.
 */
export function runInHeap(
  backend: unknown, inputs: HeapTensor[], outShapes: number[][], scratchBytes: number,
  fn: (k: SimdOps, ptrs: number[], scratch: number) => void,
): HeapTensor[] | null {
  if (!tf.env().getBool(SIMD_OPS_FLAG)) return null;
  const b = backend as WasmBackend;
  const mem = b.wasm?.wasmMemory ?? b.wasm?.asm?.memory;
  if (!(mem instanceof WebAssembly.Memory)) return null;
  const k = simdOpsFor(mem);
  if (!k) return null;
  let scratch = 0;
  if (scratchBytes > 0) {
    let s = scratchOf.get(b.wasm);
    if (!s || s.size < scratchBytes) {
      if (s) b.wasm._free(s.ptr);
      const size = Math.max(scratchBytes, 1 << 16);
      s = { ptr: b.wasm._malloc(size), size };
      scratchOf.set(b.wasm, s);
    }
    if (!s.ptr) return null;
    scratch = s.ptr;
  }
  const outs = outShapes.map((s) => b.makeOutput(s, 'float32')); // may grow the heap: offsets are taken after
  const ptrs = [...inputs, ...outs].map((t) => b.typedArrayFromHeap(t).byteOffset);
  fn(k, ptrs, scratch);
  simdOpsStats.calls++;
  return outs;
}
