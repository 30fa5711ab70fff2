// Intervals against published values (Newcombe 1998, Table I, method 3 = Wilson score without continuity
// correction) and the bootstrap against the normal approximation it must agree with on large samples.
import { describe, expect, it } from 'vitest';
import { bootstrapDiff, quantile, verdict, wilson, wilsonPct } from '../../src/lib/neurons/intervals';

describe('wilson', () => {
  it('matches Newcombe (1998) Table I', () => {
    const cases: Array<[number, number, number, number]> = [
      [81, 263, 25.53, 36.62],
      [15, 148, 6.24, 16.05],
      [0, 20, 0, 16.11],
      [1, 29, 0.61, 17.18],
    ];
    for (const [k, n, lo, hi] of cases) {
      const [l, h] = wilson(k, n);
      expect(l).toBeCloseTo(lo, 2);
      expect(h).toBeCloseTo(hi, 2);
    }
  });

  it('stays inside 0..100, is exact at the ends, and is symmetric in k <-> n - k', () => {
    expect(wilson(0, 10)).toEqual([0, expect.closeTo(27.75, 2)]);
    expect(wilson(10, 10)[1]).toBe(100);
    const [a, b] = wilson(3, 17);
    const [c, d] = wilson(14, 17);
    expect(a).toBeCloseTo(100 - d, 10);
    expect(b).toBeCloseTo(100 - c, 10);
    expect(wilson(0, 0)).toEqual([0, 100]);
    expect(wilsonPct(25, 20)).toEqual(wilson(5, 20));
  });

  it('names bad input', () => {
    expect(() => wilson(5, 3)).toThrow(/k must be in 0..n/);
    expect(() => wilson(1, 2.5)).toThrow(/n must be a whole number/);
  });
});

describe('bootstrapDiff', () => {
  it('agrees with the normal approximation for one control run of zeros (diff = targeted share)', () => {
    const n = 400;
    const t = Array.from({ length: n }, (_, i) => (i % 10 < 3 ? 1 : 0)); // 30%
    const d = bootstrapDiff(t, [new Array(n).fill(0)], { reps: 4000, seed: 3 });
    const se = 100 * Math.sqrt((0.3 * 0.7) / n);
    expect(d.estimate).toBeCloseTo(30, 10);
    expect(d.lo).toBeCloseTo(30 - 1.96 * se, 0);
    expect(d.hi).toBeCloseTo(30 + 1.96 * se, 0);
    expect(d.control).toEqual({ value: 0, lo: 0, hi: 0 });
  });

  it('is paired over prompts: identical runs give exactly 0 with a zero-width interval', () => {
    const t = [1, 0, 1, 1, 0, 0, 1, 0];
    const d = bootstrapDiff(t, [t.slice(), t.slice()]);
    expect([d.estimate, d.lo, d.hi]).toEqual([0, 0, 0]);
    expect(verdict(d)).toBe('not shown');
  });

  it('widens with seed-to-seed spread of the control, and says "holds" only above 0', () => {
    const n = 300;
    const t = Array.from({ length: n }, (_, i) => (i % 2 ? 1 : 0)); // 50%
    const steady = Array.from({ length: 10 }, () => Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 1 : 0))); // 20% each
    const spread = Array.from({ length: 10 }, (_, s) => Array.from({ length: n }, (_, i) => (i % 10 < (s % 2 ? 4 : 0) ? 1 : 0))); // 0% or 40%
    const a = bootstrapDiff(t, steady, { seed: 1 });
    const b = bootstrapDiff(t, spread, { seed: 1 });
    expect(a.estimate).toBeCloseTo(30, 10);
    expect(b.estimate).toBeCloseTo(30, 10);
    expect(b.hi - b.lo).toBeGreaterThan(1.5 * (a.hi - a.lo));
    expect(verdict(a)).toBe('holds');
    expect(verdict({ lo: -2, hi: 5 })).toBe('not shown');
    expect(a.control.lo).toBeLessThan(20);
    expect(a.control.hi).toBeGreaterThan(20);
  });

  it('is seeded and checks its input', () => {
    const t = [1, 0, 1, 0, 1];
    const c = [[0, 0, 1, 0, 0], [0, 1, 0, 0, 0]];
    expect(bootstrapDiff(t, c, { seed: 9 })).toEqual(bootstrapDiff(t, c, { seed: 9 }));
    expect(() => bootstrapDiff(t, [[1, 0]])).toThrow(/same prompts/);
    expect(() => bootstrapDiff([], [[]])).toThrow(/no prompts/);
  });

  it('quantile interpolates (type 7)', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([0, 10], 0.025)).toBeCloseTo(0.25, 10);
  });
});
