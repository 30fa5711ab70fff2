// Kernel self-check: runs one fused op (forward and every gradient) on the current backend from seeded
// random inputs, and the same case through the float64 references, so two backends and the reference can be
// compared element by element. Used by the browser tests; a device page can run it to vet a GPU.
import * as tf from '@tensorflow/tfjs';
import { causalAttention, embedding, gelu, layerNorm, softmaxCrossEntropy } from './index';
import { geluBackward, geluForward } from './gelu/reference';
import { layernormBackward, layernormForward } from './layernorm/reference';
import { embeddingBackward, embeddingForward } from './embedding/reference';
import { crossEntropyBackward, crossEntropyForward } from './crossentropy/reference';
import { attentionBackward, attentionForward } from './attention/reference';

export type CaseSpec =
  | { op: 'gelu'; shape: number[]; seed: number }
  | { op: 'layerNorm'; N: number; C: number; seed: number }
  | { op: 'embedding'; V: number; C: number; N: number; seed: number }
  | { op: 'softmaxCrossEntropy'; N: number; V: number; seed: number }
  | { op: 'causalAttention'; B: number; NH: number; T: number; HS: number; seed: number };

interface HostTensor {
  values: Float32Array | Int32Array;
  shape: number[];
  dtype: 'float32' | 'int32';
}

/** Seeded uniform numbers in [lo, hi) (mulberry32), so every backend sees the same inputs. */
export function seededUniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const rand = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rand();
  return out;
}
const f32 = (shape: number[], seed: number, lo = -1, hi = 1): HostTensor => ({
  values: seededUniform(shape.reduce((a, b) => a * b, 1), seed, lo, hi),
  shape,
  dtype: 'float32',
});
const i32 = (n: number, seed: number, max: number): HostTensor => ({
  values: Int32Array.from(seededUniform(n, seed, 0, max), Math.floor),
  shape: [n],
  dtype: 'int32',
});

/** The inputs of a case, in the op's argument order, plus `r`: the loss is sum(op(...) * r). */
export function caseInputs(spec: CaseSpec): { inputs: Record<string, HostTensor>; diff: string[]; r: HostTensor } {
  const s = spec.seed;
  switch (spec.op) {
    case 'gelu':
      return { inputs: { x: f32(spec.shape, s, -6, 6) }, diff: ['x'], r: f32(spec.shape, s + 1) };
    case 'layerNorm':
      return {
        inputs: { x: f32([spec.N, spec.C], s, -2, 3), gamma: f32([spec.C], s + 1, 0.5, 1.5), beta: f32([spec.C], s + 2, -0.5, 0.5) },
        diff: ['x', 'gamma', 'beta'],
        r: f32([spec.N, spec.C], s + 3),
      };
    case 'embedding':
      return {
        inputs: { table: f32([spec.V, spec.C], s), ids: i32(spec.N, s + 1, spec.V) },
        diff: ['table'],
        r: f32([spec.N, spec.C], s + 2),
      };
    case 'softmaxCrossEntropy': {
      const targets = i32(spec.N, s + 1, spec.V);
      const weights = f32([spec.N], s + 2, 0.25, 2);
      for (let n = 0; n < spec.N; n += 5) {
        weights.values[n] = 0; // every fifth row is padding: weight 0 and an invalid target
        targets.values[n] = -1;
      }
      return { inputs: { logits: f32([spec.N, spec.V], s, -4, 4), targets, weights }, diff: ['logits'], r: f32([spec.N], s + 3, 0.5, 1.5) };
    }
    case 'causalAttention': {
      const shape = [spec.B, spec.NH, spec.T, spec.HS];
      return {
        inputs: { q: f32(shape, s, -1.5, 1.5), k: f32(shape, s + 1, -1.5, 1.5), v: f32(shape, s + 2) },
        diff: ['q', 'k', 'v'],
        r: f32(shape, s + 3),
      };
    }
  }
}

function callOp(spec: CaseSpec, t: Record<string, tf.Tensor>): tf.Tensor {
  switch (spec.op) {
    case 'gelu':
      return gelu(t.x);
    case 'layerNorm':
      return layerNorm(t.x, t.gamma as tf.Tensor1D, t.beta as tf.Tensor1D);
    case 'embedding':
      return embedding(t.table as tf.Tensor2D, t.ids);
    case 'softmaxCrossEntropy':
      return softmaxCrossEntropy(t.logits as tf.Tensor2D, t.targets as tf.Tensor1D, t.weights as tf.Tensor1D);
    case 'causalAttention':
      return causalAttention(t.q as tf.Tensor4D, t.k as tf.Tensor4D, t.v as tf.Tensor4D, 1 / Math.sqrt(spec.HS));
  }
}

import { mulberry32 } from '../util/rng';

export interface CaseRun {
  backend: string;
  /** 'y' (forward) and 'd' + name for each differentiated input. */
  arrays: Record<string, Float32Array>;
  /** webgpu only: the forward result was a GPUBuffer with no CPU copy until read. */
  stayedOnGpu: boolean | null;
  /** Kernel names tf.profile saw for the forward call. */
  kernels: string[];
}

