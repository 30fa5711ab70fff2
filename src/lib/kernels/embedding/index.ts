// embedding(table, ids): row lookup as one registered kernel, with a registered scatter-add gradient kernel
// for the table. On wasm this replaces tf.gather, whose gradient needs UnsortedSegmentSum (missing there).
import * as tf from '@tensorflow/tfjs';
import { defineLabOp, forwardAndGradient, expectDtype, expectRank } from '../common';
import { embeddingHost } from './cpu';
import { embeddingGradWasm } from './wasm';
import { embeddingWebGPU } from './webgpu';

export const EMBEDDING = 'LabEmbedding';
export const EMBEDDING_GRAD = 'LabEmbeddingGrad';

export const registerEmbedding = defineLabOp({
  kernels: forwardAndGradient(
    { forward: EMBEDDING, backward: EMBEDDING_GRAD },
    { host: embeddingHost, webgpu: embeddingWebGPU, wasm: { backward: embeddingGradWasm } }, // the forward is a row copy: the twin
  ),
  gradient: {
    kernelName: EMBEDDING,
    inputsToSave: ['table', 'ids'],
    gradFunc: (dy, [table, ids]) => ({
      table: () =>
        tf.engine().runKernel(EMBEDDING_GRAD, { dy: dy as tf.Tensor, ids }, { vocabSize: table.shape[0] }) as tf.Tensor,
      ids: () => tf.zeros(ids.shape), // integer ids: no gradient (tfjs wants float32 zeros)
    }),
  },
});

/** table (V, C) float32, ids int32 of any shape -> (...ids.shape, C). */
export function embedding(table: tf.Tensor2D, ids: tf.Tensor): tf.Tensor {
  registerEmbedding();
  const op = 'embedding';
  expectRank(op, 'table', table, 2, '(V, C)');
  expectDtype(op, 'table', table, 'float32', 'cast it with table.toFloat()');
  expectDtype(op, 'ids', ids, 'int32', 'token ids must be integers: make them with dtype "int32" or ids.toInt()');
  const C = table.shape[1];
  return tf.tidy(() => {
    const flat = ids.reshape([-1]); // (N)
    const out = tf.engine().runKernel(EMBEDDING, { table, ids: flat }) as tf.Tensor; // (N, C)
    return out.reshape([...ids.shape, C]);
  });
}
