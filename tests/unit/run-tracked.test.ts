// One run lifecycle (worker/run-tracked.ts) serves GPT-2 training and LLaMA LoRA fine-tuning: both are jobs of the
// worker, so one "Cancel all" stops a training run and a fine-tune running side by side, and each run's record
// ends as stopped. A fine-tune that runs out of memory ends failed with advice, and its record says so.
import 'fake-indexeddb/auto';
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { registerQMatMulKernels } from '../../src/lib/kernels/qmatmul';
import { LabApi } from '../../src/lib/worker/api';
import { defaultTrainConfig } from '../../src/lib/train/trainer';
import { getRun, newRun } from '../../src/lib/store/runs';
import { runTracked } from '../../src/lib/worker/run-tracked';
import type { JobTracker } from '../../src/lib/worker/jobs';

const bytes = readFileSync('tests/fixtures/tiny-llama-q8_0.gguf');
const buf = () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;

beforeAll(async () => {
  registerQMatMulKernels();
  await tf.setBackend('cpu');
});

describe('one run lifecycle', () => {
  it('"Cancel all" reaches a GPT-2 training run and a LLaMA fine-tune running together', async () => {
    const lab = new LabApi();
    await lab.llama.loadFromBuffer(buf(), 'tiny');
    // GPT-2: far more steps than it will run; it ends only when cancelled
    let trainDone: (v: [string, string | undefined]) => void = () => undefined;
    const trainEnded = new Promise<[string, string | undefined]>((r) => (trainDone = r));
    let trainLogs = 0;
    const t = await lab.training.start({ ...defaultTrainConfig('cipher', 'tiny'), steps: 100_000, batchSize: 2, evalEvery: 100_000 }, {
      onLog: () => { trainLogs++; },
      onDone: (s, m) => trainDone([s, m]),
    });
    expect(lab.jobIds()).toEqual([t.jobId]);
    // the fine-tune, with the training run going: once both have taken steps, one call stops both
    let ftJob = '', jobsSeen: string[] = [];
    const ft = lab.llama.fineTune({ task: 'color', steps: 100_000, batchSize: 1, gradAccum: 1, evalEvery: 100_000, evalLimit: 1 }, {
      onStart: (i) => { ftJob = i.jobId; },
      onLog: (e) => {
        if (e.step === 2) {
          jobsSeen = lab.jobIds();
          lab.cancelAll();
        }
        if (e.step === 5) lab.llama.cancelFineTune(); // only if "Cancel all" missed it: the test ends, and fails below
      },
    });
    const [r, [trainStatus, trainMessage]] = await Promise.all([ft, trainEnded]);
    expect(jobsSeen.sort()).toEqual([t.jobId, ftJob].sort());
    expect(trainLogs).toBeGreaterThan(0);
    expect(r.status).toBe('cancelled');
    expect(r.steps).toBe(2);
    expect(r.message).toMatch(/best adapter so far is kept/);
    expect(trainStatus).toBe('cancelled');
    expect(trainMessage).toMatch(/last checkpoint is kept/);
    expect((await getRun(r.runId))?.status).toBe('cancelled');
    expect((await getRun(t.runId))?.status).toBe('cancelled');
    expect(lab.jobIds()).toEqual([]); // both let go of their jobs
    expect(lab.llama.isFineTuning()).toBe(false);
    expect(lab.training.isRunning()).toBe(false);
    expect(lab.llama.adapterInfo()?.source).toMatch(/step 2, not evaluated/); // the adapter trained so far is attached
    lab.llama.unload();
  }, 300_000);

  it('a run that cannot resume ends failed on running out of memory, with the advice in its record', async () => {
    const jobs = new Map<string, JobTracker>();
    const record = newRun('train', 'oom run', {});
    const done: string[] = [];
    const r = await runTracked({
      jobId: 'j-oom', record, resumable: false,
      register: (t) => jobs.set(t.jobId, t), unregister: (t) => jobs.delete(t.jobId),
      body: async ({ checkpoint }) => {
        await checkpoint();
        throw new RangeError('Array buffer allocation failed');
      },
      stoppedMessage: 'stopped',
      outOfMemory: (e) => `Out of memory (${(e as Error).message}). Use a smaller batch.`,
      onDone: (s, m) => done.push(`${s}: ${m}`),
    });
    expect(r).toMatchObject({ status: 'failed', end: 'oom' });
    expect(done).toEqual(['failed: Out of memory (Array buffer allocation failed). Use a smaller batch.']);
    expect(await getRun(record.id)).toMatchObject({ status: 'failed', error: 'Out of memory (Array buffer allocation failed). Use a smaller batch.' });
    expect(jobs.size).toBe(0);
  });
});
