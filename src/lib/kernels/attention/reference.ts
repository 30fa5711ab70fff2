// Causal self-attention on separate q, k, v of shape (B, NH, T, HS) in plain JS (llm.c `attention_forward`
// / `attention_backward`, without the packed qkv). Row t attends to positions s <= t:
//   P[t, s] = softmax_s(scale * q[t] . k[s]),  out[t] = sum_s P[t, s] v[s].
// Arithmetic in float64 (JS numbers); the output arrays decide the storage precision.
export type Floats = Float32Array | Float64Array;

/** Softmax row P[t, 0..t] of one (b, h) slice starting at element offset `o`, into att. */
function probRow(att: Float64Array, q: ArrayLike<number>, k: ArrayLike<number>, o: number, t: number, HS: number, scale: number): void {
  let m = -Infinity;
  for (let s = 0; s <= t; s++) {
    let d = 0;
    for (let i = 0; i < HS; i++) d += q[o + t * HS + i] * k[o + s * HS + i];
    att[s] = d * scale;
    m = Math.max(m, att[s]);
  }
  let sum = 0;
  for (let s = 0; s <= t; s++) {
    att[s] = Math.exp(att[s] - m);
    sum += att[s];
  }
  for (let s = 0; s <= t; s++) att[s] /= sum;
}

export function attentionForward(
  out: Floats, q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>,
  B: number, NH: number, T: number, HS: number, scale: number,
): void {
  const att = new Float64Array(T);
  for (let bh = 0; bh < B * NH; bh++) {
    const o = bh * T * HS;
    for (let t = 0; t < T; t++) {
      probRow(att, q, k, o, t, HS, scale);
      for (let i = 0; i < HS; i++) {
        let acc = 0;
        for (let s = 0; s <= t; s++) acc += att[s] * v[o + s * HS + i];
        out[o + t * HS + i] = acc;
      }
    }
  }
}

/**
 * With P recomputed per row and dP[t, s] = dout[t] . v[s]:
 *   dv[s] += P[t, s] dout[t];  dS[t, s] = P[t, s] (dP[t, s] - sum_s' P[t, s'] dP[t, s']);
 *   dq[t] += scale dS[t, s] k[s];  dk[s] += scale dS[t, s] q[t].
 */
export function attentionBackward(
  dq: Floats, dk: Floats, dv: Floats, dout: ArrayLike<number>, q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>,
  B: number, NH: number, T: number, HS: number, scale: number,
): void {
  const n = B * NH * T * HS;
  const gq = new Float64Array(n);
  const gk = new Float64Array(n);
  const gv = new Float64Array(n);
  const att = new Float64Array(T);
  const dp = new Float64Array(T);
  for (let bh = 0; bh < B * NH; bh++) {
    const o = bh * T * HS;
    for (let t = 0; t < T; t++) {
      probRow(att, q, k, o, t, HS, scale);
      let dot = 0; // sum_s P dP = dout[t] . out[t]
      for (let s = 0; s <= t; s++) {
        let d = 0;
        for (let i = 0; i < HS; i++) {
          d += dout[o + t * HS + i] * v[o + s * HS + i];
          gv[o + s * HS + i] += att[s] * dout[o + t * HS + i];
        }
        dp[s] = d;
        dot += att[s] * d;
      }
      for (let s = 0; s <= t; s++) {
        const ds = att[s] * (dp[s] - dot) * scale;
        for (let i = 0; i < HS; i++) {
          gq[o + t * HS + i] += ds * k[o + s * HS + i];
          gk[o + s * HS + i] += ds * q[o + t * HS + i];
        }
      }
    }
  }
  dq.set(gq);
  dk.set(gk);
  dv.set(gv);
}
