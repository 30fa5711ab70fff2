// Decoding refuses non-finite logits (argmax over NaN used to return token 0 silently).
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { parseGGUF } from '../../src/lib/gguf/reader';
import { LlamaModel, generate } from '../../src/lib/models/llama/model';
import { registerQMatMulKernels } from '../../src/lib/kernels/qmatmul';

beforeAll(async () => {
  registerQMatMulKernels();
  await tf.setBackend('cpu');
});

describe('generate on non-finite logits', () => {
  it('throws naming the step and the value instead of emitting token 0', async () => {
    const bytes = new Uint8Array(readFileSync('tests/fixtures/tiny-llama-f32.gguf'));
    const m = await LlamaModel.fromGGUF(bytes, parseGGUF(bytes));
    const ids = m.tokenizer.encode(' the cat', { addBos: true });
    const fine = await generate(m, ids, { maxTokens: 2, greedy: true, stopIds: [] });
    expect(fine.length).toBe(2);
    const nan = { 'ln_final.hook_normalized': (t: tf.Tensor) => tf.mul(t, NaN) };
    await expect(generate(m, ids, { maxTokens: 2, greedy: true, stopIds: [], hooks: nan })).rejects.toThrow(/step 1 are not finite.*NaN/);
    const inf = { 'ln_final.hook_normalized': (t: tf.Tensor) => tf.mul(t, Infinity) };
    await expect(generate(m, ids, { maxTokens: 2, greedy: true, stopIds: [], hooks: inf })).rejects.toThrow(/not finite/);
    m.dispose();
  });
});
