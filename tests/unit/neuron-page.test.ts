// The neuron page's worker side: one neuron's statistics agree with the analysis, its activations and the
// prompts that drive it most and least come from the recorded rows (with their labels and texts), and a bad
// hook or neuron is refused with the valid range. (Steering one neuron runs in tests/browser/neuron-page.test.ts.)
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { ActivationStore } from '../../src/lib/store';
import { analyzeStore } from '../../src/lib/neurons/pipeline';
import { asRanked, neuronProfile } from '../../src/lib/worker/neuron';
import { mulberry32 } from '../../src/lib/util/rng';

const HOOKS = [
  { name: 'hook_embed', layer: 0, dim: 8 },
  { name: 'blocks.0.hook_resid_post', layer: 1, dim: 8 },
];

describe('neuron profile', () => {
  it('reads one neuron from the store: stats, rank, mem/gen values and the extreme prompts', async () => {
    const store = await ActivationStore.create({ id: 'neuron-page', version: 1, model: 'gpt2-tiny', checkpoint: 'x', task: 'cipher', hooks: HOOKS, dtype: 'float32', createdAt: new Date().toISOString(), labels: ['gen', 'mem'] }, { chunkBytes: 8 * 4 * 10 });
    const n = 40;
    const rand = mulberry32(3);
    const rows: Record<string, Float32Array> = {};
    for (const h of HOOKS) rows[h.name] = Float32Array.from({ length: n * h.dim }, () => rand() - 0.5);
    const labels = Uint8Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 1 : 0)); // (mem, gen) twins
    // neuron 5 of the residual hook tracks the label (plus noise), neuron 2 of the embedding is constant
    for (let r = 0; r < n; r++) {
      rows['blocks.0.hook_resid_post'][r * 8 + 5] = labels[r] * 2 + (rand() - 0.5) * 0.1 + r * 0.001;
      rows.hook_embed[r * 8 + 2] = 1;
    }
    const ids = Array.from({ length: n }, (_, i) => `id${i}`);
    await store.appendRows(rows, labels, ids);
    await store.flush();
    const a = await analyzeStore(store, { topFractions: [0.1], welch: true, probe: false });
    const text = new Map(ids.map((id, i) => [id, `prompt ${i}`]));

    const p = await neuronProfile(a, store, text, 'blocks.0.hook_resid_post', 5, 4);
    expect(p.rank).toBe(1);
    expect(p.positions).toBe(15); // 16 positions, one constant
    expect(p.r).toBeCloseTo(a.stats[1].r[5], 6);
    expect(p.q).toBeLessThan(1e-6);
    expect(p.mem.length).toBe(20);
    expect(p.gen.length).toBe(20);
    const mean = (x: Float32Array) => x.reduce((s, v) => s + v, 0) / x.length;
    expect(mean(p.mem) - mean(p.gen)).toBeCloseTo(p.nmd, 5);
    expect(p.nmd).toBeGreaterThan(1.9);
    // most: the mem rows, highest first (the r * 0.001 drift puts the last mem rows on top); least: gen rows
    expect(p.most.map((x) => x.label)).toEqual(['mem', 'mem', 'mem', 'mem']);
    expect(p.least.map((x) => x.label)).toEqual(['gen', 'gen', 'gen', 'gen']);
    for (let i = 1; i < 4; i++) {
      expect(p.most[i - 1].value).toBeGreaterThanOrEqual(p.most[i].value);
      expect(p.least[i - 1].value).toBeLessThanOrEqual(p.least[i].value);
    }
    expect(p.most[0].prompt).toMatch(/^prompt \d+$/);
    expect(asRanked(a, 'blocks.0.hook_resid_post', 5)).toMatchObject({ hook: 'blocks.0.hook_resid_post', index: 5, rank: 1 });

    const c = await neuronProfile(a, store, new Map(), 'hook_embed', 2, 3);
    expect(c.constant).toBe(true);
    expect(c.rank).toBeNull();
    expect(c.most[0].prompt).toMatch(/^id\d+$/); // no text known: the id

    await expect(neuronProfile(a, store, text, 'blocks.0.hook_resid_post', 8)).rejects.toThrow(/neurons 0 to 7/);
    await expect(neuronProfile(a, store, text, 'blocks.9.hook_resid_post', 0)).rejects.toThrow(/no hook "blocks.9.hook_resid_post"; its hooks are hook_embed, blocks.0.hook_resid_post/);
  });
});
