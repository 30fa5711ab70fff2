// CPU twins of LabSoftmaxCrossEntropy / LabSoftmaxCrossEntropyGrad for 'cpu' and 'wasm' (they run reference.ts).
import { type HostKernel } from '../common';
import { crossEntropyBackward, crossEntropyForward } from './reference';

export const crossEntropyHost: { forward: HostKernel; backward: HostKernel } = {
  forward: {
    outputs: ({ logits }) => [{ shape: [logits.shape[0]], dtype: 'float32' }],
    compute: ({ logits, targets, weights }, [out]) => {
      const [N, V] = logits.shape;
      crossEntropyForward(out as Float32Array, logits.values, targets.values, weights.values, N, V);
    },
  },
  backward: {
    outputs: ({ logits }) => [{ shape: logits.shape, dtype: 'float32' }],
    compute: ({ dy, logits, targets, weights }, [out]) => {
      const [N, V] = logits.shape;
      crossEntropyBackward(out as Float32Array, dy.values, logits.values, targets.values, weights.values, N, V);
    },
  },
};
