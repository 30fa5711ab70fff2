// Clip by global norm + AdamW (decoupled weight decay) over every parameter in one pass: the plain-JS reference,
// float64 arithmetic (JS numbers), llm.c style. The CPU twin on wasm and cpu runs exactly this.
// Same math as train/adamw.ts's op-by-op path: norm = ||g||₂ over all parameters, s = min(1, maxNorm / (norm + 1e-6)),
// m = b1 m + (1 - b1) s g, v = b2 v + (1 - b2) (s g)², p -= lr (m / bc1) / (sqrt(v / bc2) + eps) (+ lr wd p if decayed).

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1 - beta1^step and 1 - beta2^step */
  bc1: number;
  bc2: number;
  /** Clip the global gradient norm to this; Infinity: no clipping. */
  maxNorm: number;
}

export interface ParamSlot {
  p: ArrayLike<number>;
  g: ArrayLike<number>;
  m: ArrayLike<number>;
  v: ArrayLike<number>;
  decay: boolean;
}

export interface ParamOut {
  p: { [i: number]: number; length: number };
  m: { [i: number]: number; length: number };
  v: { [i: number]: number; length: number };
}

/** Global L2 norm of all gradients. */
export function globalNorm(slots: ParamSlot[]): number {
  let s = 0;
  for (const { g } of slots) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return Math.sqrt(s);
}

/** Writes the updated parameters and moments into `outs` (may alias nothing of the inputs). Returns the norm before clipping. */
export function clipAdamW(slots: ParamSlot[], outs: ParamOut[], h: AdamWHyper): number {
  const norm = globalNorm(slots);
  const scale = Math.min(1, h.maxNorm / (norm + 1e-6));
  const { lr, beta1: b1, beta2: b2, eps, bc1, bc2 } = h;
  for (let j = 0; j < slots.length; j++) {
    const { p, g, m, v, decay } = slots[j];
    const o = outs[j];
    const wd = decay ? lr * h.weightDecay : 0;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i] * scale;
      const mi = b1 * m[i] + (1 - b1) * gi;
      const vi = b2 * v[i] + (1 - b2) * gi * gi;
      o.m[i] = mi;
      o.v[i] = vi;
      o.p[i] = p[i] - lr * (mi / bc1 / (Math.sqrt(vi / bc2) + eps)) - wd * p[i];
    }
  }
  return norm;
}
