// WGSL embedding. Forward: one thread per output element copies table[ids[n], c] (NaN for an id outside
// [0, V): the GPU cannot throw, the CPU twin does).
// Backward, a deterministic scatter-add without float atomics: one workgroup per table row v scans the ids
// 64 at a time, compacts the positions n with ids[n] == v by a workgroup prefix sum (so they stay in
// increasing n), then each thread adds dy[n, c] for its columns c. Same summation order as the CPU twin.
// Cost: V * N id comparisons plus N * C adds.
import { flatDispatch, LabProgram, rowDispatch, type WebGPURun } from '../common';
import { rowMainWGSL } from '../wgsl';

class EmbeddingProgram extends LabProgram {
  variableNames = ['table', 'ids'];
  size = true;
  constructor(N: number, C: number) {
    super([N, C], flatDispatch([N, C], 64), 'lab_embedding');
  }
  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index >= uniforms.size) { return; }
        let V = uniforms.tableShape[0];
        let C = uniforms.tableShape[1];
        let n = index / C;
        let id = ids[n];
        if (id < 0 || id >= V) { result[index] = uniforms.NAN; }
        else { result[index] = table[id * C + index - n * C]; }
      }`;
  }
}

const SCAN = 64; // ids examined per step = workgroup size

class EmbeddingGradProgram extends LabProgram {
  variableNames = ['dy', 'ids'];
  constructor(V: number, C: number) {
    super([V, C], rowDispatch(2, V, SCAN), 'lab_embedding_grad');
  }
  getUserCode(): string {
    const prelude = `
      var<workgroup> scan : array<i32, ${SCAN}>;
      var<workgroup> hits : array<i32, ${SCAN}>;`;
    return rowMainWGSL(SCAN, 'uniforms.outShape[0]', `
        let v = row; // the table row this workgroup sums
        let C = uniforms.dyShape[1];
        let N = uniforms.idsShape;
        let o = v * C;
        for (var c = lid; c < C; c = c + WG) { result[o + c] = 0.0; }
        for (var start = 0; start < N; start = start + WG) {
          let n = start + lid;
          var m = 0;
          if (n < N) { if (ids[n] == v) { m = 1; } }
          scan[lid] = m;
          workgroupBarrier();
          // inclusive prefix sum (Hillis-Steele) of the match flags
          for (var off = 1; off < WG; off = off * 2) {
            var add = 0;
            if (lid >= off) { add = scan[lid - off]; }
            workgroupBarrier();
            scan[lid] = scan[lid] + add;
            workgroupBarrier();
          }
          if (m == 1) { hits[scan[lid] - 1] = n; }
          let total = scan[WG - 1];
          workgroupBarrier();
          for (var h = 0; h < total; h = h + 1) {
            let src = hits[h] * C;
            for (var c = lid; c < C; c = c + WG) { result[o + c] = result[o + c] + dy[src + c]; }
          }
          workgroupBarrier(); // scan and hits are rewritten by the next step
        }
`, prelude);
  }
}

export const embeddingWebGPU: { forward: WebGPURun; backward: WebGPURun } = {
  forward: ({ table, ids }, be) => be.runWebGPUProgram(new EmbeddingProgram(ids.shape[0], table.shape[1]), [table, ids], 'float32'),
  backward: ({ dy, ids }, be, { vocabSize }) =>
    be.runWebGPUProgram(new EmbeddingGradProgram(vocabSize as number, dy.shape[1]), [dy, ids], 'float32'),
};
