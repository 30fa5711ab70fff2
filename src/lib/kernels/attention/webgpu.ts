// WGSL causal attention, flash-style: one workgroup (32 or 64 threads) per query row (b, h, t), keys in tiles of
// TILE positions with an online softmax, so T is not limited by workgroup memory and the (T, T) matrix is
// never stored. Each thread owns head dims d = lid, lid + WG, ... (DPT of them) of the output row.
// Backward recomputes the probabilities (nothing but the output y is saved), in four dispatches:
//   stats [rows, 2]  lse[t] = log sum_s exp(S[t, s]) and D[t] = dy[t] . y[t]
//   dq    one workgroup per query row t: dS[t, s] = P (dy[t] . v[s] - D[t]); dq[t] = scale sum_s dS k[s]
//   dk    one workgroup per key row s, over t >= s: dk[s] = scale sum_t dS[t, s] q[t]
//   dv    one workgroup per key row s, over t >= s: dv[s] = sum_t P[t, s] dy[t]
// Every row kernel is deterministic (no atomics). Rows = B * NH * T may exceed 65535 (flat dispatch).
import { LabProgram, rowDispatch, type WebGPURun } from '../common';
import {
  ATTN_ROWS, ATTN_TILE_SCORES_WGSL, attentionPreludeWGSL, attentionRowWGSL, attentionTileAccumulateWGSL, attentionWriteRowWGSL, rowMainWGSL,
} from '../wgsl';

/** 32 threads per row when both the row (T) and the head (HS) fit in 32, else 64: idle lanes are wasted. */
const wgFor = (shape: number[]) => (shape[2] <= 32 && shape[3] <= 32 ? 32 : 64);
/** Head dims per thread. */
const dptFor = (shape: number[]) => Math.max(1, Math.ceil(shape[3] / wgFor(shape)));

/** A query-row program's WGSL: the shared row main() with the tile buffer and the given dot products. */
function rowProgram(shape: number[], dpt: number, dots: Array<[string, string]>, body: string): string {
  return rowMainWGSL(wgFor(shape), ATTN_ROWS, body, attentionPreludeWGSL(dpt, dots));
}

class AttentionProgram extends LabProgram {
  variableNames = ['q', 'k', 'v'];
  uniforms = 'scale : f32,';
  constructor(shape: number[]) {
    const [B, NH, T] = shape;
    super(shape, rowDispatch(4, B * NH * T, wgFor(shape)), `lab_attn_fwd_${wgFor(shape)}_${dptFor(shape)}`);
  }
  getUserCode(): string {
    return rowProgram(this.outputShape, dptFor(this.outputShape), [['q', 'k']], `${attentionRowWGSL('t')}
        var m = -3.0e38; // running max (finite, so exp(m - mNew) is 0 on the first tile)
        var l = 0.0; // running sum of exp(S - m)
        var acc : array<f32, DPT>;
        for (var start = 0; start <= t; start = start + TILE) {
          let end = min(start + TILE, t + 1);${ATTN_TILE_SCORES_WGSL}
          var ls = 0.0;
          for (var s = start + lid; s < end; s = s + WG) {
            let p = exp(sc[s - start] - mNew);
            sc[s - start] = p;
            ls = ls + p;
          }
          let corr = exp(m - mNew);
          l = l * corr + wgSum(ls); // the reduction's barriers also publish sc${attentionTileAccumulateWGSL('v', 's', 'acc[j] * corr')}
          m = mNew;
          workgroupBarrier(); // sc is rewritten by the next tile
        }${attentionWriteRowWGSL('acc[j] / l')}`);
  }
}

class AttentionStatsProgram extends LabProgram {
  variableNames = ['q', 'k', 'dy', 'y'];
  uniforms = 'scale : f32,';
  constructor(shape: number[]) {
    const [B, NH, T] = shape;
    super([B * NH * T, 2], rowDispatch(2, B * NH * T, wgFor(shape)), `lab_attn_stats_${wgFor(shape)}`);
    this.qShape = shape;
  }
  qShape: number[];
  getUserCode(): string {
    return rowProgram(this.qShape, 1, [['q', 'k'], ['dy', 'y']], `${attentionRowWGSL('t')}
        var m = -3.0e38;
        var l = 0.0;
        for (var start = 0; start <= t; start = start + TILE) {
          let end = min(start + TILE, t + 1);${ATTN_TILE_SCORES_WGSL}
          var ls = 0.0;
          for (var s = start + lid; s < end; s = s + WG) { ls = ls + exp(sc[s - start] - mNew); }
          l = l * exp(m - mNew) + wgSum(ls);
          m = mNew;
        }
        var dd = 0.0;
        for (var d = lid; d < HS; d = d + WG) { dd = dd + dy[row * HS + d] * y[row * HS + d]; }
        let D = wgSum(dd);
        if (lid == 0) {
          result[row * 2] = m + log(l);
          result[row * 2 + 1] = D;
        }`);
  }
}

