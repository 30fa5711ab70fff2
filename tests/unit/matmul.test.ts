// The fast-matmul ops (kernels/matmul) against tfjs' own matMul: same values and gradients, and with explicit
// transposes on (as on wasm) every matmul of a GPT-2 training step is untransposed.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { linear, linearT, setTransposeMode } from '../../src/lib/kernels/matmul';
import { GPT2, initWeights } from '../../src/lib/models/gpt2/model';
import { getOps, type GPT2Config } from '../../src/lib/models/gpt2';
import type { TextTokenizer } from '../../src/lib/models/types';

const rand = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 13.1 + i * 0.731) * 0.8);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterEach(() => setTransposeMode('auto'));

describe('fast matmul ops', () => {
  for (const mode of ['always', 'never'] as const) {
    it(`linear (with and without bias) and linearT match tf.matMul in value and gradients (transposes: ${mode})`, async () => {
      setTransposeMode(mode);
      const x = tf.tensor2d(rand(7 * 5, 1), [7, 5]), w = tf.tensor2d(rand(5 * 3, 2), [5, 3]), b = tf.tensor1d(rand(3, 3));
      const wt = tf.tensor2d(rand(9 * 5, 4), [9, 5]);
      const cases: Array<[string, (...t: tf.Tensor[]) => tf.Tensor, (...t: tf.Tensor[]) => tf.Tensor, tf.Tensor[]]> = [
        ['linear+bias', (a, c, d) => linear(a as tf.Tensor2D, c as tf.Tensor2D, d as tf.Tensor1D), (a, c, d) => tf.add(tf.matMul(a, c), d), [x, w, b]],
        ['linear', (a, c) => linear(a as tf.Tensor2D, c as tf.Tensor2D), (a, c) => tf.matMul(a, c), [x, w]],
        ['linearT', (a, c) => linearT(a as tf.Tensor2D, c as tf.Tensor2D), (a, c) => tf.matMul(a, c, false, true), [x, wt]],
      ];
      for (const [name, f, ref, inputs] of cases) {
        // a weighted sum, so every output element has its own upstream gradient
        const outW = (y: tf.Tensor) => tf.sum(tf.mul(y, tf.tensor(rand(y.size, 9), y.shape)));
        const [got, want] = [f, ref].map((g) => tf.grads((...t: tf.Tensor[]) => outW(g(...t)))(inputs));
        const [yGot, yWant] = [f(...inputs), ref(...inputs)];
        expect(maxDiff(await yGot.data(), await yWant.data()), name).toBeLessThan(1e-5);
        for (let i = 0; i < inputs.length; i++) {
          expect(got[i].shape, `${name} d${i}`).toEqual(inputs[i].shape);
          expect(maxDiff(await got[i].data(), await want[i].data()), `${name} d${i}`).toBeLessThan(1e-5);
        }
      }
    });
  }

  it('names the mismatch when shapes do not fit', () => {
    expect(() => linear(tf.zeros([2, 3]) as tf.Tensor2D, tf.zeros([4, 5]) as tf.Tensor2D)).toThrow(/inner sizes must match/);
    expect(() => linear(tf.zeros([2, 4]) as tf.Tensor2D, tf.zeros([4, 5]) as tf.Tensor2D, tf.zeros([3]) as tf.Tensor1D)).toThrow(/bias has 3 values/);
    expect(() => linearT(tf.zeros([2, 4]) as tf.Tensor2D, tf.zeros([4, 5]) as tf.Tensor2D)).toThrow(/inner sizes must match/);
  });
});

describe('GPT-2 on fast matmuls', () => {
  const tok: TextTokenizer = { encode: (s) => [...s].map((c) => c.charCodeAt(0) - 96), decode: (ids) => ids.map((i) => String.fromCharCode(i + 96)).join(''), eosId: 0 };
  // distinct sizes, so a transposed operand cannot pass for an untransposed one by its shape
  const cfg: GPT2Config = { nLayer: 2, nHead: 2, dModel: 12, nCtx: 9, vocabSize: 17, eps: 1e-5 };
  const ids = () => tf.tensor2d([[1, 4, 2, 7, 3, 9, 11], [5, 9, 1, 1, 2, 16, 3]], [2, 7], 'int32');
  const wts = () => tf.tensor2d([[0, 1, 1, 1, 1, 1, 0], [0, 1, 1, 0, 0, 1, 1]], [2, 7]);

  it('gives the same loss and gradients with explicit transposes as with tfjs transposed matmuls', async () => {
    const run = async (mode: 'always' | 'never') => {
      setTransposeMode(mode);
      const m = new GPT2(cfg, initWeights(cfg, 5), tok, getOps('fused'));
      const { value, grads } = m.valueAndGrads(() => m.loss(ids(), wts()));
      const out: Record<string, Float32Array> = { loss: (await value.data()) as Float32Array };
      for (const [k, g] of Object.entries(grads)) out[k] = (await g.data()) as Float32Array;
      m.dispose();
      return out;
    };
    const a = await run('always'), b = await run('never');
    expect(Object.keys(a).length).toBe(Object.keys(b).length);
    for (const k of Object.keys(b)) expect(maxDiff(a[k], b[k]), k).toBeLessThan(1e-5);
    expect(Math.max(...Object.values(a).map((g) => Math.max(...g.map(Math.abs))))).toBeGreaterThan(1e-3); // not all zero
  });

  it('runs every matmul of a training step and of inference untransposed (forward, dX, dW, tied head)', async () => {
    setTransposeMode('always');
    const m = new GPT2(cfg, initWeights(cfg, 6), tok, getOps('fused'));
    const matmuls = async (f: () => unknown) => (await tf.profile(f as () => tf.Tensor)).kernels.filter((k) => k.name === 'BatchMatMul' || k.name === '_FusedMatMul');
    const train = await matmuls(() => {
      const { value, grads } = m.valueAndGrads(() => m.loss(ids(), wts()));
      return [value, ...Object.values(grads)];
    });
    const infer = await matmuls(() => m.forward(ids()));
    // forward: 4 linears per layer + head; backward: dX and dW of each (the head's dX and dW too)
    expect(infer.length).toBe(4 * cfg.nLayer + 1);
    expect(train.length).toBe(3 * (4 * cfg.nLayer + 1));
    for (const k of [...train, ...infer]) {
      const [a, b] = k.inputShapes;
      // untransposed: a (.., M, K) times b (.., K, N) into (.., M, N)
      expect(a[a.length - 1], `${k.name} [${a}] x [${b}]`).toBe(b[b.length - 2]);
      expect(k.outputShapes[0]).toEqual([...a.slice(0, -1), b[b.length - 1]]);
    }
    m.dispose();
  });
});
