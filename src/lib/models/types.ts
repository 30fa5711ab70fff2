// The one model interface both models (GPT-2 from scratch, LLaMA-3.2 from GGUF) implement.
// Hook points carry TransformerLens names, so recording and steering are written once:
//   hook_embed                    [B, T, C]  token embedding (GPT-2: + hook_pos_embed)
//   blocks.{i}.hook_resid_pre     [B, T, C]
//   blocks.{i}.attn.hook_z        [B, T, NH, HS]  attention output per head, before the output projection
//   blocks.{i}.attn.hook_pattern  [B, NH, T, TK]  (LLaMA; with attn.hook_q/k/v [B, T, heads, HS])
//   blocks.{i}.hook_attn_out      [B, T, C]
//   blocks.{i}.hook_resid_mid     [B, T, C]
//   blocks.{i}.ln2.hook_normalized [B, T, C]  the FFN LayerNorm's output (GPT-2)
//   blocks.{i}.mlp.hook_pre       [B, T, D_MLP]  before the activation (LLaMA: gate projection)
//   blocks.{i}.mlp.hook_post      [B, T, D_MLP]  after the activation (LLaMA: silu(gate) * up)
//   blocks.{i}.hook_mlp_out       [B, T, C]
//   blocks.{i}.hook_resid_post    [B, T, C]
//   ln_final.hook_normalized      [B, T, C]
import type * as tf from '@tensorflow/tfjs';

export interface HookContext {
  /** Full hook name, e.g. "blocks.3.hook_resid_post". */
  name: string;
  /** Block index, or -1 for hooks outside the blocks (hook_embed, ln_final...). */
  layer: number;
}

/**
 * A forward hook sees an activation and may return a replacement of the same shape (an edit); returning nothing
 * leaves it as it is. Where an edit lands is a run option (`editFrom`, `seqLengths`), not the hook's business.
 * Hooks run inside the forward's tf.tidy: return new tensors freely; keep nothing (runWithCache keeps for you).
 */
export type HookFn = (act: tf.Tensor, ctx: HookContext) => tf.Tensor | void;

/** Which hook points a runWithCache keeps: a list of names, or a predicate on the name. */
export type HookFilter = readonly string[] | ((name: string) => boolean);

export interface ModelDims {
  nLayer: number;
  /** Residual width (C). */
  dModel: number;
  /** MLP hidden width (D_MLP). */
  dMlp: number;
  vocabSize: number;
  /** Longest sequence the model accepts. */
  nCtx: number;
}

/** How one forward call treats its rows. Rows are right-padded to the tensor's T (see padRight in ./hooks). */
export interface RunOptions {
  /** Per row: real (unpadded) length. Default: every row is T long. Padding is never attended by real positions (attention is causal). */
  seqLengths?: number[];
  /**
   * Per row: the first position where a hook's edit lands; edits cover editFrom[b] .. seqLengths[b] - 1 and the
   * other positions keep the model's own activation. Default: every position. Decoders pass promptLength - 1, so a
   * steering edit lands on every position a KV-cached decoder would compute as a "last position".
   */
  editFrom?: number[];
  /** The caller reads hooks only: the vocabulary projection is skipped and logits have shape (B, T, 0). */
  hooksOnly?: boolean;
}

/**
 * What a model's forward takes. Callers use runWithHooks / runWithCache (./hooks), which build these; the model
 * hands them to the one hook dispatcher (hookPoints in ./hooks).
 */
export interface ForwardOptions extends RunOptions {
  /** name -> hook; exact names only (see the list above). */
  hooks?: Record<string, HookFn>;
  /** Sees every hook point's activation after its edit (runWithCache reads through it); the tensor lives only during the forward. */
  observe?: (name: string, act: tf.Tensor) => void;
}

/** runWithCache's options: the run's, plus edits to apply before the cache reads, and where to read. */
export interface CacheOptions extends RunOptions {
  /** Edits applied first; the cache holds each activation after its edit (what the next layer gets). */
  hooks?: Record<string, HookFn>;
  /** 'last': each cached activation (B, T, ...) is read at every row's last real position, giving (B, ...). Default 'all'. */
  pos?: 'all' | 'last';
}

/** Logits and the kept activations of one runWithCache; the caller disposes both (disposeCache). */
export type ActivationCache = {
  logits: tf.Tensor3D;
  cache: Record<string, tf.Tensor>;
};

/**
 * Adds to a projection's output, e.g. LoRA: `name` is the model's weight name without ".weight" (GPT-2
 * "h.0.attn.c_attn", LLaMA "blk.0.attn_q"); x (M, K) is the projection's input, y (M, N) its base output.
 */
