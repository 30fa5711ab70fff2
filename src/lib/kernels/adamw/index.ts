// One fused clip + AdamW step over every parameter: a single kernel per optimizer step instead of ~20 stock ops
// per parameter (481 kernels in a tiny step). CPU twin (reference.ts) on wasm and cpu; on webgpu the op-by-op
// tfjs path in train/adamw.ts runs instead (a WGSL version is not written yet).
import * as tf from '@tensorflow/tfjs';
import { defineLabOp, size } from '../common';
import type { AdamWHyper } from './reference';
import { adamWHost } from './cpu';

export const ADAMW = 'LabClipAdamW';

/** Backends with the fused kernel. */
export function hasFusedAdamW(): boolean {
  const b = tf.getBackend();
  return b === 'wasm' || b === 'cpu';
}

export const registerAdamW = defineLabOp({
  kernels: { [ADAMW]: { host: adamWHost } },
});

export interface AdamWSlotTensors {
  p: tf.Tensor;
  g: tf.Tensor;
  m: tf.Tensor;
  v: tf.Tensor;
  decay: boolean;
}

/** New p, m, v per slot and the gradient norm before clipping, from one kernel. */
export function clipAdamWStep(slots: AdamWSlotTensors[], h: AdamWHyper): { p: tf.Tensor[]; m: tf.Tensor[]; v: tf.Tensor[]; norm: tf.Scalar } {
  registerAdamW();
  const inputs: tf.NamedTensorMap = {};
  slots.forEach((s, j) => {
    for (const k of ['p', 'g', 'm', 'v'] as const) {
      if (s[k].dtype !== 'float32') throw new Error(`clipAdamWStep: ${k}${j} is ${s[k].dtype}; every parameter, gradient and moment must be float32.`);
      if (size(s[k].shape) !== size(s.p.shape)) throw new Error(`clipAdamWStep: ${k}${j} has shape [${s[k].shape}] but its parameter is [${s.p.shape}].`);
      inputs[`${k}${j}`] = s[k];
    }
  });
  const attrs = { ...h, maxNorm: Number.isFinite(h.maxNorm) ? h.maxNorm : 3.4e38, decay: slots.map((s) => (s.decay ? 1 : 0)) };
  const outs = tf.engine().runKernel(ADAMW, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  const n = slots.length;
  return {
    p: slots.map((_, j) => outs[3 * j]),
    m: slots.map((_, j) => outs[3 * j + 1]),
    v: slots.map((_, j) => outs[3 * j + 2]),
    norm: outs[3 * n] as tf.Scalar,
  };
}
