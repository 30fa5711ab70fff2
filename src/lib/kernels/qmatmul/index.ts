// Quantized matmul on raw GGUF bytes: y = x W^T with W [N, K] in F16/Q8_0/Q4_0/Q4_K/Q6_K blocks,
// its gradient to x, and a row gather (embeddings). Registered tfjs kernels: WGSL on 'webgpu',
// a CPU twin (dequantize one row at a time in JS) on 'wasm' and 'cpu'. W never gets a gradient (frozen base).
// On 'wasm' the forward of Q8_0/Q4_0/Q4_K/Q6_K runs the wasm SIMD kernel (asm/qdot.ts) in tfjs-wasm's heap,
// with x quantized to int8 as llama.cpp does (int8.ts is its JS twin); setQMatMulActivations('float') there
// gives the float path of the other backends instead.
// Files: reference.ts (float JS reference), cpu.ts (twins), webgpu.ts (WGSL), and the extra wasm-simd/ (the
// AssemblyScript SIMD kernel, its int8 JS twin, its loader and helper threads).
//   registerQMatMulKernels()       register once (the lab's kernels/registry.ts lists it)
//   makeQWeight(format, N, K, b)   wrap raw block bytes as an int32 tensor
//   qMatMul(x, w) / qGather(ids, w) the ops
import * as tf from '@tensorflow/tfjs';
import { blockInfo } from '../../gguf/types';
import { defineLabOp } from '../common';
import { isQFormat, Q_FORMATS, rowBytes, type QAttrs, type QFormat } from './reference';
import { qGatherHost, qMatMulDxHost, qMatMulHost, qMatMulWasm } from './cpu';
import { qGatherWebGPU, qMatMulDxWebGPU, qMatMulWebGPU } from './webgpu';

export { Q_FORMATS, isQFormat, rowBytes, type QFormat };
export { qMatMulRef, qMatMulDxRef, qGatherRef } from './reference';
export { setQMatMulActivations, getQMatMulActivations, setQMatMulThreads, type QActivations } from './wasm-simd';

export const QMATMUL = 'LabQMatMul';
export const QMATMUL_DX = 'LabQMatMulDx';
export const QGATHER = 'LabQGather';

export const registerQMatMulKernels = defineLabOp({
  kernels: {
    [QMATMUL]: { host: qMatMulHost, webgpu: qMatMulWebGPU, wasm: qMatMulWasm },
    [QMATMUL_DX]: { host: qMatMulDxHost, webgpu: qMatMulDxWebGPU },
    [QGATHER]: { host: qGatherHost, webgpu: qGatherWebGPU },
  },
  // For direct runKernel callers only: qMatMul() brings its own gradient that saves nothing (see there).
  gradient: {
    kernelName: QMATMUL,
    inputsToSave: ['w'],
    gradFunc: (dy, saved, attrs) => ({
      x: () => tf.engine().runKernel(QMATMUL_DX, { dy: dy as tf.Tensor, w: saved[0] }, attrs) as tf.Tensor,
    }),
  },
});

export interface QWeight {
  format: QFormat;
  /** Rows (output features). */
  N: number;
  /** Columns (input features); a multiple of the block size. */
  K: number;
  /** The raw GGUF bytes of the [N, K] weight, padded to whole int32 words. */
  data: tf.Tensor1D;
}

/** Wrap raw block bytes (row-major [N, K]) as an int32 tensor without changing the bits. */
export function makeQWeight(format: QFormat, N: number, K: number, bytes: Uint8Array): QWeight {
  if (!isQFormat(format)) throw new Error(`makeQWeight: format ${String(format)} is not one of ${Q_FORMATS.join(', ')}.`);
  const { blockSize } = blockInfo(format);
  if (K % blockSize !== 0) throw new Error(`makeQWeight: K=${K} is not a multiple of the ${format} block size ${blockSize}.`);
  const need = N * rowBytes(format, K);
  if (bytes.byteLength !== need) throw new Error(`makeQWeight: a ${format} [${N}, ${K}] weight has ${need} bytes, got ${bytes.byteLength}.`);
  const words = new Int32Array(Math.ceil(need / 4));
  new Uint8Array(words.buffer).set(bytes);
  return { format, N, K, data: tf.tensor1d(words, 'int32') }; // (ceil(bytes/4),) int32
}

export function qMatMul(x: tf.Tensor2D, w: QWeight): tf.Tensor2D {
  if (x.shape[1] !== w.K) throw new Error(`qMatMul: x has ${x.shape[1]} columns but the weight expects K=${w.K}.`);
  const attrs = { format: w.format, N: w.N, K: w.K } as unknown as tf.NamedAttrMap;
  // The gradient closes over the weight rather than saving it: tfjs clones every saved input for the backward
  // pass, and on wasm a clone is a copy, so each training pass duplicated every base weight it went through.
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.engine().runKernel(QMATMUL, { x: args[0] as tf.Tensor, w: w.data }, attrs) as tf.Tensor2D, // (M, N)
    gradFunc: (dy: tf.Tensor) => tf.engine().runKernel(QMATMUL_DX, { dy, w: w.data }, attrs) as tf.Tensor, // (M, K)
  }));
  return op(x) as tf.Tensor2D;
}

export function qGather(ids: tf.Tensor1D, w: QWeight): tf.Tensor2D {
  const attrs: QAttrs = { format: w.format, N: w.N, K: w.K };
  return tf.engine().runKernel(QGATHER, { ids, w: w.data }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor2D; // (R, K)
}