export interface LinearAdapter {
  apply(name: string, x: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D;
}

/** How a task prompt becomes tokens: plain (bos + encode(prompt)) or inside a chat template with a system prompt. */
export type PromptFormat = { chat: false } | { chat: true; systemPrompt: string };

/**
 * Keys and values a model keeps between decoding steps for a batch of rows (a KV cache). Opaque to the decoders:
 * they only pick rows (beam search reorders beams) and dispose it.
 */
export interface DecodeCache {
  readonly rows: number;
  /** A new cache holding these rows of this one (repeats allowed), in this order; this one stays valid. */
  select(rows: number[]): DecodeCache;
  dispose(): void;
}

/** One decoding forward: log-probabilities of the next token, (rows, V), and the cache after it. Caller disposes both. */
export interface DecodeStep {
  logProbs: tf.Tensor2D;
  cache: DecodeCache;
}

export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
  /** Token that ends an answer (GPT-2 task tokenizer: <eos>; LLaMA: eot/eos). */
  eosId: number;
  bosId?: number;
}

/**
 * The one model interface. Both models implement it with the same semantics (tests/unit/hooked-model.test.ts):
 *
 * - `runWithHooks(tokens, hooks, opts)`: logits (B, T, V) with the hooks' edits applied (TransformerLens's
 *   run_with_hooks). `runWithCache(tokens, names | filter, opts)`: logits and the named activations, after any
 *   edits in opts.hooks, as (B, T, ...) or, with pos 'last', (B, ...) at each row's last real position
 *   (run_with_cache). Both are written once in ./hooks on top of `forward`, and every hook point goes through one
 *   dispatcher there (hookPoints): the model files only name their points.
 * - Tidy contract: `forward` (and so both run methods) runs inside its own tf.tidy. What it returns (logits, cached
 *   activations) survives and belongs to the caller; every intermediate is freed. Hooks run inside that tidy.
 * - Nothing outside a model mutates it: adapters go through attachAdapters / detachAdapters, the prompt template
 *   through setPromptFormat.
 */
export interface HookedModel {
  readonly kind: 'gpt2' | 'llama';
  readonly dims: ModelDims;
  readonly tokenizer: TextTokenizer;
  /** All hook names this model offers, in forward order. */
  hookNames(): string[];
  /** tokens: int32 [B, T] -> logits float32 [B, T, V]. The primitive the run methods call; use them for hooks. */
  forward(tokens: tf.Tensor2D, opts?: ForwardOptions): tf.Tensor3D;
  /** Logits (B, T, V) of a forward with `hooks` editing activations (where opts allow). */
  runWithHooks(tokens: tf.Tensor2D, hooks: Record<string, HookFn>, opts?: RunOptions): tf.Tensor3D;
  /** Logits and the activations `names` selects (a list, which must exist, or a predicate), after opts.hooks' edits. */
  runWithCache(tokens: tf.Tensor2D, names: HookFilter, opts?: CacheOptions): ActivationCache;
  /**
   * KV-cached decoding (optional; the decoders in ./generate.ts fall back to runWithHooks over the whole sequence).
   * prefill runs right-padded prompts as a decoder's first forward (opts.seqLengths: each row's real length; hook
   * edits land from opts.editFrom on, as in runWithHooks) and gives the next-token log-probs at each row's last real
   * position. decodeStep feeds one token per cached row at the row's next position (a hook's edit lands on it: a
   * generated position is a "last position"). Both go through the same hook dispatcher as forward.
   */
  prefill?(tokens: tf.Tensor2D, hooks: Record<string, HookFn>, opts: RunOptions & { seqLengths: number[] }): DecodeStep;
  decodeStep?(next: number[], cache: DecodeCache, hooks: Record<string, HookFn>): DecodeStep;
  /** A task prompt as this model's input tokens (bos + encode(prompt), or the chat template of setPromptFormat). */
  encodePrompt(prompt: string): number[];
  /** How task prompts become tokens from now on (e.g. LLaMA on the cipher task: the chat template, as the authors trained it). */
  setPromptFormat(f: PromptFormat): void;
  /** Installs an adapter on every projection (replacing any other); a model owns which projections it has. */
  attachAdapters(a: LinearAdapter): void;
  detachAdapters(): void;
  dispose(): void;
}

/** Parses a hook name into its block index (-1 when it is outside the blocks). */
export function hookLayer(name: string): number {
  const m = /^blocks\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : -1;
}
