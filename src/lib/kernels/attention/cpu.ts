// CPU twins of LabCausalAttention / LabCausalAttentionGrad for 'cpu' and 'wasm' (they run reference.ts;
// the saved forward output `y` is an input of the gradient kernel but only the WGSL path uses it).
import { type HostKernel } from '../common';
import { attentionBackward, attentionForward } from './reference';

export const attentionHost: { forward: HostKernel; backward: HostKernel } = {
  forward: {
    outputs: ({ q }) => [{ shape: q.shape, dtype: 'float32' }],
    compute: ({ q, k, v }, [out], { scale }) => {
      const [B, NH, T, HS] = q.shape;
      attentionForward(out as Float32Array, q.values, k.values, v.values, B, NH, T, HS, scale as number);
    },
  },
  backward: {
    outputs: ({ q }) => [0, 1, 2].map(() => ({ shape: q.shape, dtype: 'float32' as const })),
    compute: ({ dy, q, k, v }, [dq, dk, dv], { scale }) => {
      const [B, NH, T, HS] = q.shape;
      attentionBackward(
        dq as Float32Array, dk as Float32Array, dv as Float32Array, dy.values, q.values, k.values, v.values, B, NH, T, HS, scale as number,
      );
    },
  },
};
