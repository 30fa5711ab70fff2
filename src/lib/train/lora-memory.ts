// How much memory a LLaMA needs to run and to take a LoRA step, the check that refuses a step before it fills
// the memory, and a backward pass that frees as it goes (issue 18). On wasm every tensor lives in tfjs-wasm's
// heap (engine/wasm-heap.ts: at most ~3.5 GiB usable, and a failed allocation hangs the page unless guarded),
// so a step whose activations do not fit what is left is refused, naming the limit and what to change.
// The formulas (no tensors, so the LLaMA page can show them) are in models/llama/memory-plan.ts.
import * as tf from '@tensorflow/tfjs';
import { WASM_HEAP_USABLE, loraBytesPerToken, longestRowThatFits, mb, type LlamaShape, type LoraShape } from '../models/llama/memory-plan';

export * from '../models/llama/memory-plan';

export class LoraMemoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoraMemoryError';
  }
}

let budget: number | null = null;

/**
 * A memory budget below the device's own (bytes of tensors, weights included), e.g. to leave room for other
 * tabs; null (the default) leaves only the device's limit. Also what lets the tests reach the refusal on cpu.
 */
export function setLoraMemoryBudget(bytes: number | null): void {
  if (bytes !== null && !(bytes > 0)) throw new Error(`A memory budget must be a positive number of bytes (or null for none); got ${bytes}.`);
  budget = bytes;
}

/**
 * What the current backend can still hold, or null where no limit is known (cpu without a budget; WebGPU,
 * which reports no total memory: its per-buffer cap is checked by checkTrainFits' rule and GPU out-of-memory
 * errors are caught at run time). Read between steps: tf.memory().numBytes then counts each buffer once.
 */
export function freeDeviceMemory(): { limitBytes: number; usedBytes: number; freeBytes: number; where: string } | null {
  const wasm = tf.getBackend() === 'wasm';
  if (!wasm && budget === null) return null;
  const limitBytes = Math.min(wasm ? WASM_HEAP_USABLE : Infinity, budget ?? Infinity);
  const usedBytes = tf.memory().numBytes;
  const where = budget !== null && limitBytes === budget ? 'the memory budget' : 'the wasm heap';
  return { limitBytes, usedBytes, freeBytes: limitBytes - usedBytes, where };
}

/**
 * Refuses a LoRA forward of `batch` rows of `T` tokens whose activations do not fit what the backend has left
 * (wasm: the heap's usable size minus the tensors alive now: weights, adapters, optimizer state). Call it
 * before every forward pass of a step: nothing is allocated when it throws. `free` overrides the measurement.
 */
export function checkLoraStepFits(s: LlamaShape, lora: LoraShape, batch: number, T: number,
  free: { freeBytes: number; limitBytes: number; usedBytes: number; where: string } | null = freeDeviceMemory()): void {
  if (!free) return;
  const need = batch * T * loraBytesPerToken(s, lora, T);
  if (need <= free.freeBytes) return;
  const longest = longestRowThatFits(s, lora, batch, free.freeBytes, T);
  const oneRow = longestRowThatFits(s, lora, 1, free.freeBytes, T);
  const fix = [
    longest >= 2 ? `rows of at most ${longest} tokens at batch ${batch}` : null,
    batch > 1 && oneRow >= 2 ? `batch 1 (with more gradient accumulation) and rows of at most ${oneRow} tokens` : null,
    batch > 1 && oneRow >= T ? `batch 1 with gradient accumulation ${batch}x as large: the same effective batch` : null,
  ].filter(Boolean);
  throw new LoraMemoryError(
    `A LoRA step on ${batch} row(s) of ${T} tokens needs about ${mb(need)} for its activations, but ${free.where} has ${mb(Math.max(0, free.freeBytes))} left ` +
      `(limit ${mb(free.limitBytes)}, ${mb(free.usedBytes)} already held by the weights, adapters and optimizer). Nothing was allocated. ` +
      (fix.length ? `Use ${fix.join(', or ')}: shorter sequences or a smaller batch.` : 'Even the shortest rows do not fit: use a smaller model, or close other tabs and reload to free memory.'),
  );
}

interface TapeNode { inputs: Record<string, tf.Tensor>; saved?: tf.Tensor[]; gradient?: (dys: Array<tf.Tensor | null>) => Record<string, () => tf.Tensor> }
interface EngineInternals {
  addTapeNode(kernelName: string, inputs: unknown, outputs: unknown, gradientsFunc: unknown, saved: unknown, attrs: unknown): void;
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
}

/**
 * Runs `fn` (which computes gradients, e.g. LoraAdapters.grads) with a backward pass that frees as it goes.
 * tfjs's backward (tape.ts backpropagateGradients) keeps the gradient of every intermediate tensor, and every
 * tensor saved for the backward, until the whole backward ends: its peak is the saved forward plus all the
 * gradients, 2.5x what the forward keeps (measured in tests/unit/lora-memory.test.ts). Here each tape node,
 * once it has produced its inputs' gradients, disposes its outputs' gradients and its saved tensors: nothing
 * reads them again (the tape is walked once, in reverse; first-order gradients only). The values are the same.
 */
export function withFreeingBackward<T>(fn: () => T): T {
  const eng = tf.engine() as unknown as EngineInternals;
  const own = Object.prototype.hasOwnProperty.call(eng, 'addTapeNode');
  const orig = eng.addTapeNode;
  eng.addTapeNode = function (this: EngineInternals, ...args: Parameters<EngineInternals['addTapeNode']>) {
    orig.apply(this, args);
    const tape = this.state.activeTape;
    const node = tape?.[tape.length - 1];
    const g = node?.gradient;
    if (!node || !g) return;
    node.gradient = (dys) => {
      const fns = g(dys);
      if (this.state.gradientDepth > 0) return fns; // a higher-order gradient may read them again
      const names = Object.keys(node.inputs);
      const produced = new Set<tf.Tensor>();
      let left = names.length;
      const release = () => {
        for (const dy of dys) if (dy && !produced.has(dy)) dy.dispose(); // a gradient passed through is kept
        for (const s of node.saved ?? []) s.dispose(); // disposed again at the end of the backward: a no-op
      };
      const wrapped: Record<string, () => tf.Tensor> = {};
      for (const k of Object.keys(fns)) {
        wrapped[k] = () => {
          const dx = fns[k]();
          produced.add(dx);
          if (names.includes(k) && --left === 0) release();
          return dx;
        };
      }
      return wrapped;
    };
  };
  try {
    return fn();
  } finally {
    if (own) eng.addTapeNode = orig;
    else delete (eng as Partial<EngineInternals>).addTapeNode;
  }
}

