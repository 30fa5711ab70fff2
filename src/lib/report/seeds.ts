// Headline figures of one report, and their spread over several seeds of a preset (issue 16: `reproduce --seeds N`).
// Plain data in, plain data out: no tfjs.
import type { Report } from './schema';

/** One seed's headline figures (numbers, keyed by name) and the verdicts of its steering claims. */
export interface SeedRun {
  seed: number;
  source: string;
  figures: Record<string, number>;
  verdicts: Record<string, 'holds' | 'not shown'>;
}

const tableName = (t: 'memToGen' | 'genToMem') => (t === 'memToGen' ? 'Mem → Gen' : 'Gen → Mem');

/**
 * The figures the paper's claims rest on: flip rate, the top set's share per layer, held-out probe accuracy per
 * layer, targeted minus each control on the goal share per steering setting (with its verdict), and consistency.
 */
export function headlines(r: Report, seed: number): SeedRun {
  const figures: Record<string, number> = {};
  const verdicts: SeedRun['verdicts'] = {};
  if (r.pairs) figures['flip rate, %'] = 100 * r.pairs.flipRate;
  const a = r.analysis;
  if (a) {
    const f = a.layerDistribution['0.05'] ? '0.05' : Object.keys(a.layerDistribution)[0];
    for (const l of a.layerDistribution[f] ?? []) figures[`top ${100 * Number(f)}% in layer ${l.layer}, %`] = 100 * l.fraction;
    for (const p of a.probes) {
      figures[`probe layer ${p.layer} (held out), %`] = 100 * p.testAcc;
      if (p.freshAcc !== undefined) figures[`probe layer ${p.layer} (fresh prompts), %`] = 100 * p.freshAcc;
    }
  }
  for (const c of r.steering?.cells ?? []) {
    for (const k of c.controls ?? []) {
      const key = `${tableName(c.table)} α=${c.alpha} top ${Math.round(1000 * c.topFraction) / 10}%: targeted − ${k.kind}, pp`;
      figures[key] = k.diff.goal.estimate;
      verdicts[key] = k.verdict;
    }
  }
  for (const c of r.consistency) {
    figures[`Jaccard, ${c.label.replace(/\(.*\)/, '').trim()}`] = c.jaccard;
    figures[`Spearman |r|, ${c.label.replace(/\(.*\)/, '').trim()}`] = c.spearmanAbsR;
  }
  return { seed, source: r.model.source, figures, verdicts };
}

export interface SeedRow {
  figure: string;
  values: (number | null)[];
  mean: number;
  min: number;
  max: number;
  /** For a steering claim: in how many seeds it holds, of the seeds that have it. */
  holds?: { k: number; n: number };
}

/** Every headline figure over the seeds: each seed's value, mean and range, and for steering claims the verdict count. */
export function seedRows(runs: SeedRun[]): SeedRow[] {
  const names: string[] = [];
  for (const r of runs) for (const k of Object.keys(r.figures)) if (!names.includes(k)) names.push(k);
  return names.map((figure) => {
    const values = runs.map((r) => (figure in r.figures ? r.figures[figure] : null));
    const have = values.filter((v): v is number => v !== null);
    const withVerdict = runs.filter((r) => figure in r.verdicts);
    return {
      figure, values,
      mean: have.reduce((s, v) => s + v, 0) / have.length, min: Math.min(...have), max: Math.max(...have),
      ...(withVerdict.length ? { holds: { k: withVerdict.filter((r) => r.verdicts[figure] === 'holds').length, n: withVerdict.length } } : {}),
    };
  });
}

/**
 * What the seeds say about the steering claims: the settings whose claim holds in every seed, and those where it
 * holds in some seeds only (the effect does not hold across seeds) or in none.
 */
export function seedStatements(runs: SeedRun[]): string[] {
  if (runs.length < 2) return [];
  const rows = seedRows(runs).filter((r) => r.holds);
  const all = rows.filter((r) => r.holds!.k === r.holds!.n && r.holds!.n === runs.length);
  const some = rows.filter((r) => r.holds!.k > 0 && !all.includes(r));
  const none = rows.filter((r) => r.holds!.k === 0);
  const out = [`${runs.length} seeds (${runs.map((r) => r.seed).join(', ')}).`];
  out.push(all.length ? `Holds in every seed: ${all.map((r) => r.figure.replace(/, pp$/, '')).join('; ')}.` : 'No steering claim holds in every seed.');
  if (some.length) out.push(`Does not hold across seeds (holds in some only): ${some.map((r) => `${r.figure.replace(/, pp$/, '')} (${r.holds!.k} of ${r.holds!.n})`).join('; ')}.`);
  if (none.length) out.push(`Holds in no seed: ${none.length} setting${none.length === 1 ? '' : 's'}.`);
  return out;
}
