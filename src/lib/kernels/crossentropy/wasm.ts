// LabSoftmaxCrossEntropy / LabSoftmaxCrossEntropyGrad on the 'wasm' backend: the SIMD kernels of ../wasm-simd
// in tfjs-wasm's heap. A weighted row whose target is outside [0, V) goes to the twin, which says which (null).
import * as tf from '@tensorflow/tfjs';
import type { LabKernel } from '../common';
import { runInHeap } from '../wasm-simd';

type Heap = { typedArrayFromHeap(t: tf.TensorInfo): ArrayLike<number> };

function targetsOk(be: unknown, targets: tf.TensorInfo, weights: tf.TensorInfo, V: number): boolean {
  const t = (be as Heap).typedArrayFromHeap(targets), w = (be as Heap).typedArrayFromHeap(weights);
  for (let n = 0; n < t.length; n++) if (w[n] !== 0 && !(t[n] >= 0 && t[n] < V)) return false;
  return true;
}

export const crossEntropyWasm: { forward: LabKernel['wasm']; backward: LabKernel['wasm'] } = {
  forward: ({ logits, targets, weights }, be) => {
    const [N, V] = logits.shape;
    if (!targetsOk(be, targets, weights, V)) return null;
    return runInHeap(be, [logits, targets, weights], [[N]], 0, (k, [lp, tp, wp, op]) => k.crossEntropy(lp, tp, wp, op, N, V))?.[0] ?? null;
  },
  backward: ({ dy, logits, targets, weights }, be) => {
    const [N, V] = logits.shape;
    if (!targetsOk(be, targets, weights, V)) return null;
    return runInHeap(be, [dy, logits, targets, weights], [logits.shape], 0, (k, [dp, lp, tp, wp, op]) =>
      k.crossEntropyGrad(dp, lp, tp, wp, op, N, V),
    )?.[0] ?? null;
  },
};
