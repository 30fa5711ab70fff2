// tfjs-wasm's heap: how much it can hold, a guard that turns a failed allocation into an error, and a measure
// of the tensor bytes a computation holds at its peak (issue 18). Every tensor of the wasm backend lives in one
// WebAssembly.Memory, which can grow to 4 GiB at most (emscripten's getHeapMax), and tfjs-wasm does not check
// its allocations: backend_wasm.js `move` writes each new tensor at whatever _malloc returns, so once the heap
// cannot grow, a tensor lands on address 0 and the page hangs.
import * as tf from '@tensorflow/tfjs';

import { mb } from '../models/llama/memory-plan';

export { WASM_HEAP_USABLE } from '../models/llama/memory-plan';

export class WasmOutOfMemoryError extends Error {
  constructor(readonly bytes: number, readonly heapBytes: number) {
    super(`The wasm heap is out of memory: an allocation of ${mb(bytes)} failed with ${mb(heapBytes)} of heap in use (tfjs-wasm can hold at most 4 GB, ` +
      `and browsers often stop it earlier). Use shorter sequences or a smaller batch, a smaller model, or reload the page to free memory.`);
    this.name = 'WasmOutOfMemoryError';
  }
}

interface WasmModule { _malloc(n: number): number; HEAPU8: Uint8Array; [guard]?: true }
const guard = Symbol('memgen.mallocGuard');

/**
 * Makes a failed allocation of tfjs-wasm throw instead of silently returning address 0: tfjs-wasm's `move`
 * (every tensor allocation) writes at whatever _malloc returns, so a full heap made the next tensor overwrite
 * the heap's start and the page hang (issue 18). Install after the wasm backend starts; idempotent.
 */
export function guardWasmAllocations(backend: unknown): boolean {
  const wasm = (backend as { wasm?: WasmModule } | null)?.wasm;
  if (!wasm || typeof wasm._malloc !== 'function' || wasm[guard]) return false;
  // A property with a setter, not a plain replacement: emscripten's lazy export wrapper reassigns
  // Module._malloc to the raw wasm export on its first call, which silently removed a plain wrapper.
  let inner = wasm._malloc.bind(wasm);
  const guarded = (n: number) => {
    const p = inner(n);
    if (p === 0 && n > 0) throw new WasmOutOfMemoryError(n, wasm.HEAPU8?.byteLength ?? 0);
    return p;
  };
  Object.defineProperty(wasm, '_malloc', { configurable: true, enumerable: true, get: () => guarded, set: (f: (n: number) => number) => { inner = f; } });
  wasm[guard] = true;
  return true;
}

interface TrackedBackend {
  write(values: unknown, shape: number[], dtype: string): object;
  disposeData(dataId: object, force?: boolean): boolean;
}

/**
 * Runs `fn` and returns its result with the peak bytes of tensor buffers alive at once, above those alive
 * before, counted at the backend (each buffer once: tf.memory().numBytes counts a buffer once per tensor that
 * shares it, e.g. every reshape and every saved clone). For the bench and the tests of the estimate.
 */
export async function measurePeakBytes<T>(fn: () => T | Promise<T>): Promise<{ result: T; peakBytes: number }> {
  const be = tf.backend() as unknown as TrackedBackend;
  const write = be.write, disposeData = be.disposeData;
  const sizes = new Map<object, number>();
  let live = 0, peak = 0;
  be.write = function (this: TrackedBackend, values, shape, dtype) {
    const id = write.call(this, values, shape, dtype);
    const n = shape.reduce((a, b) => a * b, 1) * (dtype === 'string' ? 0 : dtype === 'bool' ? 1 : 4);
    sizes.set(id, n);
    live += n;
    if (live > peak) peak = live;
    return id;
  };
  be.disposeData = function (this: TrackedBackend, dataId, force) {
    const released = disposeData.call(this, dataId, force);
    if (released && sizes.has(dataId)) { live -= sizes.get(dataId)!; sizes.delete(dataId); }
    return released;
  };
  try {
    const result = await fn();
    return { result, peakBytes: peak };
  } finally {
    delete (be as Partial<TrackedBackend>).write;
    delete (be as Partial<TrackedBackend>).disposeData;
    if (be.write !== write) be.write = write;
    if (be.disposeData !== disposeData) be.disposeData = disposeData;
  }
}
