// LabGelu / LabGeluGrad on the 'wasm' backend: the SIMD kernels of ../wasm-simd in tfjs-wasm's heap (null: the twin runs).
import type { LabKernel } from '../common';
import { size } from '../common';
import { runInHeap } from '../wasm-simd';

export const geluWasm: { forward: LabKernel['wasm']; backward: LabKernel['wasm'] } = {
  forward: ({ x }, be) => runInHeap(be, [x], [x.shape], 0, (k, [xp, yp]) => k.gelu(xp, yp, size(x.shape)))?.[0] ?? null,
  backward: ({ dy, x }, be) =>
    runInHeap(be, [dy, x], [x.shape], 0, (k, [dyp, xp, dxp]) => k.geluGrad(dyp, xp, dxp, size(x.shape)))?.[0] ?? null,
};
