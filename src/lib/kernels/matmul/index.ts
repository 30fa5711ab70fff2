// Matmuls that stay on the backend's fast kernel, forward and backward.
// Why: tfjs-wasm 4.22 runs a matmul with transposeA or transposeB through a scalar C++ loop (about 1 GFLOP/s),
// while the untransposed shape goes to XNNPACK (17-33 GFLOP/s on this CPU). Stock tfjs' matMul gradient uses
// both flags (dX = dY Wᵀ, dW = Xᵀ dY), and GPT-2's tied head is X Wteᵀ. On wasm these ops copy the operand
// transposed first (a memory-bound pass, far cheaper than the slow loop) and then multiply untransposed.
// WebGPU reads transposed operands inside its shader, so there the flags are passed through unchanged.
// The bias rides in the matmul (tf.fused.matMul), so a linear layer is one kernel forward.
import * as tf from '@tensorflow/tfjs';

/**
 * Whether transposed operands are copied first. `auto`: on wasm only; `always`: on any backend (tests);
 * `never`: tfjs' own transposed matmuls (the bench's before/after). Kept in a tfjs flag, so every copy of
 * this module (a dev server may load two) reads the same value.
 */
export type TransposeMode = 'auto' | 'always' | 'never';
const FLAG = 'LAB_MATMUL_TRANSPOSES';
if (!(FLAG in (tf.env() as unknown as { flagRegistry: object }).flagRegistry)) tf.env().registerFlag(FLAG, () => 'auto');

export function setTransposeMode(m: TransposeMode): void {
  tf.env().set(FLAG, m);
}

function explicitTransposes(): boolean {
  const mode = tf.env().get(FLAG) as TransposeMode;
  return mode === 'always' || (mode === 'auto' && tf.getBackend() === 'wasm');
}

/** a (M, K) or (K, M) if ta, times b (K, N) or (N, K) if tb, as an untransposed matmul where that is faster. */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D, ta = false, tb = false, bias?: tf.Tensor1D): tf.Tensor2D {
  if ((ta || tb) && explicitTransposes()) {
    a = ta ? (tf.transpose(a) as tf.Tensor2D) : a;
    b = tb ? (tf.transpose(b) as tf.Tensor2D) : b;
    ta = tb = false;
  }
  if (bias) return tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias }) as tf.Tensor2D;
  return tf.matMul(a, b, ta, tb) as tf.Tensor2D;
}

type Save = (t: tf.Tensor[]) => void;
type CustomFn = Parameters<typeof tf.customGrad>[0];

// x (N, K) · w (K, M) + bias (M). dx = dy wᵀ, dw = xᵀ dy, dbias = Σ_rows dy.
const linearBias = tf.customGrad(((x: tf.Tensor2D, w: tf.Tensor2D, bias: tf.Tensor1D, save: Save) => {
  save([x, w]);
  return {
    value: matMul2d(x, w, false, false, bias),
    gradFunc: (dy: tf.Tensor2D, [sx, sw]: tf.Tensor[]) => [
      matMul2d(dy, sw as tf.Tensor2D, false, true),
      matMul2d(sx as tf.Tensor2D, dy, true, false),
      tf.sum(dy, 0),
    ],
  };
}) as unknown as CustomFn);

// x (N, K) · w (K, M)
const linearNoBias = tf.customGrad(((x: tf.Tensor2D, w: tf.Tensor2D, save: Save) => {
  save([x, w]);
  return {
    value: matMul2d(x, w),
    gradFunc: (dy: tf.Tensor2D, [sx, sw]: tf.Tensor[]) => [matMul2d(dy, sw as tf.Tensor2D, false, true), matMul2d(sx as tf.Tensor2D, dy, true, false)],
  };
}) as unknown as CustomFn);

// x (N, K) · wᵀ with w (M, K): GPT-2's tied head (w is the token embedding). dx = dy w, dw = dyᵀ x.
const matMulWT = tf.customGrad(((x: tf.Tensor2D, w: tf.Tensor2D, save: Save) => {
  save([x, w]);
  return {
    value: matMul2d(x, w, false, true),
    gradFunc: (dy: tf.Tensor2D, [sx, sw]: tf.Tensor[]) => [matMul2d(dy, sw as tf.Tensor2D), matMul2d(dy, sx as tf.Tensor2D, true, false)],
  };
}) as unknown as CustomFn);

function check2d(name: string, x: tf.Tensor, w: tf.Tensor, k: number): void {
  if (x.rank !== 2 || w.rank !== 2) throw new Error(`${name}: expected 2-D x and w, got shapes [${x.shape}] and [${w.shape}].`);
  if (x.shape[1] !== k) throw new Error(`${name}: x is [${x.shape}] but w is [${w.shape}]; the inner sizes must match.`);
}

/** x (N, K) · w (K, M) (+ bias (M)), every matmul of forward and backward on the fast kernel. */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor2D {
  check2d('linear', x, w, w.shape[0]);
  if (bias && bias.size !== w.shape[1]) throw new Error(`linear: bias has ${bias.size} values but w has ${w.shape[1]} columns.`);
  return (bias ? linearBias(x, w, bias) : linearNoBias(x, w)) as tf.Tensor2D;
}

/** x (N, K) · wᵀ for w (M, K) (a tied output head), every matmul of forward and backward on the fast kernel. */
export function linearT(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  check2d('linearT', x, w, w.shape[1]);
  return matMulWT(x, w) as tf.Tensor2D;
}
