// LayerNorm over the last axis in plain JS (llm.c `layernorm_forward` / `layernorm_backward`).
// Rows are N = (everything but the last axis), each of C values. Arithmetic in float64 (JS numbers);
// the output arrays decide the storage precision. Variance is the biased one (divide by C), as in GPT-2.
export type Floats = Float32Array | Float64Array;

/** mean and 1/sqrt(var + eps) of row n. */
export function rowStats(x: ArrayLike<number>, n: number, C: number, eps: number): [number, number] {
  const o = n * C;
  let m = 0;
  for (let i = 0; i < C; i++) m += x[o + i];
  m /= C;
  let v = 0;
  for (let i = 0; i < C; i++) v += (x[o + i] - m) ** 2;
  v /= C;
  return [m, 1 / Math.sqrt(v + eps)];
}

/** out = (x - mean) * rstd * gamma + beta, row by row. */
export function layernormForward(
  out: Floats, x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, N: number, C: number, eps: number,
): void {
  for (let n = 0; n < N; n++) {
    const [m, s] = rowStats(x, n, C, eps);
    const o = n * C;
    for (let i = 0; i < C; i++) out[o + i] = (x[o + i] - m) * s * gamma[i] + beta[i];
  }
}

/**
 * dx = rstd * (dnorm - mean(dnorm) - xhat * mean(dnorm * xhat)), with dnorm = dy * gamma;
 * dgamma = sum over rows of dy * xhat; dbeta = sum over rows of dy. Row statistics are recomputed.
 */
export function layernormBackward(
  dx: Floats, dgamma: Floats, dbeta: Floats,
  dy: ArrayLike<number>, x: ArrayLike<number>, gamma: ArrayLike<number>, N: number, C: number, eps: number,
): void {
  const dg = new Float64Array(C);
  const db = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    const [m, s] = rowStats(x, n, C, eps);
    const o = n * C;
    let mean1 = 0; // mean of dnorm
    let mean2 = 0; // mean of dnorm * xhat
    for (let i = 0; i < C; i++) {
      const xhat = (x[o + i] - m) * s;
      const dn = dy[o + i] * gamma[i];
      mean1 += dn;
      mean2 += dn * xhat;
      dg[i] += dy[o + i] * xhat;
      db[i] += dy[o + i];
    }
    mean1 /= C;
    mean2 /= C;
    for (let i = 0; i < C; i++) {
      const xhat = (x[o + i] - m) * s;
      dx[o + i] = s * (dy[o + i] * gamma[i] - mean1 - xhat * mean2);
    }
  }
  dgamma.set(dg);
  dbeta.set(db);
}