/** Forward and all gradients of one case on the current backend (reads with `await data()`). */
export async function runCase(spec: CaseSpec): Promise<CaseRun> {
  const { inputs, diff, r } = caseInputs(spec);
  const t: Record<string, tf.Tensor> = {};
  for (const [k, h] of Object.entries(inputs)) t[k] = tf.tensor(h.values, h.shape, h.dtype);
  const rt = tf.tensor(r.values, r.shape);
  let y: tf.Tensor | null = null;
  const prof = await tf.profile(() => {
    y = callOp(spec, t);
    return y;
  });
  const yt = y as unknown as tf.Tensor;
  let stayedOnGpu: boolean | null = null;
  if (tf.getBackend() === 'webgpu') {
    const d = (tf.backend() as unknown as { tensorMap: { get(id: object): { resource?: unknown; values?: unknown } } }).tensorMap.get(yt.dataId);
    stayedOnGpu = d.resource instanceof GPUBuffer && d.values == null;
  }
  const arrays: Record<string, Float32Array> = { y: (await yt.data()) as Float32Array };
  const grads = tf.grads((...xs: tf.Tensor[]) => {
    const all = { ...t };
    diff.forEach((k, i) => (all[k] = xs[i]));
    return tf.sum(tf.mul(callOp(spec, all), rt));
  })(diff.map((k) => t[k]));
  for (let i = 0; i < diff.length; i++) arrays[`d${diff[i]}`] = (await grads[i].data()) as Float32Array;
  tf.dispose([yt, rt, ...grads, ...Object.values(t)]);
  return { backend: tf.getBackend(), arrays, stayedOnGpu, kernels: prof.kernelNames };
}

/** The same case through reference.ts in float64. */
export function referenceCase(spec: CaseSpec): Record<string, Float64Array> {
  const { inputs: I, r } = caseInputs(spec);
  const v = (k: string) => I[k].values;
  const n = (h: HostTensor) => h.values.length;
  const R = r.values;
  switch (spec.op) {
    case 'gelu': {
      const y = new Float64Array(n(I.x));
      const dx = new Float64Array(n(I.x));
      geluForward(y, v('x'), y.length);
      geluBackward(dx, v('x'), R, y.length);
      return { y, dx };
    }
    case 'layerNorm': {
      const { N, C } = spec;
      const [y, dx, dgamma, dbeta] = [N * C, N * C, C, C].map((m) => new Float64Array(m));
      layernormForward(y, v('x'), v('gamma'), v('beta'), N, C, 1e-5);
      layernormBackward(dx, dgamma, dbeta, R, v('x'), v('gamma'), N, C, 1e-5);
      return { y, dx, dgamma, dbeta };
    }
    case 'embedding': {
      const { V, C, N } = spec;
      const y = new Float64Array(N * C);
      const dtable = new Float64Array(V * C);
      embeddingForward(y, v('table'), v('ids'), N, V, C);
      embeddingBackward(dtable, R, v('ids'), N, V, C);
      return { y, dtable };
    }
    case 'softmaxCrossEntropy': {
      const { N, V } = spec;
      const y = new Float64Array(N);
      const dlogits = new Float64Array(N * V);
      crossEntropyForward(y, v('logits'), v('targets'), v('weights'), N, V);
      crossEntropyBackward(dlogits, R, v('logits'), v('targets'), v('weights'), N, V);
      return { y, dlogits };
    }
    case 'causalAttention': {
      const { B, NH, T, HS } = spec;
      const m = B * NH * T * HS;
      const [y, dq, dk, dv] = [0, 1, 2, 3].map(() => new Float64Array(m));
      attentionForward(y, v('q'), v('k'), v('v'), B, NH, T, HS, 1 / Math.sqrt(HS));
      attentionBackward(dq, dk, dv, R, v('q'), v('k'), v('v'), B, NH, T, HS, 1 / Math.sqrt(HS));
      return { y, dq, dk, dv };
    }
  }
}

export interface Worst {
  ok: boolean;
  index: number;
  got: number;
  want: number;
  diff: number;
  /** The largest |got - want| anywhere (for reporting; `ok` uses the tolerance). */
  maxAbsDiff: number;
}

/** The element that most exceeds |got - want| <= atol + rtol |want| (NaN counts as failing). */
export function worstElement(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): Worst {
  if (got.length !== want.length) return { ok: false, index: -1, got: got.length, want: want.length, diff: Infinity, maxAbsDiff: Infinity };
  let index = -1;
  let excess = -Infinity;
  let maxAbsDiff = 0;
  for (let i = 0; i < want.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(got[i] - want[i]));
    const e = Number.isNaN(got[i]) || Number.isNaN(want[i]) ? Infinity : Math.abs(got[i] - want[i]) - (atol + rtol * Math.abs(want[i]));
    if (e > excess || index < 0) {
      excess = e;
      index = i;
    }
  }
  return { ok: excess <= 0, index, got: got[index], want: want[index], diff: Math.abs(got[index] - want[index]), maxAbsDiff };
}
