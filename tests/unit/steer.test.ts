// Steering: the intervention adds exactly alpha * shift at exactly the selected positions; the random control
// draws the specified count and range; sweep tables add up to 100% per row; consistency metrics are right.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { GPT2, initWeights, getOps } from '../../src/lib/models/gpt2';
import type { GPT2Config } from '../../src/lib/models/gpt2';
import { controlShifts, directionControl, matchedControl, randomControl, steeringHooks, targetedShifts, type ControlHook } from '../../src/lib/steer/steer';
import { jaccard, randomJaccard, spearman, steeringSweep, consistency, crossSteering } from '../../src/lib/steer/experiment';
import type { RankedNeuron } from '../../src/lib/neurons/stats';
import { getTask } from '../../src/lib/tasks';
import { batchTensor, disposeCache, padRight } from '../../src/lib/models/hooks';

const cfg: GPT2Config = { nLayer: 2, nHead: 2, dModel: 16, nCtx: 40, vocabSize: 111, eps: 1e-5 };
const top: RankedNeuron[] = [
  { hook: 'blocks.0.hook_resid_post', layer: 1, index: 3, r: 0.9, nmd: 0.5, rank: 1 },
  { hook: 'blocks.1.hook_resid_post', layer: 2, index: 7, r: -0.8, nmd: -1.25, rank: 2 },
  { hook: 'blocks.1.hook_resid_post', layer: 2, index: 0, r: 0.7, nmd: 2, rank: 3 },
];
const hooks = [{ name: 'blocks.0.hook_resid_pre', dim: 16 }, { name: 'blocks.0.hook_resid_post', dim: 16 }, { name: 'blocks.1.hook_resid_post', dim: 16 }];
const dims = Object.fromEntries(hooks.map((h) => [h.name, h.dim]));

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/**
 * Per steered hook: its activation with that hook's edit alone (what the next layer gets) and without it, as a
 * decoder runs it (edits from each row's last prompt token on, rows right-padded).
 */
function capture(m: GPT2, ids: number[][], steer: ReturnType<typeof steeringHooks>, promptLengths: number[]) {
  const got: Record<string, Float32Array> = {};
  const batch = padRight(ids, 0);
  const opts = { editFrom: promptLengths.map((l) => l - 1), seqLengths: batch.seqLengths };
  for (const n of Object.keys(steer)) {
    for (const [key, hooks] of [[n, { [n]: steer[n] }], [`${n}:before`, {}]] as const) {
      const r = tf.tidy(() => m.runWithCache(batchTensor(batch), [n], { ...opts, hooks }));
      got[key] = r.cache[n].dataSync() as Float32Array;
      disposeCache(r);
    }
  }
  return { got, T: batch.T };
}

describe('intervention', () => {
  it('adds exactly alpha x shift at the selected neurons, from the last prompt token on, and nothing else', async () => {
    const m = new GPT2(cfg, initWeights(cfg, 1), getTask('cipher').tokenizer(), getOps('fused'));
    const alpha = 3;
    const shifts = targetedShifts(top, 'toGen'); // shift = -NMD
    const { got, T } = capture(m, [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10]], steeringHooks(shifts, alpha, dims), [4, 3]);
    const C = 16;
    for (const n of ['blocks.0.hook_resid_post', 'blocks.1.hook_resid_post']) {
      const after = got[n], before = got[`${n}:before`];
      for (let b = 0; b < 2; b++)
        for (let t = 0; t < T; t++)
          for (let c = 0; c < C; c++) {
            const i = (b * T + t) * C + c;
            const s = shifts.find((x) => x.hook === n && x.index === c);
            const seqLen = b === 0 ? 6 : 4, pl = b === 0 ? 4 : 3;
            const expected = s && t >= pl - 1 && t < seqLen ? alpha * s.shift : 0;
            expect(after[i] - before[i]).toBeCloseTo(expected, 5);
          }
    }
    expect(shifts.map((s) => s.shift)).toEqual([-0.5, 1.25, -2]);
    m.dispose();
  });

  it('changes nothing when alpha = 0', async () => {
    const m = new GPT2(cfg, initWeights(cfg, 2), getTask('cipher').tokenizer(), getOps('fused'));
    const ids = tf.tensor2d([[1, 2, 3, 4]], [1, 4], 'int32');
    const a = await tf.tidy(() => m.forward(ids)).data();
    const h = steeringHooks(targetedShifts(top, 'toMem'), 0, dims);
    expect(Object.keys(h)).toEqual([]);
    const b = await tf.tidy(() => m.runWithHooks(ids, h, { editFrom: [1], seqLengths: [4] })).data();
    expect(Array.from(b)).toEqual(Array.from(a));
    m.dispose();
  });
});

