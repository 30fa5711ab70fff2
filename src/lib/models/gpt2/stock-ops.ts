// TEMPORARY development ops from stock tfjs ops (to be replaced by kernels/stock).
import * as tf from '@tensorflow/tfjs';
import type { ModelOps } from './ops';

export const devStockOps: ModelOps = {
  embedding(table, ids) {
    const [V, C] = table.shape;
    const oh = tf.oneHot(ids.reshape([-1]).toInt(), V).toFloat(); // (N, V)
    return tf.matMul(oh, table).reshape([...ids.shape, C]);
  },
  layerNorm(x, g, b, eps = 1e-5) {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), g), b);
  },
  gelu(x) {
    const inner = tf.mul(0.7978845608028654, tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
  },
  softmaxCrossEntropy(logits, targets, weights) {
    const V = logits.shape[1];
    const lsm = tf.logSoftmax(logits);
    const picked = tf.sum(tf.mul(lsm, tf.oneHot(targets.toInt(), V).toFloat()), -1);
    return tf.mul(tf.neg(picked), weights) as tf.Tensor1D;
  },
  causalAttention(q, k, v, scale) {
    const T = q.shape[2];
    const att = tf.mul(tf.matMul(q, k, false, true), scale); // (B, NH, T, T)
    const mask = tf.linalg.bandPart(tf.ones([T, T]), -1, 0); // lower triangle
    const masked = tf.add(att, tf.mul(tf.sub(1, mask), -1e9));
    return tf.matMul(tf.softmax(masked), v) as tf.Tensor4D;
  },
};
