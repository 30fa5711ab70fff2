// GELU, GPT-2's tanh approximation, in plain JS (llm.c `gelu_forward` / `gelu_backward`). The arithmetic is
// float64 (JS numbers); the output arrays decide the storage precision.
export type Floats = Float32Array | Float64Array;

const K = Math.sqrt(2 / Math.PI); // 0.7978845608...
const A = 0.044715;

/** out[i] = 0.5 x (1 + tanh(K (x + A x^3))) */
export function geluForward(out: Floats, x: ArrayLike<number>, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i];
    out[i] = 0.5 * v * (1 + Math.tanh(K * (v + A * v * v * v)));
  }
}

/** dx[i] = dy[i] * d gelu / dx at x[i] */
export function geluBackward(dx: Floats, x: ArrayLike<number>, dy: ArrayLike<number>, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i];
    const t = Math.tanh(K * (v + A * v * v * v));
    const dudx = K * (1 + 3 * A * v * v);
    dx[i] = dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * dudx);
  }
}