describe('random control', () => {
  it('draws as many distinct positions as the top set, each shift within +-max|NMD|', () => {
    const big: RankedNeuron[] = Array.from({ length: 20 }, (_, i) => ({ hook: 'blocks.0.hook_resid_post', layer: 1, index: i % 16, r: 0.5, nmd: i === 5 ? -3 : 0.5, rank: i + 1 }));
    for (let seed = 0; seed < 20; seed++) {
      const c = randomControl(big, hooks, seed);
      expect(c.length).toBe(20);
      expect(new Set(c.map((x) => `${x.hook}#${x.index}`)).size).toBe(20);
      for (const x of c) {
        expect(Math.abs(x.shift)).toBeLessThanOrEqual(3);
        expect(x.index).toBeGreaterThanOrEqual(0);
        expect(x.index).toBeLessThan(16);
        expect(hooks.map((h) => h.name)).toContain(x.hook);
      }
    }
    const draws = Array.from({ length: 50 }, (_, s) => randomControl(big, hooks, s)).flat().map((x) => x.shift);
    expect(Math.min(...draws)).toBeLessThan(-2); // spans the range, both signs
    expect(Math.max(...draws)).toBeGreaterThan(2);
    expect(randomControl(big, hooks, 7)).toEqual(randomControl(big, hooks, 7)); // seeded
  });
});

// hooks with their NMD and constant positions (the embedding row: 4 constant positions), for matched and direction
const nmdOf = (h: number) => Float32Array.from({ length: 16 }, (_, j) => Math.sin(7 * h + j) * (j % 3 === 0 ? 2 : 0.5));
const full: ControlHook[] = hooks.map((h, i) => ({ ...h, nmd: nmdOf(i), degenerate: Uint8Array.from({ length: 16 }, (_, j) => (i === 0 && j < 4 ? 1 : 0)) }));
// the top set's NMD agrees with its hooks' NMD (as an analysis gives it)
const topFull: RankedNeuron[] = top.map((n) => ({ ...n, nmd: full.find((h) => h.name === n.hook)!.nmd![n.index] }));

describe('matched control', () => {
  it('draws per hook as many informative positions as the top set has there, outside the set, with the set\'s own shifts', () => {
    const own = targetedShifts(topFull, 'toGen');
    for (let seed = 0; seed < 30; seed++) {
      const c = matchedControl(topFull, full, 'toGen', seed);
      expect(c.length).toBe(topFull.length);
      for (const h of ['blocks.0.hook_resid_post', 'blocks.1.hook_resid_post']) {
        const mine = c.filter((x) => x.hook === h), theirs = own.filter((x) => x.hook === h);
        expect(mine.length).toBe(theirs.length); // same layer profile
        expect(mine.map((x) => x.shift).sort()).toEqual(theirs.map((x) => x.shift).sort()); // same values, reassigned
        for (const x of mine) expect(theirs.map((t) => t.index)).not.toContain(x.index); // other neurons
      }
      expect(new Set(c.map((x) => `${x.hook}#${x.index}`)).size).toBe(c.length);
    }
    // a set that fills a hook's informative positions (12 of 16 on the embedding row) still gets its count there
    const emb: RankedNeuron[] = Array.from({ length: 12 }, (_, i) => ({ hook: 'blocks.0.hook_resid_pre', layer: 0, index: 4 + i, r: 0.5, nmd: 1 + i, rank: i + 1 }));
    const c = matchedControl(emb, full, 'toMem', 3);
    expect(c.every((x) => x.index >= 4)).toBe(true); // never a constant position
    expect(matchedControl(topFull, full, 'toGen', 5)).toEqual(matchedControl(topFull, full, 'toGen', 5));
    expect(() => matchedControl(topFull, hooks.slice(0, 1), 'toGen', 1)).toThrow(/not among the hooks given/);
  });
});

describe('direction control', () => {
  it('is the full-width mean difference of each targeted hook, at the targeted shift\'s norm, signed by the direction', () => {
    for (const dir of ['toGen', 'toMem'] as const) {
      const d = directionControl(topFull, full, dir);
      const own = targetedShifts(topFull, dir);
      for (const [i, h] of full.entries()) {
        const mine = d.filter((x) => x.hook === h.name), theirs = own.filter((x) => x.hook === h.name);
        if (!theirs.length) { expect(mine.length).toBe(0); continue; } // only the targeted hooks
        expect(Math.hypot(...mine.map((x) => x.shift))).toBeCloseTo(Math.hypot(...theirs.map((x) => x.shift)), 5);
        // parallel to sign x NMD: shift / NMD is one positive constant for toMem, negative for toGen
        const ratios = mine.map((x) => x.shift / nmdOf(i)[x.index]);
        for (const q of ratios) expect(q).toBeCloseTo(ratios[0], 5);
        expect(Math.sign(ratios[0])).toBe(dir === 'toMem' ? 1 : -1);
        expect(mine.length).toBe(16);
      }
    }
    expect(controlShifts('direction', topFull, full, 'toGen', 1)).toEqual(controlShifts('direction', topFull, full, 'toGen', 99)); // no seed
    expect(() => directionControl(topFull, hooks, 'toGen')).toThrow(/no NMD/);
  });
});

