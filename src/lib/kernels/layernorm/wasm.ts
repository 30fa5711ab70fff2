// LabLayerNorm / LabLayerNormGrad on the 'wasm' backend: the SIMD kernels of ../wasm-simd in tfjs-wasm's heap
// (null: the twin runs).
import type { LabKernel } from '../common';
import { runInHeap } from '../wasm-simd';

export const layerNormWasm: { forward: LabKernel['wasm']; backward: LabKernel['wasm'] } = {
  forward: ({ x, gamma, beta }, be, { eps }) => {
    const [N, C] = x.shape;
    return runInHeap(be, [x, gamma, beta], [x.shape], 0, (k, [xp, gp, bp, yp]) => k.layerNorm(xp, gp, bp, yp, N, C, eps as number))?.[0] ?? null;
  },
  backward: ({ dy, x, gamma }, be, { eps }) => {
    const [N, C] = x.shape;
    return runInHeap(be, [dy, x, gamma], [x.shape, [C], [C]], 0, (k, [dyp, xp, gp, dxp, dgp, dbp]) =>
      k.layerNormGrad(dyp, xp, gp, dxp, dgp, dbp, N, C, eps as number),
    );
  },
};
