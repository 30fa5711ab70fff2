// How much memory a LLaMA needs to run and to take a LoRA step, the check that refuses a step before it fills
// the memory, and a backward pass that frees as it goes (issue 18). On wasm every tensor lives in tfjs-wasm's
// heap (engine/wasm-heap.ts: at most ~3.5 GiB usable, and a failed allocation hangs the page unless guarded),
// so a step whose activations do not fit what is left is refused, naming the limit and what to change.
//
// The estimate counts what the forward pass of models/llama/model.ts keeps for the backward pass, per token
// and per layer, in float32 (with the lab's shared Identity, a tensor a gradient saves is not copied):
//   2 RMSNorms 6C, projections q/k/v/o and their RoPE, transposes and attention output 8Q + 8KV + C,
//   residuals 3C, attention scores/probabilities 4 x heads x keys, SwiGLU 5D, and per LoRA target
//   (N x K) its dropout 5K, its two matmuls, scale and sum 3N + r;
// and, per token, the head: logits, log-softmax, one-hot target, product and their gradients (9V).
// tests/unit/lora-memory.test.ts checks it against tf.profile's measured peak on real fixtures.
import * as tf from '@tensorflow/tfjs';
import { WASM_HEAP_USABLE, mb } from '../engine/wasm-heap';

/** The shape of a LLaMA as the estimate needs it (a LlamaConfig has these fields). */
export interface LlamaShape {
  nLayer: number;
  dModel: number;
  dMlp: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  vocabSize: number;
}

export interface LoraShape {
  r: number;
  /** HF module names (q_proj, v_proj, ...). */
  targets: readonly string[];
}

const F = 4; // float32

/** [N, K] of a LoRA target's projection. */
function targetShape(s: LlamaShape, t: string): [number, number] {
  const Q = s.nHead * s.headDim, KV = s.nHeadKv * s.headDim;
  switch (t) {
    case 'q_proj': return [Q, s.dModel];
    case 'k_proj': case 'v_proj': return [KV, s.dModel];
    case 'o_proj': return [s.dModel, Q];
    case 'gate_proj': case 'up_proj': return [s.dMlp, s.dModel];
    case 'down_proj': return [s.dModel, s.dMlp];
    default: throw new Error(`Unknown LoRA target ${t}: choose from q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj.`);
  }
}

/** Trainable LoRA parameters (A and B of every target in every layer). */
export function adapterParams(s: LlamaShape, lora: LoraShape): number {
  let n = 0;
  for (const t of lora.targets) { const [N, K] = targetShape(s, t); n += lora.r * (N + K); }
  return n * s.nLayer;
}

/** Bytes the backward pass of one LoRA forward keeps per token of a row of `T` tokens (attention grows with T). */
export function loraBytesPerToken(s: LlamaShape, lora: LoraShape, T: number): number {
  const C = s.dModel, Q = s.nHead * s.headDim, KV = s.nHeadKv * s.headDim, D = s.dMlp;
  let adapter = 0;
  for (const t of lora.targets) { const [N, K] = targetShape(s, t); adapter += 5 * K + 3 * N + lora.r; }
  const perLayer = 10 * C + 8 * Q + 8 * KV + 5 * D + 4 * s.nHead * T + adapter;
  return (s.nLayer * perLayer + 4 * C + 9 * s.vocabSize) * F;
}

export interface LoraStepMemory {
  /** The model's weights as held on the device (raw quantized blocks: about the file's size). */
  weightBytes: number;
  /** Adapters, their gradients, the summed gradients of an accumulation, and AdamW's two moments. */
  adapterBytes: number;
  /** What one forward pass of `batch` rows of `T` tokens keeps for the backward pass, and its gradients. */
  activationBytes: number;
  totalBytes: number;
}

export function loraStepMemory(s: LlamaShape, weightBytes: number, lora: LoraShape, batch: number, T: number): LoraStepMemory {
  const adapterBytes = 5 * adapterParams(s, lora) * F;
  const activationBytes = batch * T * loraBytesPerToken(s, lora, T);
  return { weightBytes, adapterBytes, activationBytes, totalBytes: weightBytes + adapterBytes + activationBytes };
}

