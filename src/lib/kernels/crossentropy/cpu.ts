// CPU twins of LabSoftmaxCrossEntropy / LabSoftmaxCrossEntropyGrad for 'cpu' and 'wasm' (they run reference.ts).
import { registerHostKernel } from '../common';
import { crossEntropyBackward, crossEntropyForward } from './reference';

export function registerCrossEntropyHost(fwd: string, bwd: string): void {
  registerHostKernel(fwd, {
    outputs: ({ logits }) => [{ shape: [logits.shape[0]], dtype: 'float32' }],
    compute: ({ logits, targets, weights }, [out]) => {
      const [N, V] = logits.shape;
      crossEntropyForward(out as Float32Array, logits.values, targets.values, weights.values, N, V);
    },
  });
  registerHostKernel(bwd, {
    outputs: ({ logits }) => [{ shape: logits.shape, dtype: 'float32' }],
    compute: ({ dy, logits, targets, weights }, [out]) => {
      const [N, V] = logits.shape;
      crossEntropyBackward(out as Float32Array, dy.values, logits.values, targets.values, weights.values, N, V);
    },
  });
}
