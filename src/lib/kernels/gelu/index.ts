// gelu(x): GPT-2's tanh-approximated GELU as one registered kernel (WGSL on webgpu, reference.ts on cpu/wasm),
// with its gradient as a second registered kernel.
import * as tf from '@tensorflow/tfjs';
import { defineLabOp, forwardAndGradient, expectDtype } from '../common';
import { geluHost } from './cpu';
import { geluWasm } from './wasm';
import { geluWebGPU } from './webgpu';

export const GELU = 'LabGelu';
export const GELU_GRAD = 'LabGeluGrad';

export const registerGelu = defineLabOp({
  kernels: forwardAndGradient({ forward: GELU, backward: GELU_GRAD }, { host: geluHost, webgpu: geluWebGPU, wasm: geluWasm }),
  gradient: {
    kernelName: GELU,
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({ x: () => tf.engine().runKernel(GELU_GRAD, { dy: dy as tf.Tensor, x }) as tf.Tensor }),
  },
});

/** 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), elementwise; any shape, float32. */
export function gelu(x: tf.Tensor): tf.Tensor {
  registerGelu();
  expectDtype('gelu', 'x', x, 'float32', 'cast it with x.toFloat()');
  return tf.engine().runKernel(GELU, { x }) as tf.Tensor;
}
