// The lab's report: everything a run of the paper's pipeline produced, as one JSON document. The Report page
// renders it, `npm run reproduce` writes it, and a saved report (JSON, or the HTML that embeds it) opens back
// in the lab. Validated with zod on import.
import { z } from '../util/zod';

const plainCounts = z.object({ mem: z.number(), gen: z.number(), other: z.number(), total: z.number() });
/** Label counts; a mixed model's evaluations also count per part. */
const counts = plainCounts.extend({ byTask: z.record(z.string(), plainCounts).optional() });
const shares = z.object({ gen: z.number(), mem: z.number(), other: z.number() });

export const reportSchema = z.object({
  kind: z.literal('memgen-report'),
  version: z.literal(1),
  createdAt: z.string(),
  task: z.enum(['arithmetic', 'cipher', 'color']),
  model: z.object({
    kind: z.string(), preset: z.string(), source: z.string(), step: z.number(), backend: z.string().optional(),
    /** A model trained on several tasks at once: its parts (`task` is the one analyzed and steered). */
    mixed: z.array(z.enum(['arithmetic', 'cipher', 'color'])).optional(),
  }),
  training: z
    .object({
      config: z.record(z.string(), z.unknown()),
      /** Loss by step (thinned to at most ~2000 points). */
      loss: z.array(z.object({ step: z.number(), loss: z.number() })),
      evals: z.array(counts.extend({ step: z.number(), decode: z.string() })),
      chosen: counts.extend({ step: z.number(), decode: z.string() }).nullable(),
    })
    .nullable(),
  pairs: z
    .object({
      tried: z.number(), kept: z.number(), flipRate: z.number(), stoppedBy: z.string(),
      labelCounts: z.object({ mem: z.number(), gen: z.number(), other: z.number() }),
      examples: z.array(z.object({ mem: z.string(), gen: z.string() })),
    })
    .nullable(),
  analysis: z
    .object({
      hooks: z.array(z.object({ name: z.string(), layer: z.number(), dim: z.number() })),
      nMem: z.number(),
      nGen: z.number(),
      /** Per hook, Pearson r of every neuron (the neuron map) and NMD. */
      r: z.array(z.array(z.number())),
      nmd: z.array(z.array(z.number())),
      layerDistribution: z.record(z.string(), z.array(z.object({ layer: z.number(), count: z.number(), fraction: z.number() }))),
      probes: z.array(z.object({ hook: z.string(), layer: z.number(), trainAcc: z.number(), testAcc: z.number(), chance: z.number() })),
      top: z.array(z.object({ hook: z.string(), layer: z.number(), index: z.number(), r: z.number(), nmd: z.number(), rank: z.number(), q: z.number().optional() })),
    })
    .nullable(),
  steering: z
    .object({
      baseline: counts,
      cells: z.array(
        z.object({
          table: z.enum(['memToGen', 'genToMem']), alpha: z.number(), topFraction: z.number(), neurons: z.number(), prompts: z.number(),
          targeted: shares, control: shares, controlSd: shares, controlSeeds: z.number(),
        }),
      ),
    })
    .nullable(),
  consistency: z
    .array(z.object({
      label: z.string(),
      /** intra: two pair seeds of one task; inter: two tasks on one model (the label names them). */
      kind: z.enum(['intra', 'inter']).optional(),
      topFraction: z.number(), jaccard: z.number(), randomJaccard: z.number(), spearmanAbsR: z.number(), positions: z.number(),
      /** Neurons of one analysis steering with another's: own set, cross set and random control, per table. */
      crossSteer: z.array(z.object({
        table: z.enum(['memToGen', 'genToMem']), alpha: z.number(), topFraction: z.number(), prompts: z.number(), own: shares, cross: shares, control: shares,
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
  if (/^\s*</.test(text)) {
    const m = /<script[^>]*id="memgen-report"[^>]*>([\s\S]*?)<\/script>/.exec(text);
    if (!m) throw new ReportFormatError('This HTML file has no embedded MemGen report. Open a report saved by the lab (Report page, "Save HTML").');
    jsonText = m[1].replace(/<\\\//g, '</');
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