/** Inference (decoding with a KV cache of `ctx` positions): weights, the cache, and one position's activations. */
export function inferenceMemory(s: LlamaShape, weightBytes: number, ctx: number): { weightBytes: number; kvCacheBytes: number; activationBytes: number; totalBytes: number } {
  const kvCacheBytes = 2 * s.nLayer * ctx * s.nHeadKv * s.headDim * F;
  // one layer's intermediates of a prompt of ctx tokens (prefill), and the vocabulary row of the last position
  const activationBytes = ctx * (8 * s.dModel + 3 * s.dMlp + 3 * s.nHead * ctx) * F + 2 * s.vocabSize * F;
  return { weightBytes, kvCacheBytes, activationBytes, totalBytes: weightBytes + kvCacheBytes + activationBytes };
}

/** GGUF bytes per weight of the quant types (block bytes / block size). */
const BYTES_PER_WEIGHT: Record<string, number> = { F32: 4, F16: 2, Q8_0: 34 / 32, Q6_K: 210 / 256, Q4_K: 144 / 256, Q4_0: 18 / 32 };

/**
 * llama.cpp's Q4_K_M mix (llama_tensor_get_type): Q6_K for the output (or the tied token embedding), and for
 * attn_v and ffn_down in the layers use_more_bits picks (the first and last eighth, and every third between);
 * Q4_K for every other matrix. Returns the type of a tensor by its GGUF name.
 */
export function q4kmType(name: string, nLayer: number): 'Q6_K' | 'Q4_K' | 'F32' {
  if (/norm/.test(name) || name === 'rope_freqs.weight') return 'F32';
  if (name === 'output.weight' || name === 'token_embd.weight') return 'Q6_K';
  const m = /^blk\.(\d+)\.(attn_v|ffn_down)\./.exec(name);
  if (m) {
    const i = Number(m[1]), n8 = Math.floor(nLayer / 8);
    if (i < n8 || i >= Math.floor((7 * nLayer) / 8) || (i - n8) % 3 === 2) return 'Q6_K';
  }
  return 'Q4_K';
}

/** Predicted weight bytes of a Q4_K_M file of shape `s` (tied output), before anything is downloaded. */
export function q4kmWeightBytes(s: LlamaShape, tied = true): number {
  const C = s.dModel, Q = s.nHead * s.headDim, KV = s.nHeadKv * s.headDim, D = s.dMlp;
  let b = s.vocabSize * C * BYTES_PER_WEIGHT.Q6_K * (tied ? 1 : 2);
  for (let i = 0; i < s.nLayer; i++) {
    const t = (n: string) => BYTES_PER_WEIGHT[q4kmType(`blk.${i}.${n}.weight`, s.nLayer)];
    b += Q * C * t('attn_q') + KV * C * t('attn_k') + KV * C * t('attn_v') + C * Q * t('attn_output') +
      D * C * (t('ffn_gate') + t('ffn_up') + t('ffn_down')) + 2 * C * 4;
  }
  return b + C * 4;
}

/** The shapes of the paper's model and its smaller sibling (Meta's config.json). */
export const LLAMA_32_SHAPES: Record<'1B' | '3B', LlamaShape> = {
  '1B': { nLayer: 16, dModel: 2048, dMlp: 8192, nHead: 32, nHeadKv: 8, headDim: 64, vocabSize: 128256 },
  '3B': { nLayer: 28, dModel: 3072, dMlp: 8192, nHead: 24, nHeadKv: 8, headDim: 128, vocabSize: 128256 },
};

export { mb };

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

/** The most tokens per row that fit `freeBytes` with `batch` rows (0 when not even 2 do). */
export function longestRowThatFits(s: LlamaShape, lora: LoraShape, batch: number, freeBytes: number, maxT = 1 << 16): number {
  let lo = 1, hi = maxT + 1; // invariant: lo fits (or is 1), hi does not
  const fits = (T: number) => batch * T * loraBytesPerToken(s, lora, T) <= freeBytes;
  if (!fits(2)) return 0;
  while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (fits(mid)) lo = mid; else hi = mid; }
  return lo;
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