describe('sweep', () => {
  it('gives tables whose rows add up to 100%, with every control, intervals and a verdict', async () => {
    const task = getTask('cipher');
    const m = new GPT2({ ...cfg, vocabSize: task.tokenizer().size }, initWeights({ ...cfg, vocabSize: task.tokenizer().size }, 3), task.tokenizer(), getOps('fused'));
    const items = task.evalSet(1).slice(0, 3);
    const seen: number[] = [];
    const cells = await steeringSweep(m, task, items.slice(0, 2), items.slice(2), () => topFull, full, { alphas: [0.5, 5], topFractions: [0.05], controlSeeds: 2, decode: 'greedy', padId: task.tokenizer().padId, bootstrapReps: 200 }, (d, t) => { seen.push(d / t); });
    expect(cells.length).toBe(4);
    expect(seen.length).toBe(4 * (1 + 2 + 2 + 1)); // targeted, paper x2, matched x2, direction x1
    expect(seen.at(-1)).toBe(1);
    for (const c of cells) {
      expect(c.targeted.gen + c.targeted.mem + c.targeted.other).toBeCloseTo(100, 6);
      expect(c.control.gen + c.control.mem + c.control.other).toBeCloseTo(100, 6);
      expect(c.controlSeeds).toBe(2);
      expect(c.decode).toBe('greedy');
      expect(c.controls!.map((k) => [k.kind, k.seeds])).toEqual([['paper', 2], ['matched', 2], ['direction', 1]]);
      for (const k of c.controls!) {
        expect(k.mean.gen + k.mean.mem + k.mean.other).toBeCloseTo(100, 6);
        for (const key of ['gen', 'mem', 'other'] as const) {
          expect(k.ci[key][0]).toBeGreaterThanOrEqual(0);
          expect(k.ci[key][1]).toBeLessThanOrEqual(100);
        }
        const g = c.table === 'memToGen' ? 'gen' : 'mem';
        expect(k.diff.goal.estimate).toBeCloseTo(c.targeted[g] - k.mean[g], 6);
        expect(k.verdict).toBe(k.diff.goal.lo > 0 ? 'holds' : 'not shown');
      }
      for (const key of ['gen', 'mem', 'other'] as const) expect(c.targetedCi![key][0]).toBeLessThanOrEqual(c.targeted[key]);
    }
    expect(cells.map((c) => c.table)).toEqual(['memToGen', 'memToGen', 'genToMem', 'genToMem']);
    m.dispose();
  });
});

describe('cross-steering', () => {
  it('decodes own, cross and control sets; the same set as cross gives the own result exactly', async () => {
    const task = getTask('cipher');
    const c2 = { ...cfg, vocabSize: task.tokenizer().size };
    const m = new GPT2(c2, initWeights(c2, 4), task.tokenizer(), getOps('fused'));
    const items = task.evalSet(1).slice(0, 3);
    const o = { alpha: 5, topFraction: 0.05, controlSeeds: 2, decode: 'greedy' as const, padId: task.tokenizer().padId };
    const seen: number[] = [];
    const same = await crossSteering(m, task, items.slice(0, 2), items.slice(2), top, top, hooks, o, (d, t) => { seen.push(d / t); });
    expect(same.map((x) => [x.table, x.prompts])).toEqual([['memToGen', 2], ['genToMem', 1]]);
    for (const x of same) {
      expect(x.cross).toEqual(x.own);
      for (const s of [x.own, x.cross, x.control]) expect(s.gen + s.mem + s.other).toBeCloseTo(100, 6);
    }
    expect(seen.at(-1)).toBe(1); // 2 tables x (own, cross, 2 control seeds)
    expect(seen.length).toBe(8);
    m.dispose();
  });
});

describe('consistency', () => {
  it('computes Jaccard, its random baseline and Spearman correctly', () => {
    const a = [{ hook: 'h', index: 1 }, { hook: 'h', index: 2 }, { hook: 'h', index: 3 }];
    const b = [{ hook: 'h', index: 2 }, { hook: 'h', index: 3 }, { hook: 'h', index: 4 }];
    expect(jaccard(a, b)).toBeCloseTo(2 / 4);
    expect(jaccard(a, a)).toBe(1);
    expect(randomJaccard(10, 1000)).toBeCloseTo(0.1 / 19.9, 6);
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBeCloseTo(1);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1);
    expect(spearman([1, 2, 2, 3], [1, 3, 3, 2])).toBeCloseTo(1 / 3, 6); // average ranks for ties: 1.5 / 4.5
    const absR = Float32Array.from([0.9, 0.1, 0.5]);
    const c = consistency({ top: top.slice(0, 1), absR }, { top: top.slice(0, 1), absR }, 0.05);
    expect(c.jaccard).toBe(1);
    expect(c.spearmanAbsR).toBeCloseTo(1);
    expect(() => consistency({ top, absR }, { top, absR: new Float32Array(2) }, 0.05)).toThrow(/different neuron positions/);
  });
});
