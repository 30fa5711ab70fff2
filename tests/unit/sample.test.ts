// The Neurons page warns when a sample is too small to mean anything.
import { describe, expect, it } from 'vitest';
import { sampleWarnings } from '../../src/lib/neurons/sample';

describe('sampleWarnings', () => {
  it('names a probe at or below chance and a map with nothing significant after BH', () => {
    const w = sampleWarnings({ nMem: 6, nGen: 5, probes: [{ testAcc: 0.4, chance: 0.55 }, { testAcc: 0.5, chance: 0.55 }], stats: [{ q: Float64Array.from([0.3, 0.9]) }] });
    expect(w).toHaveLength(2);
    expect(w[0]).toMatch(/no layer's probe beats chance .*best 50%, chance 55%/);
    expect(w[1]).toMatch(/no neuron is significant after the Benjamini-Hochberg correction/);
  });
  it('says nothing for a sample that separates the behaviors', () => {
    expect(sampleWarnings({ nMem: 300, nGen: 300, probes: [{ testAcc: 0.9, chance: 0.5 }], stats: [{ q: Float64Array.from([0.2, 0.001]) }] })).toEqual([]);
  });
});
