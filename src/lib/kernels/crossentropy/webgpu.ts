// WGSL softmax cross-entropy. Both passes run one workgroup per row: a workgroup max, a workgroup sum of
// exp(l - max), then the row's loss (forward) or softmax - onehot scaled by dloss * weight (backward).
// The backward recomputes max and sum from the logits instead of saving them from the forward.
// Rows with weight 0 give loss 0 and gradient 0 and never read their target. A target outside [0, V) on
// a row with nonzero weight gives NaN (the GPU cannot throw; the CPU twin throws a clear error).
import { LabProgram, rowDispatch, rowWorkgroupSize, type WebGPURun } from '../common';
import { rowMainWGSL } from '../wgsl';

const rowMaxAndSum = `
        let V = uniforms.logitsShape[1];
        let base = row * V;
        var lm = -3.0e38;
        for (var j = lid; j < V; j = j + WG) { lm = max(lm, logits[base + j]); }
        let mx = wgMax(lm);
        var ls = 0.0;
        for (var j = lid; j < V; j = j + WG) { ls = ls + exp(logits[base + j] - mx); }
        let sum = wgSum(ls);
        let w = weights[row];
        let t = targets[row];
        let bad = w != 0.0 && (t < 0 || t >= V);`;

class CrossEntropyProgram extends LabProgram {
  variableNames = ['logits', 'targets', 'weights'];
  constructor(N: number, V: number) {
    const wg = rowWorkgroupSize(V);
    super([N], rowDispatch(1, N, wg), `lab_xent_${wg}`);
  }
  getUserCode(): string {
    return rowMainWGSL(this.workgroupSize[0], 'uniforms.logitsShape[0]', `${rowMaxAndSum}
        if (lid == 0) {
          var loss = 0.0;
          if (bad) { loss = uniforms.NAN; }
          else if (w != 0.0) { loss = w * (log(sum) + mx - logits[base + t]); }
          result[row] = loss;
        }`);
  }
}

class CrossEntropyGradProgram extends LabProgram {
  variableNames = ['dy', 'logits', 'targets', 'weights'];
  constructor(N: number, V: number) {
    const wg = rowWorkgroupSize(V);
    super([N, V], rowDispatch(2, N, wg), `lab_xent_grad_${wg}`);
  }
  getUserCode(): string {
    return rowMainWGSL(this.workgroupSize[0], 'uniforms.logitsShape[0]', `${rowMaxAndSum}
        let g = dy[row] * w;
        let inv = 1.0 / sum;
        for (var j = lid; j < V; j = j + WG) {
          var p = exp(logits[base + j] - mx) * inv;
          if (j == t) { p = p - 1.0; }
          var o = g * p;
          if (w == 0.0) { o = 0.0; }
          if (bad) { o = uniforms.NAN; }
          result[base + j] = o;
        }`);
  }
}

export const crossEntropyWebGPU: { forward: WebGPURun; backward: WebGPURun } = {
  forward: ({ logits, targets, weights }, be) => {
    const [N, V] = logits.shape;
    return be.runWebGPUProgram(new CrossEntropyProgram(N, V), [logits, targets, weights], 'float32');
  },
  backward: ({ dy, logits, targets, weights }, be) => {
    const [N, V] = logits.shape;
    return be.runWebGPUProgram(new CrossEntropyGradProgram(N, V), [dy, logits, targets, weights], 'float32');
  },
};
