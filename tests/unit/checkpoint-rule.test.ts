// Issue 16: the report says when the checkpoint rule chose the run's last evaluation, and such a run can be
// continued past its step budget.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { chosenIsLast, reportSummary } from '../../src/lib/report/html';
import { TrainRun } from '../../src/lib/train/trainer';
import { decodeCheckpoint } from '../../src/lib/train/checkpoint';
import { getOps } from '../../src/lib/models/gpt2';
import { makeReport } from './report-fixture';
import { tinyCheckpoint } from './hostile-files';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('checkpoint rule at the end of the budget', () => {
  it('is flagged in the report only when the chosen step is the last evaluation', () => {
    const r = makeReport();
    expect(chosenIsLast(r)).toBe(false); // the fixture chose step 1500 of 0..2750
    expect(reportSummary(r).find(([k]) => k === 'chosen checkpoint')![1]).not.toMatch(/last evaluation/);
    r.training!.chosen = { ...r.training!.evals.at(-1)! };
    expect(chosenIsLast(r)).toBe(true);
    expect(reportSummary(r).find(([k]) => k === 'chosen checkpoint')![1]).toMatch(/the run's last evaluation: the rule picked what the step budget allowed/);
  });

  it('continues a run to a larger step budget, and refuses one at or below the checkpoint step', () => {
    const ck = decodeCheckpoint(tinyCheckpoint(1));
    expect(ck.header.step).toBe(40);
    expect(() => TrainRun.fromCheckpoint(ck, getOps('fused'), { steps: 40 })).toThrow(/new step budget must be a whole number above the checkpoint's step 40/);
    const run = TrainRun.fromCheckpoint(decodeCheckpoint(tinyCheckpoint(1)), getOps('fused'), { steps: 200 });
    expect((run as unknown as { cfg: { steps: number } }).cfg.steps).toBe(200);
    expect(run.step).toBe(40);
  });
});
