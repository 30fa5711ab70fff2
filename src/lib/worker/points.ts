// The paper's recording points side by side (issue 16): the kept pairs recorded, ranked, probed (held out and on
// fresh prompts) and steered at the residual stream, the FFN LayerNorm's output and the MLP hidden units, on the
// same fresh prompts; the session then goes on from the analysis it had. The report shows them in one table.
import type { HookSet } from '../neurons/pipeline';
import type { DecodeMode } from '../train/evaluate';
import type { Report } from '../report/schema';
import type { Progress } from './jobs';
import type { SessionHost } from './session';
import { analyze, record } from './neurons';
import { sweep } from './steering';

export interface PointsOptions {
  hookSets?: HookSet[];
  alphas?: number[];
  topFraction?: number;
  controlSeeds?: number;
  perDirection?: number;
  maxDecode?: number;
  decode?: DecodeMode;
}

export async function compareRecordingPoints(h: SessionHost, o: PointsOptions, onProgress?: (p: Progress) => void): Promise<NonNullable<Report['recordingPoints']>> {
  const s = h.need();
  if (!s.kept?.length) throw new Error('No kept pairs yet: find pairs first (step 1); every recording point records the same pairs.');
  const sets = o.hookSets ?? ['resid', 'ln2', 'mlp'];
  const bad = sets.filter((x) => !['resid', 'ln2', 'mlp'].includes(x));
  if (!sets.length || bad.length) throw new Error(`Recording points are resid, ln2 and mlp${bad.length ? ` (not ${bad.join(', ')})` : ''}: give at least one of them.`);
  const f = o.topFraction ?? 0.05;
  const first = { analysis: s.analysis, storeId: s.storeId, hookSet: s.hookSet, steering: s.steering };
  const firstRuns = { ...s.runs };
  const out: NonNullable<Report['recordingPoints']> = [];
  try {
    for (const hookSet of sets) {
      await record(h, { hookSet }, onProgress);
      await analyze(h, { topFractions: [f] }, onProgress);
      const st = await sweep(h, { alphas: o.alphas ?? [1, 3], topFractions: [f], controlSeeds: o.controlSeeds, perDirection: o.perDirection, maxDecode: o.maxDecode, decode: o.decode }, onProgress);
      const a = s.analysis!;
      out.push({
        hookSet,
        positions: a.hooks.reduce((n, x) => n + x.dim, 0), degenerate: a.hooks.reduce((n, x) => n + x.degenerate, 0),
        topFraction: f, topCount: a.top[String(f)]?.length ?? 0,
        layers: a.layerDistribution[String(f)] ?? [],
        probes: a.probes.map((p) => ({ ...p })),
        cells: st.cells,
      });
    }
  } finally {
    // the points' record, analyze and steer runs stay in the store; the session goes on from the first analysis
    Object.assign(s, first);
    s.runs = firstRuns;
  }
  s.recordingPoints = out;
  if (s.runs.steer) await h.updateReport(s, s.runs.steer).catch(() => undefined);
  return out;
}
