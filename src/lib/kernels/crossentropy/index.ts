// softmaxCrossEntropy(logits, targets, weights): per-row weighted cross-entropy as one registered kernel,
// with a registered gradient kernel for the logits (softmax - onehot, recomputed from the logits).
import * as tf from '@tensorflow/tfjs';
import { defineLabOp, forwardAndGradient, expectDtype, expectRank } from '../common';
import { crossEntropyHost } from './cpu';
import { crossEntropyWasm } from './wasm';
import { crossEntropyWebGPU } from './webgpu';

export const XENT = 'LabSoftmaxCrossEntropy';
export const XENT_GRAD = 'LabSoftmaxCrossEntropyGrad';

export const registerCrossEntropy = defineLabOp({
  kernels: forwardAndGradient({ forward: XENT, backward: XENT_GRAD }, { host: crossEntropyHost, webgpu: crossEntropyWebGPU, wasm: crossEntropyWasm }),
  gradient: {
    kernelName: XENT,
    inputsToSave: ['logits', 'targets', 'weights'],
    gradFunc: (dy, [logits, targets, weights]) => ({
      logits: () => tf.engine().runKernel(XENT_GRAD, { dy: dy as tf.Tensor, logits, targets, weights }) as tf.Tensor,
      // Only called if someone differentiates through the targets or weights (the model never does).
      targets: () => tf.zeros(targets.shape), // integer ids: no gradient (tfjs wants float32 zeros)
      // d loss / d weight = the unweighted row loss; rows with weight 0 get 0 (their target may be a pad id).
      weights: () =>
        tf.mul(dy as tf.Tensor, tf.engine().runKernel(XENT, { logits, targets, weights: tf.notEqual(weights, 0).toFloat() }) as tf.Tensor),
    }),
  },
});

/** Per-row weights[n] * -log softmax(logits[n])[targets[n]]; logits (N, V), targets int32 (N), weights (N). */
export function softmaxCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, weights: tf.Tensor1D): tf.Tensor1D {
  registerCrossEntropy();
  const op = 'softmaxCrossEntropy';
  expectRank(op, 'logits', logits, 2, '(N, V)');
  expectRank(op, 'targets', targets, 1, '(N)');
  expectRank(op, 'weights', weights, 1, '(N)');
  expectDtype(op, 'logits', logits, 'float32', 'cast it with logits.toFloat()');
  expectDtype(op, 'targets', targets, 'int32', 'cast it with targets.toInt()');
  expectDtype(op, 'weights', weights, 'float32', 'cast it with weights.toFloat()');
  const N = logits.shape[0];
  if (targets.shape[0] !== N || weights.shape[0] !== N)
    throw new Error(
      `${op}: targets and weights need one entry per logits row (${N}), got targets [${targets.shape[0]}] and weights [${weights.shape[0]}].`,
    );
  return tf.engine().runKernel(XENT, { logits, targets, weights }) as tf.Tensor1D;
}
