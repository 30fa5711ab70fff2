// The one normal sampler (src/lib/util/rng.ts): standard normal moments from a seeded source, finite at u = 0.
import { describe, expect, it } from 'vitest';
import { mulberry32, normalSampler, Rng } from '../../src/lib/util/rng';

describe('normalSampler', () => {
  it('gives mean 0, variance 1 and the normal tail share over either generator', () => {
    const r = new Rng(3);
    for (const uniform of [mulberry32(1), () => r.next()]) {
      const g = normalSampler(uniform);
      const n = 50_000;
      let s = 0, s2 = 0, tail = 0;
      for (let i = 0; i < n; i++) { const v = g(); s += v; s2 += v * v; if (Math.abs(v) > 1.96) tail++; }
      expect(Math.abs(s / n)).toBeLessThan(0.02); // sd of the mean: 1/sqrt(n) = 0.0045
      expect(Math.abs(s2 / n - 1)).toBeLessThan(0.03);
      expect(Math.abs(tail / n - 0.05)).toBeLessThan(0.005);
    }
  });

  it('stays finite when the source gives 0', () => {
    const zeros = [0, 0.25];
    const v = normalSampler(() => zeros.shift() ?? 0)();
    expect(Number.isFinite(v)).toBe(true);
    expect(v).toBeCloseTo(0, 9); // cos(2 pi 0.25) = 0
  });
});
