// Fault injection: the GPU device is destroyed in the middle of training on WebGPU. The worker notices, says so
// in plain words, rebuilds the device, resumes from the last checkpoint, and the run finishes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { baseUrl, launchChromium } from './chromium';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe('GPU device lost during training', () => {
  it('rebuilds the device and resumes from the last checkpoint', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${baseUrl()}/tests/harness/index.html`);
    await page.waitForFunction(() => (window as unknown as { harnessReady?: boolean }).harnessReady === true);
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
    expect(errors).toEqual([]);
    await page.close();
  });
});
