// causalAttention(q, k, v, scale): softmax(q k^T * scale, causal) v as one registered kernel, with one
// registered gradient kernel giving dq, dk, dv (probabilities recomputed; only the output is saved).
import * as tf from '@tensorflow/tfjs';
import { defineLabOp, forwardAndGradient, expectDtype, expectRank } from '../common';
import { attentionHost } from './cpu';
import { attentionWasm } from './wasm';
import { attentionWebGPU } from './webgpu';

export const ATTENTION = 'LabCausalAttention';
export const ATTENTION_GRAD = 'LabCausalAttentionGrad';

export const registerAttention = defineLabOp({
  kernels: forwardAndGradient({ forward: ATTENTION, backward: ATTENTION_GRAD }, { host: attentionHost, webgpu: attentionWebGPU, wasm: attentionWasm }),
  gradient: {
    kernelName: ATTENTION,
    inputsToSave: ['q', 'k', 'v'],
    outputsToSave: [true],
    gradFunc: (dy, [q, k, v, y], attrs) => {
      const [dq, dk, dv] = tf.engine().runKernel(ATTENTION_GRAD, { dy: dy as tf.Tensor, q, k, v, y }, attrs) as tf.Tensor[];
      return { q: () => dq, k: () => dk, v: () => dv };
    },
  },
});

/** q, k, v (B, NH, T, HS) -> softmax(q k^T * scale, causal) v, (B, NH, T, HS). */
export function causalAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, scale: number): tf.Tensor4D {
  registerAttention();
  const op = 'causalAttention';
  for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) {
    expectRank(op, name, t, 4, '(B, NH, T, HS)');
    expectDtype(op, name, t, 'float32', `cast it with ${name}.toFloat()`);
  }
  const same = (a: tf.Tensor) => a.shape.every((d, i) => d === q.shape[i]);
  if (!same(k) || !same(v))
    throw new Error(
      `${op}: q, k and v must have the same shape (B, NH, T, HS), got q [${q.shape.join(', ')}], ` +
        `k [${k.shape.join(', ')}], v [${v.shape.join(', ')}].`,
    );
  if (!Number.isFinite(scale)) throw new Error(`${op}: scale must be a finite number (usually 1/sqrt(HS)), got ${scale}.`);
  return tf.engine().runKernel(ATTENTION, { q, k, v }, { scale }) as tf.Tensor4D;
}
