// The lab's report: everything a run of the paper's pipeline produced, as one JSON document. The Report page
// renders it, `npm run reproduce` writes it, and a saved report (JSON, or the HTML that embeds it) opens back
// in the lab. Validated with zod on import, every number within what it can mean: a Pearson r in [-1, 1], a share
// in 0..100 %, a count a whole number >= 0 (a report with r = 2, a share of 900 % or kept = -3 is refused).
// Parsing is linear in the text (no backtracking regex runs over it); parse-async.ts moves large imports off the
// page's thread.
// Allocation bound (checked by tests/unit/fuzz.test.ts): parsing a text of n characters allocates at most
// REPORT_BOUND(n) = 32 x n + 1 MiB (the JSON value and zod's checked copy; no typed arrays).
import { z } from '../util/zod';

/** The most bytes parsing a report text of `chars` characters may allocate: see the header comment. */
export const REPORT_BOUND = (chars: number): number => 32 * chars + (1 << 20);

/** Rounding slack: a correlation computed in floats may land a hair outside [-1, 1], a share outside 0..100. */
const SLACK = 1e-6;
const count = z.number().int().nonnegative();
const step = count;
const fraction = z.number().min(0).max(1);
const correlation = z.number().min(-1 - SLACK).max(1 + SLACK);
/** A share of prompts in percent. */
const percent = z.number().min(-SLACK).max(100 + SLACK);

const plainCounts = z
  .object({ mem: count, gen: count, other: count, total: count })
  .refine((c) => c.mem + c.gen + c.other <= c.total, { message: 'mem + gen + other must not exceed total' });
/** Label counts; a mixed model's evaluations also count per part. */
const counts = z
  .object({ mem: count, gen: count, other: count, total: count, byTask: z.record(z.string(), plainCounts).optional() })
  .refine((c) => c.mem + c.gen + c.other <= c.total, { message: 'mem + gen + other must not exceed total' });
const evalCounts = z
  .object({ mem: count, gen: count, other: count, total: count, byTask: z.record(z.string(), plainCounts).optional(), step, decode: z.string() })
  .refine((c) => c.mem + c.gen + c.other <= c.total, { message: 'mem + gen + other must not exceed total' });
const shares = z.object({ gen: percent, mem: percent, other: percent });
/** A 95% interval, percent. */
const interval = z.tuple([percent, percent]);
const shareIntervals = z.object({ gen: interval, mem: interval, other: interval });
/** A difference of two shares, percent points. */
const points = z.number().min(-100 - SLACK).max(100 + SLACK);
const diff = z.object({ estimate: points, lo: points, hi: points });
const decodeMode = z.enum(['greedy', 'beam']);
/** One control beside the targeted set (issue 16): shares over seeds, intervals, the difference and its verdict. */
const controlCell = z.object({
  kind: z.enum(['paper', 'matched', 'direction']),
  seeds: count,
  mean: shares, sd: z.object({ gen: z.number().nonnegative(), mem: z.number().nonnegative(), other: z.number().nonnegative() }), ci: shareIntervals,
  diff: z.object({ goal: diff, other: diff }),
  verdict: z.enum(['holds', 'not shown']),
});

/** A layer's probe: held-out accuracy on the pairs, and (issue 16) on fresh prompts with their majority rate. */
const probeRow = z.object({
  hook: z.string(), layer: count, trainAcc: fraction, testAcc: fraction, chance: fraction, testRows: count.optional(), features: count.optional(),
  freshAcc: fraction.optional(), freshRows: count.optional(), freshChance: fraction.optional(),
});
const layerCount = z.object({ layer: count, count, fraction });
const steerCell = z.object({
  table: z.enum(['memToGen', 'genToMem']), alpha: z.number(), topFraction: fraction, neurons: count, prompts: count,
  decode: decodeMode.optional(),
  targeted: shares, targetedCi: shareIntervals.optional(),
  /** The first control (paper's), kept for older readers; `controls` has all of them. */
  control: shares, controlSd: shares, controlSeeds: count,
  controls: z.array(controlCell).optional(),
});

