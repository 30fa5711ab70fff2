// The one model interface both models (GPT-2 from scratch, LLaMA-3.2 from GGUF) implement.
// Hook points carry TransformerLens names, so recording and steering are written once:
//   hook_embed                    [B, T, C]  token embedding (GPT-2: + hook_pos_embed)
//   blocks.{i}.hook_resid_pre     [B, T, C]
//   blocks.{i}.hook_attn_out      [B, T, C]
//   blocks.{i}.hook_resid_mid     [B, T, C]
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
  /** Per row: prompt tokens (positions >= promptLengths[b] - 1 are "last positions" of some forward call). */
  promptLengths?: number[];
  /** Per row: real (unpadded) length of the sequence; rows are right-padded to the tensor's T. */
  seqLengths?: number[];
}

/**
 * A forward hook sees an activation and may return a replacement of the same shape.
 * Hooks run inside the forward's tf.tidy: return new tensors freely; do not keep references.
 */
export type HookFn = (act: tf.Tensor, ctx: HookContext) => tf.Tensor | void;

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

export interface ForwardOptions {
  /** name -> hook; exact names only (see the list above). */
  hooks?: Record<string, HookFn>;
  promptLengths?: number[];
  seqLengths?: number[];
  /** The caller reads hooks only: a model may skip its vocabulary projection and return logits of shape (B, T, 0). */
  hooksOnly?: boolean;
}

export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
  /** Token that ends an answer (GPT-2 task tokenizer: <eos>; LLaMA: eot/eos). */
  eosId: number;
  bosId?: number;
}

export interface HookedModel {
  readonly kind: 'gpt2' | 'llama';
  readonly dims: ModelDims;
  readonly tokenizer: TextTokenizer;
  /** All hook names this model offers, in forward order. */
  hookNames(): string[];
  /**
   * How this model wants a task prompt as tokens, when it is not "bos + encode(prompt)" (e.g. LLaMA on the cipher
   * task wraps it in the chat template, as the authors trained it). Set by whoever hands the model to a task.
   */
  encodePrompt?: (prompt: string) => number[];
  /** tokens: int32 [B, T] -> logits float32 [B, T, V]. Runs the hooks given in opts. */
  forward(tokens: tf.Tensor2D, opts?: ForwardOptions): tf.Tensor3D;
  dispose(): void;
}

/** A task prompt as this model's input tokens. */
export function promptTokens(model: HookedModel, prompt: string): number[] {
  if (model.encodePrompt) return model.encodePrompt(prompt);
  const ids = model.tokenizer.encode(prompt);
  return model.tokenizer.bosId !== undefined ? [model.tokenizer.bosId, ...ids] : ids;
}

/** Parses a hook name into its block index (-1 when it is outside the blocks). */
export function hookLayer(name: string): number {
  const m = /^blocks\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : -1;
}
