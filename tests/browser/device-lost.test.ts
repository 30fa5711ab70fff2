// Fault injection on WebGPU: the GPU device is destroyed in the middle of training (the worker notices, says so
// in plain words, rebuilds the device, resumes from the last checkpoint, and the run finishes); the GPU runs out
// of memory mid-run (the run pauses at its last checkpoint with the setting that fits, and resumes with it); a
// setting too large for the device's buffers is refused before anything is allocated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openHarness } from './chromium';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe('GPU device lost during training', () => {
  it('rebuilds the device and resumes from the last checkpoint', async () => {
    const page = await openHarness(browser);
    const r = await page.evaluate(async () => {
      const w = window as unknown as { labImport: (p: string) => Promise<any> };
      const { getLab, Comlink } = await w.labImport('/src/lib/worker/client.ts');
      const lab = getLab();
      await lab.init('webgpu');
      const cfg = { ...(await lab.training.defaults('cipher', 'tiny')), steps: 6, evalEvery: 2, evalLimit: 2, batchSize: 4 };
      const notices: string[] = [];
      const steps: number[] = [];
      const evals: number[] = [];
      let killed = false;
      const done = new Promise<{ status: string; message?: string }>((resolve) => {
        void lab.training.start(cfg, Comlink.proxy({
          // Comlink proxies every member, so each callback the worker calls must exist
          onStart: () => undefined,
          onProgress: () => undefined,
          onLog: (e: { step: number }) => {
            steps.push(e.step);
            // step 3 runs only after step 2's checkpoint is stored: destroy the device then
            if (!killed && e.step === 3) { killed = true; void lab.simulateDeviceLoss(); }
          },
          onEval: (e: { step: number }) => evals.push(e.step),
          onNotice: (m: string) => { notices.push(m); steps.push(-1); },
          onDone: (status: string, message?: string) => resolve({ status, message: status === 'done' ? undefined : message }),
        }));
      });
      const end = await done;
      return { end, notices, steps, evals, backend: await lab.currentBackend() };
    });
    expect(r.end.message ?? r.end.status).toBe('done');
    expect(r.notices.join(' ')).toMatch(/GPU device was lost/);
    expect(r.notices.join(' ')).toMatch(/resumed from step 2/);
    // training picks up right after the checkpoint of step 2: at most one evaluation interval is lost
    const afterNotice = r.steps.slice(r.steps.lastIndexOf(-1) + 1);
    expect(afterNotice).toEqual([3, 4, 5, 6]);
    expect(Math.max(...r.steps.slice(0, r.steps.indexOf(-1)))).toBeLessThanOrEqual(4);
    expect((page as Page & { errors?: string[] }).errors).toEqual([]);
    await page.close();
  });

  it('refuses a setting over the device\'s buffer cap before allocating, naming the batch that fits', async () => {
    const page = await openHarness(browser);
    const r = await page.evaluate(async () => {
      const w = window as unknown as { labImport: (p: string) => Promise<any> };
      const { getLab, Comlink } = await w.labImport('/src/lib/worker/client.ts');
      const lab = getLab();
      await lab.init('webgpu');
      const before = await lab.memory();
      const cfg = { ...(await lab.training.defaults('cipher', 'gpt2-small')), batchSize: 200_000 };
      let message = '';
      try {
        await lab.training.start(cfg, Comlink.proxy({ onStart: () => undefined, onProgress: () => undefined, onLog: () => undefined, onEval: () => undefined, onNotice: () => undefined, onDone: () => undefined }));
      } catch (e) { message = (e as Error).message; }
      return { message, before, after: await lab.memory(), running: await lab.training.isRunning() };
    });
    expect(r.message).toMatch(/Batch 200000 on preset gpt2-small needs a .* buffer for the MLP hidden .* this GPU allows at most .* per buffer/);
    expect(r.message).toMatch(/Nothing was allocated\. The largest batch that fits is \d+: set batch \d+ with gradient accumulation \d+/);
    expect(r.after).toEqual(r.before);
    expect(r.running).toBe(false);
    await page.close();
  });
});

describe('GPU out of memory during training', () => {
  it('pauses at the last checkpoint with the advice, and resumes with the smaller batch', async () => {
    const page = await openHarness(browser);
    const r = await page.evaluate(async () => {
      const w = window as unknown as { labImport: (p: string) => Promise<any> };
      const { getLab, Comlink } = await w.labImport('/src/lib/worker/client.ts');
      const { getRun } = await w.labImport('/src/lib/store/runs.ts');
      const lab = getLab();
      await lab.init('webgpu');
      const cfg = { ...(await lab.training.defaults('cipher', 'tiny')), steps: 6, evalEvery: 2, evalLimit: 2, batchSize: 4 };
      const steps: number[] = [];
      let runId = '';
      const events = (hit: boolean, resolve: (v: { status: string; message?: string }) => void) => Comlink.proxy({
        onStart: (i: { runId: string }) => (runId = i.runId),
        onProgress: () => undefined,
        onLog: (e: { step: number }) => {
          steps.push(e.step);
          if (hit && e.step === 3) void lab.simulateOutOfMemory(); // after step 2's checkpoint is stored
        },
        onEval: () => undefined,
        onNotice: () => undefined,
        onDone: (status: string, message?: string) => resolve({ status, message }),
      });
      const first = await new Promise<{ status: string; message?: string }>((resolve) => { void lab.training.start(cfg, events(true, resolve)); });
      const paused = await getRun(runId);
      if (!paused) return { first, runId, steps };
      steps.push(-1);
      const second = await new Promise<{ status: string; message?: string }>((resolve) => { void lab.training.resume(runId, events(false, resolve), paused.summary.suggested); });
      const end = await getRun(runId);
      return { first, second, steps, paused: { status: paused.status, suggested: paused.summary.suggested, latest: !!paused.artifacts.latest, step: paused.summary.step }, end: { status: end.status, batchSize: end.config.batchSize, gradAccum: end.config.gradAccum, step: end.summary.step } };
    });
    if (!('paused' in r)) throw new Error(`no stored run: ${JSON.stringify(r)}`);
    expect(r.first.status).toBe('failed');
    expect(r.first.message).toMatch(/The GPU ran out of memory \(simulated: a buffer allocation failed\)\. Training is paused at the last checkpoint \(step 2\); nothing saved was lost\./);
    expect(r.first.message).toMatch(/Resume with batch 2 and gradient accumulation 2/);
    expect(r.paused).toEqual({ status: 'paused', suggested: { batchSize: 2, gradAccum: 2 }, latest: true, step: 2 });
    expect(r.second?.status).toBe('done');
    // the resumed run picks up after step 2, on the new setting
    expect(r.steps.slice(r.steps.indexOf(-1) + 1)).toEqual([3, 4, 5, 6]);
    expect(r.end).toEqual({ status: 'done', batchSize: 2, gradAccum: 2, step: 6 });
    expect((page as Page & { errors?: string[] }).errors).toEqual([]);
    await page.close();
  });
});
