// LabEmbeddingGrad on the 'wasm' backend: the SIMD scatter-add of ../wasm-simd in tfjs-wasm's heap (null: the twin
// runs). The forward is a row copy and stays on the twin.
import type { LabKernel } from '../common';
import { runInHeap } from '../wasm-simd';

export const embeddingGradWasm: LabKernel['wasm'] = ({ dy, ids }, be, { vocabSize }) => {
  const V = vocabSize as number, [N, C] = dy.shape;
  return runInHeap(be, [dy, ids], [[V, C]], 0, (k, [dp, ip, op]) => k.embeddingGrad(dp, ip, op, N, V, C))?.[0] ?? null;
};
