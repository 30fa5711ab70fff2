// The same five ops built only from stock tfjs ops: the baseline of the side-by-side benchmark, and a second
// opinion in the tests. They differ from the fused kernels only in speed, memory and float rounding.
import * as tf from '@tensorflow/tfjs';

const GELU_K = Math.sqrt(2 / Math.PI);

export const stock = {
  /**
   * table (V, C), int32 ids (...) -> (..., C). tf.gather where its gradient exists; on wasm tf.gather's
   * gradient needs UnsortedSegmentSum, which that backend lacks, so there it is oneHot(ids) x table, whose
   * gradient is a matMul. That costs an (N, V) one-hot matrix: fine for task vocabularies, heavy for 50k.
   */
  embedding(table: tf.Tensor2D, ids: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      if (tf.getBackend() !== 'wasm') return tf.gather(table, ids); // (..., C)
      const [V, C] = table.shape;
      const oh = tf.oneHot(ids.reshape([-1]), V).toFloat(); // (N, V)
      return tf.matMul(oh, table).reshape([...ids.shape, C]); // (..., C)
    });
  },

  /** LayerNorm over the last axis with the biased variance, as GPT-2. */
  layerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-5): tf.Tensor {
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, -1, true); // (..., 1) each
      return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), gamma), beta); // (..., C)
    });
  },

  /** GPT-2's tanh GELU. */
  gelu(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const inner = tf.mul(GELU_K, tf.add(x, tf.mul(0.044715, tf.mul(x, tf.mul(x, x)))));
      return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
    });
  },

  /** Per-row weights * -log softmax(logits)[target]; a target outside [0, V) picks nothing (loss 0 * weight). */
  softmaxCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, weights: tf.Tensor1D): tf.Tensor1D {
    return tf.tidy(() => {
      const V = logits.shape[1];
      const picked = tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(targets, V).toFloat()), -1); // (N)
      return tf.mul(tf.neg(picked), weights) as tf.Tensor1D;
    });
  },

  /** softmax(q k^T * scale + causal mask) v, with the full (B, NH, T, T) matrix. */
  causalAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, scale: number): tf.Tensor4D {
    return tf.tidy(() => {
      const T = q.shape[2];
      const att = tf.mul(tf.matMul(q, k, false, true), scale); // (B, NH, T, T)
      const future = tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)); // (T, T), 1 above the diagonal
      const p = tf.softmax(tf.add(att, tf.mul(future, -1e9))); // (B, NH, T, T)
      return tf.matMul(p, v) as tf.Tensor4D; // (B, NH, T, HS)
    });
  },
};
