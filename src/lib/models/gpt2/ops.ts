// The five ops the GPT-2 model needs, behind one interface, so the same model runs on fused lab kernels
// (WGSL on webgpu, CPU twins on wasm/cpu) or on stock tfjs ops (the side-by-side benchmark baseline).
import type * as tf from '@tensorflow/tfjs';
import { causalAttention, embedding, gelu, layerNorm, softmaxCrossEntropy, stock } from '../../kernels';

export interface ModelOps {
  /** table (V, C), ids int32 (...) -> (..., C) */
  embedding(table: tf.Tensor2D, ids: tf.Tensor): tf.Tensor;
  /** x (..., C) normalized over C, then * gamma + beta */
  layerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps?: number): tf.Tensor;
  /** GPT-2's tanh-approximated GELU */
  gelu(x: tf.Tensor): tf.Tensor;
  /** logits (N, V), targets int32 (N), weights (N) -> per-row weight * -log softmax(logits)[target] */
  softmaxCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, weights: tf.Tensor1D): tf.Tensor1D;
  /** q, k, v (B, NH, T, HS) -> softmax(q k^T * scale, causal) v */
  causalAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, scale: number): tf.Tensor4D;
}

export type OpsImpl = 'fused' | 'stock';

/** The two op sets, chosen by name where a model or a training run is made (no global set at import time). */
const OPS: Record<OpsImpl, ModelOps> = {
  fused: { embedding, layerNorm, gelu, softmaxCrossEntropy, causalAttention },
  stock,
};

export function getOps(impl: OpsImpl): ModelOps {
  const o = OPS[impl];
  if (!o) throw new Error(`GPT-2 ops must be 'fused' or 'stock', got ${String(impl)}.`);
  return o;
}
