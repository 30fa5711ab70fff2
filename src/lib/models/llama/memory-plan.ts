// The memory a LLaMA needs, predicted from its shape alone (no tensors: the LLaMA page shows it before a
// download, the LoRA step checks it, the full-size bench measures it): weights as llama.cpp's Q4_K_M mix lays
// them out, inference (weights, KV cache, one position), and a LoRA step (adapters, optimizer, activations).
//
// The estimate counts what the forward pass of models/llama/model.ts keeps for the backward pass, per token
// and per layer, in float32 (with the lab's shared Identity, a tensor a gradient saves is not copied):
//   2 RMSNorms 6C, projections q/k/v/o and their RoPE, transposes and attention output 8Q + 8KV + C,
//   residuals 3C, attention scores/probabilities 4 x heads x keys, SwiGLU 5D, and per LoRA target
//   (N x K) its dropout 5K, its two matmuls, scale and sum 3N + r;
// and, per token, the head: logits, log-softmax, one-hot target, product and their gradients (9V).
// tests/unit/lora-memory.test.ts checks it against the measured peak on real fixtures; docs/bench/llama-full-1b.json
// against a Llama-3.2-1B-shaped file.
import type { LlamaConfig } from './config';

/** The shape of a LLaMA as the estimate needs it: these fields of its LlamaConfig. */
export type LlamaShape = Pick<LlamaConfig, 'nLayer' | 'dModel' | 'dMlp' | 'nHead' | 'nHeadKv' | 'headDim' | 'vocabSize'>;

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

/**
 * Inference: weights, a KV cache of `ctx` positions, and the intermediates of one layer while a prompt of
 * `prompt` tokens is read (its attention scores grow with the prompt's square), plus a vocabulary row.
 */
export function inferenceMemory(s: LlamaShape, weightBytes: number, ctx: number, prompt = Math.min(ctx, 256)): { weightBytes: number; kvCacheBytes: number; activationBytes: number; totalBytes: number } {
  const kv = kvCacheBytes(s, ctx);
  const activationBytes = prompt * (8 * s.dModel + 3 * s.dMlp + 3 * s.nHead * prompt) * F + 2 * s.vocabSize * F;
  return { weightBytes, kvCacheBytes: kv, activationBytes, totalBytes: weightBytes + kv + activationBytes };
}

/** Bytes of an f32 KV cache (K and V at every layer) holding `positions` tokens of one sequence (also the service's estimate). */
export function kvCacheBytes(s: Pick<LlamaShape, 'nLayer' | 'nHeadKv' | 'headDim'>, positions: number): number {
  return 2 * s.nLayer * positions * s.nHeadKv * s.headDim * F;
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


/**
 * The bytes tfjs-wasm can hold: its heap may grow to 4 GiB - 64 KiB, but the browser refused to grow it past
 * ~3.68 GB in issue 18's probes; 3.5 GiB leaves room for the heap's own bookkeeping and the lab's scratch.
 */
export const WASM_HEAP_USABLE = 3.5 * 2 ** 30;

export const mb = (b: number) => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GB` : `${(b / 2 ** 20).toFixed(0)} MB`);

/** The most tokens per row that fit `freeBytes` with `batch` rows (0 when not even 2 do). */
export function longestRowThatFits(s: LlamaShape, lora: LoraShape, batch: number, freeBytes: number, maxT = 1 << 16): number {
  let lo = 1, hi = maxT + 1; // invariant: lo fits (or is 1), hi does not
  const fits = (T: number) => batch * T * loraBytesPerToken(s, lora, T) <= freeBytes;
  if (!fits(2)) return 0;
  while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (fits(mid)) lo = mid; else hi = mid; }
  return lo;
}

/**
 * Llama-3.2 GGUF files in llama.cpp's Q4_K_M mix (Instruct, as the authors used), from bartowski's widely used
 * conversions: shown on the LLaMA page with their predicted memory, never fetched unless the user asks.
 */
export const LLAMA_32_LINKS: Array<{ label: string; shape: '1B' | '3B'; url: string }> = [
  { label: 'Llama-3.2-1B-Instruct Q4_K_M (bartowski)', shape: '1B', url: 'https://huggingface.co/bartowski/Llama-3.2-1B-Instruct-GGUF/resolve/main/Llama-3.2-1B-Instruct-Q4_K_M.gguf' },
  { label: 'Llama-3.2-3B-Instruct Q4_K_M (bartowski), the paper\'s model', shape: '3B', url: 'https://huggingface.co/bartowski/Llama-3.2-3B-Instruct-GGUF/resolve/main/Llama-3.2-3B-Instruct-Q4_K_M.gguf' },
];

/** What a model of shape `s` with `weightBytes` of weights needs, and whether it fits the wasm heap (the page's plan). */
export function memoryPlan(s: LlamaShape, weightBytes: number, loraTokens = 64, ctx = 2048) {
  const inference = inferenceMemory(s, weightBytes, ctx);
  const lora = loraStepMemory(s, weightBytes, { r: 8, targets: ['q_proj', 'v_proj'] }, 1, loraTokens);
  return { inference, lora, loraTokens, ctx, wasmLimit: WASM_HEAP_USABLE, inferenceFitsWasm: inference.totalBytes <= WASM_HEAP_USABLE, loraFitsWasm: lora.totalBytes <= WASM_HEAP_USABLE };
}
