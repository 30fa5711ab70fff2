// Long runs keep memory flat: training (with evaluations and checkpoints) and the neuron pipeline (pairs,
// recording, analysis, steering) run in the lab's worker on wasm, and the live tensor count and bytes do not
// grow from one step (or one round) to the next.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium, openHarness, shippedModel } from './chromium';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe('memory over long runs', () => {
  it('training: tensors and bytes are the same after every step, across evaluations and checkpoints', async () => {
    const page = await openHarness(browser);
    const r = await page.evaluate(async () => {
      const w = window as unknown as { labImport: (p: string) => Promise<any> };
      const { getLab, Comlink } = await w.labImport('/src/lib/worker/client.ts');
      const lab = getLab();
      await lab.init('wasm');
      const cfg = { ...(await lab.training.defaults('cipher', 'tiny')), steps: 240, evalEvery: 40, evalLimit: 6, batchSize: 8 };
      const log: Array<{ step: number; tensors: number; tensorBytes: number }> = [];
      const evals: number[] = [];
      const end = await new Promise<string>((resolve) => {
        void lab.training.start(cfg, Comlink.proxy({
          onStart: () => undefined, onProgress: () => undefined, onNotice: () => undefined,
          onLog: (e: { step: number; tensors: number; tensorBytes: number }) => log.push({ step: e.step, tensors: e.tensors, tensorBytes: e.tensorBytes }),
          onEval: (e: { step: number }) => evals.push(e.step),
          onDone: (status: string, message?: string) => resolve(message ?? status),
        }));
      });
      return { end, log, evals, after: await lab.memory() };
    });
    expect(r.end).toBe('done');
    expect(r.evals).toEqual([40, 80, 120, 160, 200, 240]);
    expect(r.log.length).toBe(240);
    // from step 2 on (the optimizer's moments exist after step 1), every step leaves the same tensors behind
    const steady = r.log.slice(1);
    expect(new Set(steady.map((e) => e.tensors)).size).toBe(1);
    expect(new Set(steady.map((e) => e.tensorBytes)).size).toBe(1);
    // and the finished run released them all
    expect(r.after.numTensors).toBeLessThan(steady[0].tensors);
    await page.close();
  });

  it('the neuron pipeline on the shipped checkpoint: rounds of pairs, recording, analysis and steering leave no tensors behind', async () => {
    const page = await openHarness(browser);
    const r = await page.evaluate(async (file) => {
      const w = window as unknown as { labImport: (p: string) => Promise<any> };
      const { getLab } = await w.labImport('/src/lib/worker/client.ts');
      const lab = getLab();
      await lab.init('wasm');
      await lab.analysis.useCheckpoint({ url: `/static-models/${file}` });
      const loaded = await lab.memory();
      const rounds: Array<{ numTensors: number; numBytes: number; kept: number; rows: number; cells: number }> = [];
      for (let round = 0; round < 3; round++) {
        const p = await lab.analysis.findPairs({ seed: round + 1, target: 24, timeCapSeconds: 120 });
        const rec = await lab.analysis.record({ batch: 16 });
        await lab.analysis.analyze({});
        const sw = await lab.analysis.sweep({ alphas: [1], topFractions: [0.05], controlSeeds: 1, maxPrompts: 6 });
        rounds.push({ ...(await lab.memory()), kept: p.kept, rows: rec.rows, cells: sw.cells.length });
      }
      return { loaded, rounds };
    }, shippedModel('cipher'));
    for (const x of r.rounds) {
      expect(x.kept).toBe(24);
      expect(x.rows).toBe(48);
      expect(x.cells).toBeGreaterThanOrEqual(1);
      // the active model's weights are the only tensors alive between jobs
      expect(x.numTensors).toBe(r.loaded.numTensors);
      expect(x.numBytes).toBe(r.loaded.numBytes);
    }
    await page.close();
  });
});
