// Building a report from what a worker session holds (see schema.ts). Plain data in, plain data out: no tfjs, so
// pages, the worker and scripts share it.
import type { Report } from './schema';
import type { NeuronAnalysis } from '../neurons/pipeline';

/** At most this many loss points are kept for a chart or a report (every k-th step, and the last one). */
export const LOSS_POINTS = 2000;

/** Keeps every k-th entry (and the last) so that at most about `max` remain. */
export function thinLoss<T>(a: T[], max = LOSS_POINTS): T[] {
  if (a.length <= max) return a;
  const k = Math.ceil(a.length / max);
  return a.filter((_, i) => i % k === 0 || i === a.length - 1);
}

/** The training section of a report, from a checkpoint header's config, log and chosen evaluation. */
export function trainingSection(h: { train: Record<string, unknown>; log: unknown[]; eval: unknown }): Report['training'] {
  const log = h.log as Array<Record<string, unknown>>;
  const losses = log.filter((e) => typeof e.loss === 'number').map((e) => ({ step: e.step as number, loss: e.loss as number }));
  const evals = log.filter((e) => typeof e.gen === 'number') as unknown as NonNullable<Report['training']>['evals'];
  const chosen = h.eval ? { ...(h.eval as object) } : null;
  return { config: h.train, loss: thinLoss(losses), evals, chosen: chosen as NonNullable<Report['training']>['chosen'] };
}

/** The top fraction a report lists, and how many of its neurons. */
export const REPORT_TOP = { fraction: '0.05', count: 200 } as const;

/** What a session holds that a report shows. */
export interface ReportInput {
  task: Report['task'];
  model: Report['model'];
  training?: Report['training'];
  pairs?: NonNullable<Report['pairs']>;
  analysis?: NeuronAnalysis;
  steering?: Report['steering'];
  consistency: Report['consistency'];
  recordingPoints?: Report['recordingPoints'];
}

const round4 = (v: number) => Math.round(v * 1e4) / 1e4;

/** Everything a session produced, as a report. */
export function buildReport(s: ReportInput): Report {
  const a = s.analysis;
  const f = a ? (a.top[REPORT_TOP.fraction] ? REPORT_TOP.fraction : Object.keys(a.top)[0]) : '';
  return {
    kind: 'memgen-report', version: 1, createdAt: new Date().toISOString(), task: s.task,
    model: s.model,
    training: s.training ?? null,
    pairs: s.pairs ? { ...s.pairs, labelCounts: { ...s.pairs.labelCounts } } : null,
    analysis: a
      ? {
          hooks: a.hooks, nMem: a.nMem, nGen: a.nGen,
          r: a.stats.map((x) => Array.from(x.r, round4)),
          nmd: a.stats.map((x) => Array.from(x.nmd, round4)),
          layerDistribution: a.layerDistribution, probes: a.probes,
          top: (a.top[f] ?? []).slice(0, REPORT_TOP.count).map((n) => ({ hook: n.hook, layer: n.layer, index: n.index, r: n.r, nmd: n.nmd, rank: n.rank, ...(n.q === undefined ? {} : { q: n.q }) })),
        }
      : null,
    steering: s.steering ?? null,
    ...(s.recordingPoints ? { recordingPoints: s.recordingPoints } : {}),
    consistency: s.consistency,
  };
}
