// The neuron pipeline end to end on a real (untrained) GPT-2 and real cipher pairs, with IndexedDB faked in Node:
// flips are kept only when one prompt is mem and the other gen; recording stores the last-prompt-token activations
// (checked against a direct forward); analysis sees every recorded row.
import 'fake-indexeddb/auto';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { GPT2, initWeights, getOps, type GPT2Config } from '../../src/lib/models/gpt2';
import { getTask } from '../../src/lib/tasks';
import type { Task, EvalItem } from '../../src/lib/tasks/types';
import { analyzeStore, defaultHooks, findFlipPairs, hookDim, lastTokenActivations, neuronLayer, recordPairs } from '../../src/lib/neurons/pipeline';
import { ActivationStore } from '../../src/lib/store/activations';
import { decodeAndLabel } from '../../src/lib/train/evaluate';
import { disposeCache } from '../../src/lib/models/hooks';

const base = getTask('cipher');
const tok = base.tokenizer();
const cfg: GPT2Config = { nLayer: 2, nHead: 2, dModel: 16, nCtx: base.maxTokens(), vocabSize: tok.size, eps: 1e-5 };
// An untrained model answers both prompts of a pair alike, so label by a deterministic property of the prompt
// (the two prompts of a pair differ in two swapped letters) and of the output: both labels occur, and the
// pipeline's bookkeeping runs on real decoding.
const parity = (s: string) => [...s].reduce((a, ch) => a + ch.charCodeAt(0) * (a % 7 + 1), 0) % 2;
const task: Task = { ...base, label: (it: EvalItem, out: string) => (parity(it.prompt.slice(11, 24)) ^ (out.length % 2) ? 'mem' : 'gen') };

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('neuron pipeline', () => {
  it('records the FFN LayerNorm output (ln2): per row mean 0 and variance 1 at unit LayerNorm weights', async () => {
    const m = new GPT2(cfg, initWeights(cfg, 12), tok, getOps('fused'));
    const names = defaultHooks(m, 'ln2');
    expect(names).toEqual(['blocks.0.ln2.hook_normalized', 'blocks.1.ln2.hook_normalized']);
    expect(names.map(neuronLayer)).toEqual([0, 1]);
    expect(names.map((n) => hookDim(m, n))).toEqual([16, 16]);
    const prompts = base.evalSet(1).slice(0, 3).map((it) => m.encodePrompt(it.prompt));
    const acts = await lastTokenActivations(m, prompts, names, tok.padId);
    for (const n of names) {
      for (let b = 0; b < 3; b++) {
        const row = Array.from(acts[n].slice(b * 16, b * 16 + 16));
        const mean = row.reduce((a, x) => a + x, 0) / 16;
        const v = row.reduce((a, x) => a + (x - mean) ** 2, 0) / 16;
        expect(Math.abs(mean)).toBeLessThan(1e-5);
        expect(v).toBeGreaterThan(0.95); // below 1 only by eps against the small initial residual variance
        expect(v).toBeLessThanOrEqual(1 + 1e-5);
      }
    }
    m.dispose();
  });

  it('keeps only mem/gen flips, records their activations, and analyzes every row', async () => {
    const m = new GPT2(cfg, initWeights(cfg, 11), tok, getOps('fused'));
    const r = await findFlipPairs(m, task, { seed: 1, target: 12, maxTried: 60, timeCapSeconds: 60, decode: 'greedy', chunk: 16, padId: tok.padId });
    expect(r.kept.length).toBeGreaterThan(0);
    expect(r.tried).toBeGreaterThanOrEqual(r.kept.length);
    expect(r.labelCounts.mem + r.labelCounts.gen + r.labelCounts.other).toBe(2 * r.tried);
    // re-decode: every kept pair really is one mem and one gen, in the stated roles
    const again = await decodeAndLabel(m, task, r.kept.flatMap((k) => [k.mem, k.gen]), { decode: 'greedy', padId: tok.padId });
    again.outputs.forEach((o, i) => expect(o.label).toBe(i % 2 === 0 ? 'mem' : 'gen'));

    const names = defaultHooks(m);
    expect(names).toEqual(['blocks.0.hook_resid_pre', 'blocks.0.hook_resid_post', 'blocks.1.hook_resid_post']);
    expect(names.map(neuronLayer)).toEqual([0, 1, 2]);
    const store = await ActivationStore.create({
      id: 'pipeline-test', version: 1, model: 'gpt2-test', checkpoint: 'none', task: 'cipher',
      hooks: names.map((n) => ({ name: n, layer: neuronLayer(n), dim: hookDim(m, n) })), dtype: 'float32', createdAt: new Date().toISOString(),
    });
    await recordPairs(m, r.kept, store, { batch: 5, padId: tok.padId });
    expect(store.rowCount()).toBe(2 * r.kept.length);

    // the stored row for the first kept mem prompt equals the last row of a whole-sequence cache of that prompt alone
    const prompt = m.encodePrompt(r.kept[0].mem.prompt);
    const whole = m.runWithCache(tf.tensor2d([prompt], [1, prompt.length], 'int32'), ['blocks.1.hook_resid_post']);
    const direct = (whole.cache['blocks.1.hook_resid_post'].dataSync() as Float32Array).slice((prompt.length - 1) * 16, prompt.length * 16);
    disposeCache(whole);
    const all = await store.readAll('blocks.1.hook_resid_post');
    expect(Array.from(all.labels.slice(0, 4))).toEqual([1, 0, 1, 0].slice(0, Math.min(4, all.labels.length)));
    for (let c = 0; c < 16; c++) expect(all.data[c]).toBeCloseTo(direct[c], 5);
    // batching and right-padding do not change a row's activation (the padded row is the second one)
    const padded = await lastTokenActivations(m, [[...prompt, 5, 6, 7], prompt], ['blocks.1.hook_resid_post'], tok.padId);
    for (let c = 0; c < 16; c++) expect(padded['blocks.1.hook_resid_post'][16 + c]).toBeCloseTo(direct[c], 5);

    const a = await analyzeStore(store, { topFractions: [0.05, 0.1], welch: true, probe: true });
    expect(a.nMem).toBe(r.kept.length);
    expect(a.nGen).toBe(r.kept.length);
    // a cipher prompt always ends in the same token at the same position: the embedding row is constant, so its
    // 16 positions are degenerate and out of the ranking, the top-k denominator (32, not 48) and the probes
    expect(a.hooks.map((h) => h.degenerate)).toEqual([16, 0, 0]);
    expect(a.top['0.1'].length).toBe(Math.round(0.1 * 32));
    expect(a.top['0.1'].every((n) => n.layer > 0)).toBe(true);
    expect(a.probes.map((p) => p.layer)).toEqual([1, 2]);
    expect(a.layerDistribution['0.1'].reduce((s, d) => s + d.count, 0)).toBe(a.top['0.1'].length);
    m.dispose();
  });
});
