// Token embedding lookup and its gradient in plain JS (llm.c `encoder_forward` / `encoder_backward`,
// without the position term). ids are N row numbers into a table of V rows of C floats.
export type Floats = Float32Array | Float64Array;

/** out[n, :] = table[ids[n], :] */
export function embeddingForward(out: Floats, table: ArrayLike<number>, ids: ArrayLike<number>, N: number, V: number, C: number): void {
  for (let n = 0; n < N; n++) {
    const id = ids[n];
    if (!(Number.isInteger(id) && id >= 0 && id < V))
      throw new Error(`embedding: ids[${n}] = ${id} is outside the table's ${V} rows; token ids must be in [0, ${V}).`);
    for (let c = 0; c < C; c++) out[n * C + c] = table[id * C + c];
  }
}

/** dtable[v, :] = sum of dout[n, :] over the n with ids[n] = v, added in increasing n (a scatter-add). */
export function embeddingBackward(dtable: Floats, dout: ArrayLike<number>, ids: ArrayLike<number>, N: number, V: number, C: number): void {
  dtable.fill(0);
  for (let n = 0; n < N; n++) {
    const id = ids[n];
    if (!(id >= 0 && id < V)) continue; // the forward refused it already
    for (let c = 0; c < C; c++) dtable[id * C + c] += dout[n * C + c];
  }
}
