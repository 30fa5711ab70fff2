// Decoding refuses non-finite logits (argmax over NaN used to return token 0 silently).
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { parseGGUF } from '../../src/lib/gguf/reader';
import { LlamaModel, generate } from '../../src/lib/models/llama/model';
import { registerQMatMulKernels } from '../../src/lib/kernels/qmatmul';
import { greedyDecode } from '../../src/lib/models/generate';

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
    // the multi-row decoder (shared with GPT-2) too
    expect((await greedyDecode(m, [ids, ids.slice(0, 3)], { maxNewTokens: 2 })).every((r) => r.length > 0)).toBe(true);
    await expect(greedyDecode(m, [ids, ids.slice(0, 3)], { maxNewTokens: 2, hooks: nan })).rejects.toThrow(/NaN/);
    m.dispose();
  });
});

describe('the vocabulary projection runs only where its logits are read', () => {
  it('decoding projects the last position only; recording (hooksOnly) skips the head; activations and logits are unchanged', async () => {
    const bytes = new Uint8Array(readFileSync('tests/fixtures/tiny-llama-f32.gguf'));
    const m = await LlamaModel.fromGGUF(bytes, parseGGUF(bytes));
    const head = m.config.tiedOutput ? 'token_embd' : 'output';
    const headRows: number[] = [];
    m.attachAdapters({ apply: (name, x, y) => { if (name === head) headRows.push(x.shape[0]); return y; } }); // an adapter that only counts
    const ids = m.tokenizer.encode(' the cat and 12', { addBos: true }), T = ids.length;
    // full forward: every position projected
    const full = m.forward(tf.tensor2d(ids, [1, T], 'int32'));
    expect(headRows).toEqual([T]);
    const fullV = (await full.data()) as Float32Array, V = m.dims.vocabSize;
    // decoding: the prompt's forward projects its last position alone, and gives the same logits
    headRows.length = 0;
    const cache = m.newCache();
    const last = m.run(tf.tensor2d(ids, [1, T], 'int32'), 0, cache, {}, true);
    expect(last.shape).toEqual([1, 1, V]);
    const lastV = (await last.data()) as Float32Array;
    let err = 0;
    for (let v = 0; v < V; v++) err = Math.max(err, Math.abs(lastV[v] - fullV[(T - 1) * V + v]));
    expect(err).toBeLessThan(1e-5);
    m.disposeCache(cache);
    expect(headRows).toEqual([1]);
    headRows.length = 0;
    await generate(m, ids, { maxTokens: 3, greedy: true, stopIds: [] });
    expect(headRows).toEqual([1, 1, 1]);
    // recording: hooks see the same activations, the head never runs
    headRows.length = 0;
    const rec = m.runWithCache(tf.tensor2d(ids, [1, T], 'int32'), ['blocks.1.hook_resid_post'], { hooksOnly: true });
    expect(rec.logits.shape).toEqual([1, T, 0]);
    expect(headRows).toEqual([]);
    const ref = m.runWithCache(tf.tensor2d(ids, [1, T], 'int32'), ['blocks.1.hook_resid_post']);
    expect(Array.from(rec.cache['blocks.1.hook_resid_post'].dataSync())).toEqual(Array.from(ref.cache['blocks.1.hook_resid_post'].dataSync()));
    m.dispose();
  });
});
