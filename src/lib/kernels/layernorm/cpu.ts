// CPU twins of LabLayerNorm / LabLayerNormGrad for the 'cpu' and 'wasm' backends (they run reference.ts).
import { type HostKernel } from '../common';
import { layernormBackward, layernormForward } from './reference';

export const layerNormHost: { forward: HostKernel; backward: HostKernel } = {
  forward: {
    outputs: ({ x }) => [{ shape: x.shape, dtype: 'float32' }],
    compute: ({ x, gamma, beta }, [out], { eps }) => {
      const [N, C] = x.shape;
      layernormForward(out as Float32Array, x.values, gamma.values, beta.values, N, C, eps as number);
    },
  },
  backward: {
    outputs: ({ x }) => [
      { shape: x.shape, dtype: 'float32' },
      { shape: [x.shape[1]], dtype: 'float32' },
      { shape: [x.shape[1]], dtype: 'float32' },
    ],
    compute: ({ dy, x, gamma }, [dx, dg, db], { eps }) => {
      const [N, C] = x.shape;
      layernormBackward(dx as Float32Array, dg as Float32Array, db as Float32Array, dy.values, x.values, gamma.values, N, C, eps as number);
    },
  },
};
