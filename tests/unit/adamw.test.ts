// The fused clip + AdamW kernel (kernels/adamw, one kernel per step on cpu and wasm) against the op-by-op path
// (clipByGlobalNorm + AdamW.apply): same parameters, moments and norms over several steps, clipping and decay on.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { AdamW, clipByGlobalNorm, type AdamWConfig } from '../../src/lib/train/adamw';
import { clipAdamWStep } from '../../src/lib/kernels/adamw';
import { clipAdamW, globalNorm } from '../../src/lib/kernels/adamw/reference';

const shapes: Record<string, number[]> = { 'h.0.attn.c_attn.weight': [6, 18], 'h.0.attn.c_attn.bias': [18], wte: [11, 6], 'ln_f.weight': [6] };
const wave = (n: number, seed: number, amp: number) => Float32Array.from({ length: n }, (_, i) => amp * Math.sin(seed * 7.3 + i * 0.917));
const cfg: AdamWConfig = { lr: 3e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
const decays = (n: string) => n.endsWith('.weight') && !n.startsWith('ln_f');

function makeParams(): Record<string, tf.Variable> {
  return Object.fromEntries(Object.entries(shapes).map(([n, s], j) => [n, tf.variable(tf.tensor(wave(s.reduce((a, b) => a * b, 1), j + 1, 0.5), s))]));
}
const gradsAt = (step: number, amp: number) => Object.fromEntries(Object.entries(shapes).map(([n, s], j) => [n, tf.tensor(wave(s.reduce((a, b) => a * b, 1), 10 * step + j, amp), s)]));
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); return m; };

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('fused clip + AdamW', () => {
  it('equals clipByGlobalNorm + AdamW.apply over 4 steps (clipped and unclipped steps, decayed and plain parameters)', async () => {
    const pa = makeParams(), pb = makeParams();
    const fused = new AdamW(pa, cfg, decays), ops = new AdamW(pb, cfg, decays);
    for (let step = 0; step < 4; step++) {
      const amp = step % 2 ? 3 : 0.05; // global norm well above / below maxNorm 1
      const ga = gradsAt(step, amp), gb = gradsAt(step, amp);
      const normA = fused.clipAndApply(ga, cfg.lr * (step + 1) / 4, 1);
      const { grads: clipped, norm: normB } = clipByGlobalNorm(gb, 1);
      ops.apply(clipped, cfg.lr * (step + 1) / 4);
      expect(Math.abs((await normA.data())[0] - (await normB.data())[0])).toBeLessThan(1e-5 * (await normB.data())[0]);
      tf.dispose([normA, normB, Object.values(ga), Object.values(gb), Object.values(clipped)]);
    }
    const sa = await fused.exportState(), sb = await ops.exportState();
    for (const n of Object.keys(shapes)) {
      expect(maxDiff(await pa[n].data(), await pb[n].data()), n).toBeLessThan(2e-6);
      expect(maxDiff(sa[`${n}.adam_m`], sb[`${n}.adam_m`]), `${n} m`).toBeLessThan(1e-6);
      expect(maxDiff(sa[`${n}.adam_v`], sb[`${n}.adam_v`]), `${n} v`).toBeLessThan(1e-6);
    }
    expect(fused.step).toBe(4);
    // the parameters moved
    expect(maxDiff(await pa.wte.data(), wave(66, 3, 0.5))).toBeGreaterThan(1e-2);
  });

  it('is one kernel per step for every parameter', async () => {
    const p = makeParams();
    const opt = new AdamW(p, cfg, decays);
    const g = gradsAt(0, 1);
    const prof = await tf.profile(() => opt.clipAndApply(g, 1e-2, 1));
    expect(prof.kernels.map((k) => k.name)).toEqual(['LabClipAdamW']);
  });

  it('reference: decoupled decay only on decayed slots, and clipping scales the step by maxNorm / norm', () => {
    const g = [3, 4]; // norm 5 per slot, sqrt(50) over both
    const slot = (decay: boolean) => ({ p: [1, 1], g, m: [0, 0], v: [0, 0], decay });
    const out = () => ({ p: [0, 0], m: [0, 0], v: [0, 0] });
    const h = { lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 0, weightDecay: 0.5, bc1: 0.1, bc2: 0.01, maxNorm: 1 };
    const [a, b] = [out(), out()];
    expect(clipAdamW([slot(true), slot(false)], [a, b], h)).toBeCloseTo(Math.sqrt(50), 12);
    expect(globalNorm([slot(false)])).toBe(5);
    expect(a.m[0]).toBeCloseTo((0.1 * 3) / (Math.sqrt(50) + 1e-6), 12); // (1 - beta1) times the clipped gradient
    expect(b.p[0]).toBeCloseTo(1 - 0.1, 6); // Adam's first step is lr·sign(g)
    expect(a.p[0]).toBeCloseTo(1 - 0.1 - 0.1 * 0.5, 6); // plus lr·wd·p
  });

  it('refuses mismatched slots with a reason', () => {
    const p = tf.zeros([2, 3]);
    expect(() => clipAdamWStep([{ p, g: tf.zeros([4]), m: p, v: p, decay: false }], { ...cfg, bc1: 1, bc2: 1, maxNorm: 1 })).toThrow(/g0 has shape \[4\] but its parameter is \[2,3\]/);
    expect(() => clipAdamWStep([{ p, g: tf.zeros([2, 3], 'int32'), m: p, v: p, decay: false }], { ...cfg, bc1: 1, bc2: 1, maxNorm: 1 })).toThrow(/g0 is int32/);
  });
});