class AttentionDqProgram extends LabProgram {
  variableNames = ['q', 'k', 'v', 'dy', 'stats'];
  uniforms = 'scale : f32,';
  constructor(shape: number[]) {
    const [B, NH, T] = shape;
    super(shape, rowDispatch(4, B * NH * T, wgFor(shape)), `lab_attn_dq_${wgFor(shape)}_${dptFor(shape)}`);
  }
  getUserCode(): string {
    return rowProgram(this.outputShape, dptFor(this.outputShape), [['q', 'k'], ['dy', 'v']], `${attentionRowWGSL('t')}
        let lse = stats[row * 2];
        let D = stats[row * 2 + 1];
        var acc : array<f32, DPT>;
        for (var start = 0; start <= t; start = start + TILE) {
          let end = min(start + TILE, t + 1);
          for (var s = start + lid; s < end; s = s + WG) {
            let p = exp(dot_q_k(row * HS, (r0 + s) * HS, HS) * uniforms.scale - lse);
            sc[s - start] = p * (dot_dy_v(row * HS, (r0 + s) * HS, HS) - D);
          }
          workgroupBarrier();${attentionTileAccumulateWGSL('k', 's')}
          workgroupBarrier();
        }${attentionWriteRowWGSL('acc[j] * uniforms.scale')}`);
  }
}

/** dk (which = 'k') or dv (which = 'v') for one key row s, summing over the query rows t >= s. */
class AttentionDkvProgram extends LabProgram {
  variableNames: string[];
  uniforms = 'scale : f32,';
  which: 'k' | 'v';
  constructor(shape: number[], which: 'k' | 'v') {
    const [B, NH, T] = shape;
    super(shape, rowDispatch(4, B * NH * T, wgFor(shape)), `lab_attn_d${which}_${wgFor(shape)}_${dptFor(shape)}`);
    this.which = which;
    // dv needs no v; an input the WGSL never reads would break tfjs' auto bind-group layout.
    this.variableNames = which === 'k' ? ['q', 'k', 'v', 'dy', 'stats'] : ['q', 'k', 'dy', 'stats'];
  }
  getUserCode(): string {
    const isK = this.which === 'k';
    const dots: Array<[string, string]> = isK ? [['q', 'k'], ['dy', 'v']] : [['q', 'k']];
    return rowProgram(this.outputShape, dptFor(this.outputShape), dots, `${attentionRowWGSL('s')}
        var acc : array<f32, DPT>;
        for (var start = s; start < T; start = start + TILE) {
          let end = min(start + TILE, T);
          for (var t = start + lid; t < end; t = t + WG) {
            let tr = r0 + t;
            let p = exp(dot_q_k(tr * HS, row * HS, HS) * uniforms.scale - stats[tr * 2]);
            ${isK ? 'sc[t - start] = p * (dot_dy_v(tr * HS, row * HS, HS) - stats[tr * 2 + 1]);' : 'sc[t - start] = p;'}
          }
          workgroupBarrier();${attentionTileAccumulateWGSL(isK ? 'q' : 'dy', 't')}
          workgroupBarrier();
        }${attentionWriteRowWGSL(isK ? 'acc[j] * uniforms.scale' : 'acc[j]')}`);
  }
}

export const attentionWebGPU: { forward: WebGPURun; backward: WebGPURun } = {
  forward: ({ q, k, v }, be, { scale }) =>
    be.runWebGPUProgram(new AttentionProgram(q.shape), [q, k, v], 'float32', [{ type: 'float32', data: [scale as number] }]),
  backward: ({ dy, q, k, v, y }, be, { scale }) => {
    const u = [{ type: 'float32' as const, data: [scale as number] }];
    const stats = be.runWebGPUProgram(new AttentionStatsProgram(q.shape), [q, k, dy, y], 'float32', u);
    const dq = be.runWebGPUProgram(new AttentionDqProgram(q.shape), [q, k, v, dy, stats], 'float32', u);
    const dk = be.runWebGPUProgram(new AttentionDkvProgram(q.shape, 'k'), [q, k, v, dy, stats], 'float32', u);
    const dv = be.runWebGPUProgram(new AttentionDkvProgram(q.shape, 'v'), [q, k, dy, stats], 'float32', u);
    be.disposeData(stats.dataId);
    return [dq, dk, dv];
  },
};
