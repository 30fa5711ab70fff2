// WGSL text the lab's programs share, written once: workgroup reductions, the row of a "one workgroup per row"
// program and its main(), a row's mean and 1/std (layerNorm), and the tile loops of flash attention.
// A snippet's text is part of a program's WGSL: change it and every program using it changes (tfjs caches
// pipelines by shaderKey, so a snippet that varies with an argument must be named in the key; see LabProgram).

/**
 * Workgroup sum and max over `wg` threads (`WG`): a tree reduction in workgroup memory, the same order for every
 * caller. Every thread of the workgroup must call them (they hold barriers).
 */
export function workgroupReduceWGSL(wg: number): string {
  return `
    const WG : i32 = ${wg};
    var<workgroup> labRed : array<f32, ${wg}>;
    fn wgSum(v : f32) -> f32 {
      let lid = i32(localIndex);
      labRed[lid] = v;
      workgroupBarrier();
      for (var s = WG / 2; s > 0; s = s / 2) {
        if (lid < s) { labRed[lid] = labRed[lid] + labRed[lid + s]; }
        workgroupBarrier();
      }
      let r = labRed[0];
      workgroupBarrier();
      return r;
    }
    fn wgMax(v : f32) -> f32 {
      let lid = i32(localIndex);
      labRed[lid] = v;
      workgroupBarrier();
      for (var s = WG / 2; s > 0; s = s / 2) {
        if (lid < s) { labRed[lid] = max(labRed[lid], labRed[lid + s]); }
        workgroupBarrier();
      }
      let r = labRed[0];
      workgroupBarrier();
      return r;
    }
  `;
}

/**
 * WGSL for row programs: the reductions above, and the workgroup's row as a uniform value (so loops bounded by
 * it may contain barriers).
 */
export function rowHelpersWGSL(wg: number): string {
  return `${workgroupReduceWGSL(wg)}
    var<workgroup> labRow : i32;
    fn rowOf(index : i32) -> i32 {
      if (localIndex == 0u) { labRow = index / WG; }
      return workgroupUniformLoad(&labRow);
    }
  `;
}

/**
 * main() of a row program: `row` (the workgroup's row; past `rows` the workgroup returns) and `lid` (the thread's
 * index in it), then `body`. `prelude` goes between the helpers and main (constants, buffers, functions).
 */
export function rowMainWGSL(wg: number, rows: string, body: string, prelude = ''): string {
  return `${rowHelpersWGSL(wg)}${prelude}
      fn main(index : i32) {
        let row = rowOf(index);
        if (row >= ${rows}) { return; }
        let lid = i32(localIndex);${body}
      }`;
}

/** mean and 1 / sqrt(var + eps) of x[base .. base + C), two-pass, by workgroup sums (layerNorm and its stats). */
export const ROW_MEAN_RSTD_WGSL = `
    fn rowMeanRstd(base : i32, C : i32, eps : f32) -> vec2<f32> {
      let lid = i32(localIndex);
      var s = 0.0;
      for (var c = lid; c < C; c = c + WG) { s = s + x[base + c]; }
      let mean = wgSum(s) / f32(C);
      var v = 0.0;
      for (var c = lid; c < C; c = c + WG) { let d = x[base + c] - mean; v = v + d * d; }
      return vec2<f32>(mean, inverseSqrt(wgSum(v) / f32(C) + eps));
    }`;

// ---------- flash attention (attention/webgpu.ts): q, k, v (B, NH, T, HS), one workgroup per row ----------

/** Key positions per tile: the scores of one tile sit in workgroup memory (`sc`). */
export const ATTN_TILE = 256;

/** Before main: the tile buffer, DPT (head dims per thread) and dot products of length HS (`dot_a_b`). */
export function attentionPreludeWGSL(dpt: number, dots: Array<[string, string]>): string {
  const fns = dots
    .map(([a, b]) => `
      fn dot_${a}_${b}(ao : i32, bo : i32, HS : i32) -> f32 {
        var acc = 0.0;
        for (var i = 0; i < HS; i = i + 1) { acc = acc + ${a}[ao + i] * ${b}[bo + i]; }
        return acc;
      }`)
    .join('');
  return `
      const TILE : i32 = ${ATTN_TILE};
      const DPT : i32 = ${dpt};
      var<workgroup> sc : array<f32, ${ATTN_TILE}>;
      ${fns}`;
}

/** The rows of q: B * NH * T. */
export const ATTN_ROWS = 'uniforms.qShape[0] * uniforms.qShape[1] * uniforms.qShape[2]';

/** T, HS, the position `pos` of this row in its sequence, and r0, the row of position 0. */
export const attentionRowWGSL = (pos: string) => `
        let T = uniforms.qShape[2];
        let HS = uniforms.qShape[3];
        let ${pos} = row % T;
        let r0 = row - ${pos};`;

/**
 * Scores of this query row against the keys of the tile [start, end), scaled, into `sc`; `mNew` is the running
 * max `m` updated with the tile's (the online softmax of the forward and of the backward's row stats).
 */
export const ATTN_TILE_SCORES_WGSL = `
          var lm = -3.0e38;
          for (var s = start + lid; s < end; s = s + WG) {
            let sv = dot_q_k(row * HS, (r0 + s) * HS, HS) * uniforms.scale;
            sc[s - start] = sv;
            lm = max(lm, sv);
          }
          let mNew = max(m, wgMax(lm));`;

/**
 * acc[j] = `carry` + sum over the tile of sc[i - start] * matrix[(r0 + i) * HS + d], for the head dims d this
 * thread owns (d = lid + j * WG).
 */
export function attentionTileAccumulateWGSL(matrix: string, i: string, carry = 'acc[j]'): string {
  return `
          for (var j = 0; j < DPT; j = j + 1) {
            let d = lid + j * WG;
            if (d < HS) {
              var a = ${carry};
              for (var ${i} = start; ${i} < end; ${i} = ${i} + 1) { a = a + sc[${i} - start] * ${matrix}[(r0 + ${i}) * HS + d]; }
              acc[j] = a;
            }
          }`;
}

/** result[row, d] = `value` (of acc[j]) for the head dims d this thread owns. */
export function attentionWriteRowWGSL(value: string): string {
  return `
        for (var j = 0; j < DPT; j = j + 1) {
          let d = lid + j * WG;
          if (d < HS) { result[row * HS + d] = ${value}; }
        }`;
}
