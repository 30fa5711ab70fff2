// AdamW (decoupled weight decay, Loshchilov & Hutter) over named tf.Variables, with a learning-rate
// schedule of linear warm-up then cosine decay. Written here because tfjs' Adam has no decoupled decay
// and its state cannot be exported by parameter name (checkpoints need that).
import * as tf from '@tensorflow/tfjs';
import { clipAdamWStep, hasFusedAdamW } from '../kernels/adamw';

export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export class AdamW {
  step = 0;
  private m: Record<string, tf.Variable> = {};
  private v: Record<string, tf.Variable> = {};

  constructor(
    readonly params: Record<string, tf.Variable>,
    readonly cfg: AdamWConfig,
    /** Which parameters get weight decay (GPT-2: block matrices only). */
    readonly decays: (name: string) => boolean,
  ) {
    for (const [n, p] of Object.entries(params)) {
      this.m[n] = tf.tidy(() => tf.variable(tf.zerosLike(p), false));
      this.v[n] = tf.tidy(() => tf.variable(tf.zerosLike(p), false));
    }
  }

  /** One update with learning rate `lr` (the schedule's value for this step). */
  apply(grads: Record<string, tf.Tensor>, lr: number): void {
    this.step += 1;
    const { beta1: b1, beta2: b2, eps, weightDecay } = this.cfg;
    const bc1 = 1 - Math.pow(b1, this.step);
    const bc2 = 1 - Math.pow(b2, this.step);
    tf.tidy(() => {
      for (const [n, g] of Object.entries(grads)) {
        const p = this.params[n];
        const m = tf.add(tf.mul(this.m[n], b1), tf.mul(g, 1 - b1));
        const v = tf.add(tf.mul(this.v[n], b2), tf.mul(tf.square(g), 1 - b2));
        this.m[n].assign(m);
        this.v[n].assign(v);
        const upd = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), eps));
        let next = tf.sub(p, tf.mul(upd, lr));
        if (weightDecay > 0 && this.decays(n)) next = tf.sub(next, tf.mul(p, lr * weightDecay));
        p.assign(next);
      }
    });
  }

  /**
   * Clip the gradients to global norm `maxNorm`, then one update, as clipByGlobalNorm + apply do. On wasm and cpu
   * it is one fused kernel over every parameter (kernels/adamw); elsewhere the op-by-op path. Returns the
   * gradient norm before clipping (the caller disposes it). Does not dispose `grads`.
   */
  clipAndApply(grads: Record<string, tf.Tensor>, lr: number, maxNorm: number): tf.Scalar {
    if (!hasFusedAdamW()) {
      const { grads: clipped, norm } = clipByGlobalNorm(grads, maxNorm);
      this.apply(clipped, lr);
      tf.dispose(Object.values(clipped));
      return norm;
    }
    this.step += 1;
    const { beta1, beta2, eps, weightDecay } = this.cfg;
    const names = Object.keys(grads);
    for (const n of names) if (!this.params[n]) throw new Error(`AdamW: a gradient for "${n}", which is no parameter of this optimizer.`);
    const r = clipAdamWStep(
      names.map((n) => ({ p: this.params[n], g: grads[n], m: this.m[n], v: this.v[n], decay: weightDecay > 0 && this.decays(n) })),
      { lr, beta1, beta2, eps, weightDecay, bc1: 1 - Math.pow(beta1, this.step), bc2: 1 - Math.pow(beta2, this.step), maxNorm },
    );
    names.forEach((n, j) => {
      this.params[n].assign(r.p[j]);
      this.m[n].assign(r.m[j]);
      this.v[n].assign(r.v[j]);
    });
    tf.dispose([...r.p, ...r.m, ...r.v]);
    return r.norm;
  }

  async exportState(): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {};
    for (const n of Object.keys(this.m)) {
      out[`${n}.adam_m`] = (await this.m[n].data()) as Float32Array;
      out[`${n}.adam_v`] = (await this.v[n].data()) as Float32Array;
    }
    return out;
  }

  importState(state: Record<string, Float32Array>, step: number): void {
    for (const n of Object.keys(this.m)) {
      const m = state[`${n}.adam_m`], v = state[`${n}.adam_v`];
      if (!m || !v) throw new Error(`Optimizer state is missing "${n}": the checkpoint does not match this model.`);
      tf.tidy(() => {
        this.m[n].assign(tf.tensor(m, this.m[n].shape));
        this.v[n].assign(tf.tensor(v, this.v[n].shape));
      });
    }
    this.step = step;
  }

  dispose(): void {
    for (const t of [...Object.values(this.m), ...Object.values(this.v)]) t.dispose();
  }
}

/** Linear warm-up to `lr`, then cosine decay to `lr * minLrRatio` at `total` steps. */
export function learningRate(step: number, total: number, lr: number, warmup: number, minLrRatio: number): number {
  if (step < warmup) return (lr * (step + 1)) / warmup;
  const t = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  const min = lr * minLrRatio;
  return min + 0.5 * (lr - min) * (1 + Math.cos(Math.PI * t));
}

/** Scales gradients so their global L2 norm is at most maxNorm; returns the norm before clipping. */
export function clipByGlobalNorm(grads: Record<string, tf.Tensor>, maxNorm: number): { grads: Record<string, tf.Tensor>; norm: tf.Scalar } {
  return tf.tidy(() => {
    // stack + sum, not tf.addN: tfjs-webgpu 4.22's AddN of 8+ inputs returned a stale value (the norm came out
    // ~1e4 times too small, so WebGPU training never clipped); see tests/browser/wasm-engine.test.ts
    const norm = tf.sqrt(tf.sum(tf.stack(Object.values(grads).map((g) => tf.sum(tf.square(g)))))) as tf.Scalar;
    const scale = tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6)));
    const out: Record<string, tf.Tensor> = {};
    for (const [n, g] of Object.entries(grads)) out[n] = tf.mul(g, scale);
    return { grads: out, norm };
  });
}
