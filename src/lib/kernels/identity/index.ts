// Identity on wasm without a copy. tfjs clones every tensor a gradient saves through the Identity kernel,
// and tfjs-wasm's Identity copies the data (111 copies in a tiny training step, 271 in classroom). Tensors are
// immutable in tfjs (a variable's assign swaps its data id, no kernel writes its inputs), so the clone can share
// the data and count one more reference, as tfjs-wasm's Reshape and tfjs-webgpu's Identity already do.
import * as tf from '@tensorflow/tfjs';

interface RefCountingBackend {
  incRef(dataId: object): void;
}

let registered = false;
export function registerSharedIdentity(): void {
  if (registered) return;
  registered = true;
  if (tf.getKernel('Identity', 'wasm')) tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({
    kernelName: 'Identity',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const x = inputs.x as tf.TensorInfo;
      if (x.dtype === 'string') throw new Error('Identity on wasm: string tensors are not used by the lab.');
      (backend as unknown as RefCountingBackend).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
}