export const reportSchema = z.object({
  kind: z.literal('memgen-report'),
  version: z.literal(1),
  createdAt: z.string(),
  task: z.enum(['arithmetic', 'cipher', 'color']),
  model: z.object({
    kind: z.string(), preset: z.string(), source: z.string(), step, backend: z.string().optional(),
    /** A model trained on several tasks at once: its parts (`task` is the one analyzed and steered). */
    mixed: z.array(z.enum(['arithmetic', 'cipher', 'color'])).optional(),
  }),
  training: z
    .object({
      config: z.record(z.string(), z.unknown()),
      /** Loss by step (thinned to at most ~LOSS_POINTS = 2000 points, report/build.ts). */
      loss: z.array(z.object({ step, loss: z.number().nonnegative() })),
      evals: z.array(evalCounts),
      chosen: evalCounts.nullable(),
    })
    .nullable(),
  pairs: z
    .object({
      tried: count, kept: count, flipRate: fraction, stoppedBy: z.string(),
      labelCounts: z.object({ mem: count, gen: count, other: count }),
      examples: z.array(z.object({ mem: z.string(), gen: z.string() })),
      /** How the pair prompts were decoded and labeled (older reports: not recorded). */
      decode: decodeMode.optional(),
    })
    .refine((p) => p.kept <= p.tried, { message: 'kept must not exceed tried', path: ['kept'] })
    .nullable(),
  analysis: z
    .object({
      /** degenerate: positions constant over the recorded rows, left out of ranking, top-k denominators and probes. */
      hooks: z.array(z.object({ name: z.string(), layer: count, dim: count, degenerate: count.optional() })),
      nMem: count,
      nGen: count,
      /** Per hook, Pearson r of every neuron (the neuron map) and NMD. */
      r: z.array(z.array(correlation)),
      nmd: z.array(z.array(z.number())),
      layerDistribution: z.record(z.string(), z.array(z.object({ layer: count, count, fraction }))),
      probes: z.array(probeRow),
      top: z.array(z.object({ hook: z.string(), layer: count, index: count, r: correlation, nmd: z.number(), rank: z.number().int().positive(), q: fraction.optional() })),
    })
    .nullable(),
  steering: z
    .object({
      baseline: counts,
      /** How every steering decode was made (older reports: not recorded). */
      decode: decodeMode.optional(),
      /** The prompts steered: a fresh seeded set decoded without steering, every label counted. */
      pool: z.object({
        source: z.literal('fresh'), seed: count, decode: decodeMode, counts, excluded: count, perDirection: count,
      }).optional(),
      cells: z.array(steerCell),
    })
    .nullable(),
  /**
   * The same pairs recorded, ranked, probed and steered at each of the paper's recording points (issue 16): the
   * residual stream, the FFN LayerNorm's output (ln2) and the MLP hidden units, side by side.
   */
  recordingPoints: z.array(z.object({
    hookSet: z.enum(['resid', 'ln2', 'mlp']),
    /** Positions recorded and how many of them are constant (left out of ranking, top-k and probes). */
    positions: count, degenerate: count,
    topFraction: fraction, topCount: count,
    layers: z.array(layerCount),
    probes: z.array(probeRow),
    cells: z.array(steerCell),
  })).optional(),
  /** `reproduce --seeds N`: every seed's headline figures and steering verdicts (report/seeds.ts). */
  seedRuns: z.array(z.object({
    seed: count, source: z.string(),
    figures: z.record(z.string(), z.number()),
    verdicts: z.record(z.string(), z.enum(['holds', 'not shown'])),
  })).optional(),
  consistency: z
    .array(z.object({
      label: z.string(),
      /** intra: two pair seeds of one task; inter: two tasks on one model (the label names them). */
      kind: z.enum(['intra', 'inter']).optional(),
      topFraction: fraction, jaccard: fraction, randomJaccard: fraction, spearmanAbsR: correlation, positions: count,
      /** Neurons of one analysis steering with another's: own set, cross set and random control, per table. */
      crossSteer: z.array(z.object({
        table: z.enum(['memToGen', 'genToMem']), alpha: z.number(), topFraction: fraction, prompts: count, own: shares, cross: shares, control: shares,
        decode: decodeMode.optional(),
      })).optional(),
    }))
    .default([]),
});

export type Report = z.infer<typeof reportSchema>;

export class ReportFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReportFormatError';
  }
}

/** Parses a report from JSON text, or from an HTML report that embeds it. Errors name the problem and the fix. */
export function parseReport(text: string): Report {
  let jsonText = text;
  if (startsWithTag(text)) {
    const embedded = embeddedReport(text);
    if (embedded === null) throw new ReportFormatError('This HTML file has no embedded MemGen report. Open a report saved by the lab (Report page, "Save HTML").');
    jsonText = embedded.replaceAll('<\\/', '</');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(jsonText);
  } catch {
    throw new ReportFormatError('The report is not valid JSON (the file is damaged or not a report). Export it again from the lab.');
  }
  const r = reportSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new ReportFormatError(`The report is malformed at "${i.path.join('.')}": ${i.message}. Export it again from the lab.`);
  }
  return r.data;
}

/** True when the first non-blank character is "<" (an HTML report). */
function startsWithTag(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3c) return true;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c && c !== 0xfeff) return false;
  }
  return false;
}

/**
 * The text of the first <script ... id="memgen-report" ...> element, or null. A single forward scan: each tag is
 * read once from "<script" to its ">", so the work is linear in the text. (The regex this replaces,
 * /<script[^>]*id="memgen-report"[^>]*>([\s\S]*?)<\/script>/, backtracked over the rest of the text at every
 * "<script" without a ">": 1.7 s on 125 KB, 9.7 s on 250 KB.)
 */
export function embeddedReport(html: string): string | null {
  let i = 0;
  for (;;) {
    i = html.indexOf('<script', i);
    if (i < 0) return null;
    const end = html.indexOf('>', i);
    if (end < 0) return null;
    if (html.slice(i, end).includes('id="memgen-report"')) {
      const close = html.indexOf('</script>', end);
      return close < 0 ? null : html.slice(end + 1, close);
    }
    i = end + 1;
  }
}
