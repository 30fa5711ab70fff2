// layerNorm(x, gamma, beta, eps): LayerNorm over the last axis as one registered kernel, with a registered
// gradient kernel giving dx, dgamma and dbeta in one call (row statistics are recomputed, not saved).
import * as tf from '@tensorflow/tfjs';
import { defineLabOp, forwardAndGradient, expectDtype } from '../common';
import { layerNormHost } from './cpu';
import { layerNormWasm } from './wasm';
import { layerNormWebGPU } from './webgpu';

export const LAYER_NORM = 'LabLayerNorm';
export const LAYER_NORM_GRAD = 'LabLayerNormGrad';

export const registerLayerNorm = defineLabOp({
  kernels: forwardAndGradient({ forward: LAYER_NORM, backward: LAYER_NORM_GRAD }, { host: layerNormHost, webgpu: layerNormWebGPU, wasm: layerNormWasm }),
  gradient: {
    kernelName: LAYER_NORM,
    inputsToSave: ['x', 'gamma'],
    gradFunc: (dy, [x, gamma], attrs) => {
      // One kernel gives all three; the thunks hand them out (unused ones are freed by the backward tidy).
      const [dx, dgamma, dbeta] = tf.engine().runKernel(LAYER_NORM_GRAD, { dy: dy as tf.Tensor, x, gamma }, attrs) as tf.Tensor[];
      return { x: () => dx, gamma: () => dgamma, beta: () => dbeta };
    },
  },
});

/** (x - mean) / sqrt(var + eps) * gamma + beta over the last axis of x (..., C); gamma, beta (C). */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-5): tf.Tensor {
  registerLayerNorm();
  const op = 'layerNorm';
  if (x.rank < 1) throw new Error(`${op}: x must have at least one axis (..., C), got a scalar.`);
  const C = x.shape[x.rank - 1];
  for (const [name, t] of [['x', x], ['gamma', gamma], ['beta', beta]] as const)
    expectDtype(op, name, t, 'float32', `cast it with ${name}.toFloat()`);
  if (gamma.rank !== 1 || gamma.shape[0] !== C || beta.rank !== 1 || beta.shape[0] !== C)
    throw new Error(
      `${op}: gamma and beta must have shape [${C}] (the last axis of x [${x.shape.join(', ')}]), ` +
        `got gamma [${gamma.shape.join(', ')}] and beta [${beta.shape.join(', ')}].`,
    );
  if (!(eps > 0 && Number.isFinite(eps))) throw new Error(`${op}: eps must be a small positive number like 1e-5, got ${eps}.`);
  return tf.tidy(() => {
    const x2 = x.reshape([-1, C]); // (N, C)
    const y = tf.engine().runKernel(LAYER_NORM, { x: x2, gamma, beta }, { eps }) as tf.Tensor; // (N, C)
    return y.reshape(x.shape);
  });
}
