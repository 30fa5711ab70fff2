// CPU twins of LabGelu / LabGeluGrad for the 'cpu' and 'wasm' backends (they run reference.ts).
import { type HostKernel, size } from '../common';
import { geluBackward, geluForward } from './reference';

export const geluHost: { forward: HostKernel; backward: HostKernel } = {
  forward: {
    outputs: ({ x }) => [{ shape: x.shape, dtype: 'float32' }],
    compute: ({ x }, [out]) => geluForward(out as Float32Array, x.values, size(x.shape)),
  },
  backward: {
    outputs: ({ x }) => [{ shape: x.shape, dtype: 'float32' }],
    compute: ({ dy, x }, [dx]) => geluBackward(dx as Float32Array, x.values, dy.values, size(x.shape)),
  },
};
