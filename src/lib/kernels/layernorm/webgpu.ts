// WGSL LayerNorm. Forward: one workgroup per row; two-pass mean and variance with workgroup reductions.
// Backward (5 dispatches, no atomics, deterministic):
//   stats   [N, 2]   mean and rstd per row (one workgroup per row)
//   dx      [N, C]   one workgroup per row: rstd * (dnorm - mean(dnorm) - xhat * mean(dnorm * xhat))
//   partial [P, 2C]  one thread per (part, column) sums dy*xhat (first C columns) and dy (last C) over
//                    ROWS_PER_PART rows, so a long N still spreads over many threads
//   dgamma, dbeta [C] one thread per column sums the P partials.
import { flatDispatch, LabProgram, rowDispatch, rowWorkgroupSize, type WebGPURun } from '../common';
import { ROW_MEAN_RSTD_WGSL, rowMainWGSL } from '../wgsl';

const ROWS_PER_PART = 64;

class LayerNormProgram extends LabProgram {
  variableNames = ['x', 'gamma', 'beta'];
  uniforms = 'eps : f32,';
  constructor(N: number, C: number) {
    const wg = rowWorkgroupSize(C);
    super([N, C], rowDispatch(2, N, wg), `lab_layernorm_${wg}`);
  }
  getUserCode(): string {
    return rowMainWGSL(this.workgroupSize[0], 'uniforms.xShape[0]', `
        let C = uniforms.xShape[1];
        let base = row * C;
        let ms = rowMeanRstd(base, C, uniforms.eps);
        let mean = ms.x;
        let rstd = ms.y;
        for (var c = lid; c < C; c = c + WG) {
          result[base + c] = (x[base + c] - mean) * rstd * gamma[c] + beta[c];
        }`, ROW_MEAN_RSTD_WGSL);
  }
}

class LayerNormStatsProgram extends LabProgram {
  variableNames = ['x'];
  uniforms = 'eps : f32,';
  constructor(N: number, C: number) {
    const wg = rowWorkgroupSize(C);
    super([N, 2], rowDispatch(2, N, wg), `lab_layernorm_stats_${wg}`);
  }
  getUserCode(): string {
    return rowMainWGSL(this.workgroupSize[0], 'uniforms.xShape[0]', `
        let ms = rowMeanRstd(row * uniforms.xShape[1], uniforms.xShape[1], uniforms.eps);
        if (lid == 0) { result[row * 2] = ms.x; result[row * 2 + 1] = ms.y; }`, ROW_MEAN_RSTD_WGSL);
  }
}

class LayerNormDxProgram extends LabProgram {
  variableNames = ['dy', 'x', 'gamma', 'stats'];
  constructor(N: number, C: number) {
    const wg = rowWorkgroupSize(C);
    super([N, C], rowDispatch(2, N, wg), `lab_layernorm_dx_${wg}`);
  }
  getUserCode(): string {
    return rowMainWGSL(this.workgroupSize[0], 'uniforms.xShape[0]', `
        let C = uniforms.xShape[1];
        let base = row * C;
        let mean = stats[row * 2];
        let rstd = stats[row * 2 + 1];
        var s1 = 0.0;
        var s2 = 0.0;
        for (var c = lid; c < C; c = c + WG) {
          let dn = dy[base + c] * gamma[c];
          s1 = s1 + dn;
          s2 = s2 + dn * (x[base + c] - mean) * rstd;
        }
        let m1 = wgSum(s1) / f32(C);
        let m2 = wgSum(s2) / f32(C);
        for (var c = lid; c < C; c = c + WG) {
          let xhat = (x[base + c] - mean) * rstd;
          result[base + c] = rstd * (dy[base + c] * gamma[c] - m1 - xhat * m2);
        }`);
  }
}

class LayerNormParamPartialsProgram extends LabProgram {
  variableNames = ['dy', 'x', 'stats'];
  uniforms = 'rowsPerPart : i32,';
  size = true;
  constructor(P: number, C: number) {
    super([P, 2 * C], flatDispatch([P, 2 * C], 64), 'lab_layernorm_partials');
  }
  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index >= uniforms.size) { return; }
        let N = uniforms.xShape[0];
        let C = uniforms.xShape[1];
        let p = index / (2 * C);
        let j = index - p * 2 * C;
        let isGamma = j < C;
        let c = select(j - C, j, isGamma);
        let end = min(N, (p + 1) * uniforms.rowsPerPart);
        var acc = 0.0;
        for (var n = p * uniforms.rowsPerPart; n < end; n = n + 1) {
          let g = dy[n * C + c];
          if (isGamma) { acc = acc + g * (x[n * C + c] - stats[n * 2]) * stats[n * 2 + 1]; } else { acc = acc + g; }
        }
        result[index] = acc;
      }`;
  }
}

/** out[c] = sum over p of parts[p, offset + c] */
class ColumnSumProgram extends LabProgram {
  variableNames = ['parts'];
  uniforms = 'offset : i32,';
  size = true;
  constructor(C: number) {
    super([C], flatDispatch([C], 64), 'lab_column_sum');
  }
  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index >= uniforms.size) { return; }
        let P = uniforms.partsShape[0];
        let W = uniforms.partsShape[1];
        var acc = 0.0;
        for (var p = 0; p < P; p = p + 1) { acc = acc + parts[p * W + uniforms.offset + index]; }
        result[index] = acc;
      }`;
  }
}

export const layerNormWebGPU: { forward: WebGPURun; backward: WebGPURun } = {
  forward: ({ x, gamma, beta }, be, { eps }) => {
    const [N, C] = x.shape;
    return be.runWebGPUProgram(new LayerNormProgram(N, C), [x, gamma, beta], 'float32', [{ type: 'float32', data: [eps as number] }]);
  },
  backward: ({ dy, x, gamma }, be, { eps }) => {
    const [N, C] = x.shape;
    const stats = be.runWebGPUProgram(new LayerNormStatsProgram(N, C), [x], 'float32', [{ type: 'float32', data: [eps as number] }]);
    const dx = be.runWebGPUProgram(new LayerNormDxProgram(N, C), [dy, x, gamma, stats], 'float32');
    const P = Math.max(1, Math.ceil(N / ROWS_PER_PART));
    const parts = be.runWebGPUProgram(new LayerNormParamPartialsProgram(P, C), [dy, x, stats], 'float32', [
      { type: 'int32', data: [ROWS_PER_PART] },
    ]);
    const dgamma = be.runWebGPUProgram(new ColumnSumProgram(C), [parts], 'float32', [{ type: 'int32', data: [0] }]);
    const dbeta = be.runWebGPUProgram(new ColumnSumProgram(C), [parts], 'float32', [{ type: 'int32', data: [C] }]);
    be.disposeData(stats.dataId);
    be.disposeData(parts.dataId);
    return [dx, dgamma, dbeta];
  },
};
