// Training memory: the footprint's parameter count is the model's, the largest batch that fits a buffer cap is
// exactly the boundary, a setting over the cap is refused with the numbers and a fix, and the advice after an
// out-of-memory keeps the effective batch.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { GPT2, initWeights, getOps, presetConfig, countParams } from '../../src/lib/models/gpt2';
import { checkTrainFits, largestBatchThatFits, outOfMemoryAdvice, trainFootprint, TooLargeForDeviceError } from '../../src/lib/train/memory';
import { getTask } from '../../src/lib/tasks';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('training footprint', () => {
  it('counts exactly the parameters the model has', () => {
    const tok = getTask('cipher').tokenizer();
    for (const c of [presetConfig('tiny', tok.size, 30), { ...presetConfig('tiny', tok.size, 30), nLayer: 3, dModel: 32, nHead: 4 }]) {
      const m = new GPT2(c, initWeights(c, 1), tok, getOps('fused'));
      const n = Object.values(m.params).reduce((a, p) => a + p.size, 0);
      expect(countParams(c)).toBe(n);
      expect(trainFootprint(c, 1).params).toBe(n);
      m.dispose();
    }
  });

  it('finds the largest batch under a buffer cap, and refuses one over it with the fix', () => {
    const c = presetConfig('gpt2-small', 50257, 1024);
    const cap = 2 ** 30;
    const b = largestBatchThatFits(c, cap);
    expect(b).toBeGreaterThan(0);
    expect(trainFootprint(c, b).largest.bytes).toBeLessThanOrEqual(cap);
    expect(trainFootprint(c, b + 1).largest.bytes).toBeGreaterThan(cap);
    expect(() => checkTrainFits(c, b, 1, { maxStorageBufferBindingSize: cap, maxBufferSize: 2 ** 32 })).not.toThrow();
    let err: Error | undefined;
    try { checkTrainFits(c, 32, 2, { maxStorageBufferBindingSize: cap, maxBufferSize: 2 ** 32 }, 'gpt2-small'); } catch (e) { err = e as Error; }
    expect(err).toBeInstanceOf(TooLargeForDeviceError);
    expect(err!.message).toContain('logits');
    expect(err!.message).toContain('1.0 GB per buffer');
    expect(err!.message).toContain(`largest batch that fits is ${b}`);
    expect(err!.message).toContain(`gradient accumulation ${Math.ceil(64 / b)}`);
    // a vocabulary too big for even one example
    expect(largestBatchThatFits({ ...c, vocabSize: 10_000_000 }, cap)).toBe(0);
  });

  it('after an out-of-memory, suggests half the batch and keeps the effective batch', () => {
    const c = presetConfig('classroom', 111, 30);
    const a = outOfMemoryAdvice(c, 64, 3, 'classroom');
    expect(a.batchSize).toBe(32);
    expect(a.gradAccum).toBe(6);
    expect(a.text).toMatch(/Resume with batch 32 and gradient accumulation 6/);
    expect(outOfMemoryAdvice(c, 1, 1, 'classroom').text).toMatch(/smaller preset/);
    // the footprint grows with the batch and the state part does not
    expect(trainFootprint(c, 64).activationBytes).toBeCloseTo(2 * trainFootprint(c, 32).activationBytes, -3);
    expect(trainFootprint(c, 64).stateBytes).toBe(trainFootprint(c, 32).stateBytes);
  });
});
