// LabCausalAttention / LabCausalAttentionGrad on the 'wasm' backend: the SIMD kernels of ../wasm-simd in
// tfjs-wasm's heap, with one row of probabilities (T floats) as scratch (null: the twin runs).
import type { LabKernel } from '../common';
import { runInHeap } from '../wasm-simd';

export const attentionWasm: { forward: LabKernel['wasm']; backward: LabKernel['wasm'] } = {
  forward: ({ q, k, v }, be, { scale }) => {
    const [B, NH, T, HS] = q.shape;
    return runInHeap(be, [q, k, v], [q.shape], T * 4, (m, [qp, kp, vp, yp], s) =>
      m.attention(qp, kp, vp, yp, B * NH, T, HS, scale as number, s),
    )?.[0] ?? null;
  },
  backward: ({ dy, q, k, v, y }, be, { scale }) => {
    const [B, NH, T, HS] = q.shape;
    return runInHeap(be, [dy, q, k, v, y], [q.shape, q.shape, q.shape], T * 4, (m, [dyp, qp, kp, vp, yp, dqp, dkp, dvp], s) =>
      m.attentionGrad(dyp, qp, kp, vp, yp, dqp, dkp, dvp, B * NH, T, HS, scale as number, s),
    );
  },
};
