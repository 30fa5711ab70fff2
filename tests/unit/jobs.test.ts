// Progress rates and ETAs: measured over the units actually done since the job (re)started, never counting the
// steps a resumed run restored from its checkpoint, never counting pauses; a paused job has no ETA.
import { describe, expect, it } from 'vitest';
import { JobTracker, type Progress } from '../../src/lib/worker/jobs';

function tracker() {
  let t = 0;
  const seen: Progress[] = [];
  const tr = new JobTracker('j', (p) => seen.push(p), 'steps', () => t);
  return { tr, seen, advance: (ms: number) => { t += ms; } };
}

describe('JobTracker', () => {
  it('a resumed run at step 3000 of 6000 does not report thousands of steps/s or an ETA from them', () => {
    const { tr, advance } = tracker();
    advance(5000); // model load and the first (warm-up) step
    const first = tr.report('training', 3001, 6000);
    expect(first.rate).toBe(0);
    expect(first.etaSeconds).toBeNull();
    for (let i = 2; i <= 11; i++) { advance(500); tr.report('training', 3000 + i, 6000); }
    const p = tr.report('training', 3011, 6000);
    expect(p.rate).toBeCloseTo(2, 6); // from step 3002 on: 9 steps in 4.5 s
    expect(p.etaSeconds).toBeCloseTo((6000 - 3011) / 2, 3);
  });

  it('a pause is reported as paused with no ETA, and the paused time does not lower the rate', async () => {
    const { tr, seen, advance } = tracker();
    tr.report('training', 1, 100);
    advance(1000); tr.report('training', 2, 100);
    advance(1000); tr.report('training', 3, 100);
    tr.setPaused(true);
    const during = seen[seen.length - 1];
    expect(during.paused).toBe(true);
    expect(during.etaSeconds).toBeNull();
    advance(60_000);
    tr.setPaused(false);
    expect(seen[seen.length - 1].paused).toBe(false);
    advance(1000);
    const after = tr.report('training', 4, 100);
    expect(after.rate).toBeCloseTo(1, 6); // from step 2 on: 2 steps in 2 s of running, the minute paused left out
    expect(after.etaSeconds).toBeCloseTo(96, 3);
  });

  it('a job that reports before its first unit does not count that (warm-up) unit', () => {
    const { tr, advance } = tracker();
    tr.report('training', 0, 100);
    advance(30_000); // the first step compiles every shader
    expect(tr.report('training', 1, 100).rate).toBe(0);
    advance(1000); tr.report('training', 2, 100);
    advance(1000);
    expect(tr.report('training', 3, 100).rate).toBeCloseTo(1, 6);
  });

  it('checkpoint() waits while paused and reports the pause', async () => {
    const seen: Progress[] = [];
    const tr = new JobTracker('j', (p) => seen.push(p));
    tr.report('training', 1, 10);
    tr.paused = true;
    const waiting = tr.checkpoint();
    await new Promise((r) => setTimeout(r, 150));
    expect(seen[seen.length - 1].paused).toBe(true);
    tr.paused = false;
    await waiting;
    expect(seen[seen.length - 1].paused).toBe(false);
  });
});
