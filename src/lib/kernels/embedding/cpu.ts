// CPU twins of LabEmbedding / LabEmbeddingGrad for 'cpu' and 'wasm' (they run reference.ts). This is also
// what gives the wasm backend an embedding gradient: it has no UnsortedSegmentSum kernel for tf.gather's.
import { type HostKernel } from '../common';
import { embeddingBackward, embeddingForward } from './reference';

export const embeddingHost: { forward: HostKernel; backward: HostKernel } = {
  forward: {
    outputs: ({ table, ids }) => [{ shape: [ids.shape[0], table.shape[1]], dtype: 'float32' }],
    compute: ({ table, ids }, [out]) => {
      const [V, C] = table.shape;
      embeddingForward(out as Float32Array, table.values, ids.values, ids.shape[0], V, C);
    },
  },
  backward: {
    outputs: ({ dy }, { vocabSize }) => [{ shape: [vocabSize as number, dy.shape[1]], dtype: 'float32' }],
    compute: ({ dy, ids }, [out], { vocabSize }) => {
      embeddingBackward(out as Float32Array, dy.values, ids.values, ids.shape[0], vocabSize as number, dy.shape[1]);
    },
  },
};
