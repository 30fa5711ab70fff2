// Weighted softmax cross-entropy per row in plain JS (llm.c `crossentropy_forward` and the fused
// `crossentropy_softmax_backward`). Rows with weight 0 are ignored: their target is never read, so padding
// may use any target (e.g. -1). Arithmetic in float64; the output arrays decide the storage precision.
export type Floats = Float32Array | Float64Array;

function checkTarget(t: number, n: number, V: number): void {
  if (!(Number.isInteger(t) && t >= 0 && t < V))
    throw new Error(
      `softmaxCrossEntropy: targets[${n}] = ${t} is outside the vocabulary [0, ${V}); ` +
        'give rows you want ignored weight 0, or fix the target ids.',
    );
}

/** max and log(sum(exp(l - max))) of row n. */
function rowLogSumExp(logits: ArrayLike<number>, n: number, V: number): number {
  const o = n * V;
  let m = -Infinity;
  for (let j = 0; j < V; j++) m = Math.max(m, logits[o + j]);
  let s = 0;
  for (let j = 0; j < V; j++) s += Math.exp(logits[o + j] - m);
  return m + Math.log(s);
}

/** losses[n] = w[n] * (logsumexp(logits[n]) - logits[n, t[n]]) */
export function crossEntropyForward(
  losses: Floats, logits: ArrayLike<number>, targets: ArrayLike<number>, weights: ArrayLike<number>, N: number, V: number,
): void {
  for (let n = 0; n < N; n++) {
    const w = weights[n];
    if (w === 0) {
      losses[n] = 0;
      continue;
    }
    checkTarget(targets[n], n, V);
    losses[n] = w * (rowLogSumExp(logits, n, V) - logits[n * V + targets[n]]);
  }
}

/** dlogits[n, j] = dlosses[n] * w[n] * (softmax(logits[n])[j] - [j == t[n]]) */
export function crossEntropyBackward(
  dlogits: Floats, dlosses: ArrayLike<number>, logits: ArrayLike<number>, targets: ArrayLike<number>,
  weights: ArrayLike<number>, N: number, V: number,
): void {
  for (let n = 0; n < N; n++) {
    const o = n * V;
    const g = dlosses[n] * weights[n];
    if (weights[n] === 0) {
      for (let j = 0; j < V; j++) dlogits[o + j] = 0;
      continue;
    }
    checkTarget(targets[n], n, V);
    const lse = rowLogSumExp(logits, n, V);
    for (let j = 0; j < V; j++) dlogits[o + j] = g * (Math.exp(logits[o + j] - lse) - (j === targets[n] ? 1 : 0));
  }
}
