// Chart data of a report: plain arrays for the viz components (pure, so it is tested in Node). These are also the
// pages' view-models: each figure has a builder over the parts it reads (`...Of`), which the Neurons and Steer
// pages call on the worker's live results and the report builder (`volcanoData(r)`, ...) on a saved report, so a
// page and the report draw the same numbers.
import type { BarDatum, LineSeries, ReferenceLine } from '../viz/types';
import type { Report } from './schema';
import { wilson } from '../neurons/intervals';

/** A vertical dashed line at the chosen checkpoint's step, spanning [lo, hi] on the y axis. */
function chosenMark(step: number, lo: number, hi: number): LineSeries {
  return { name: `chosen checkpoint (step ${step})`, points: [{ x: step, y: lo }, { x: step, y: hi }], color: '#1b1d22', dashed: true };
}

/** Training loss by step, with the chosen checkpoint marked. */
export function lossSeries(r: Report): LineSeries[] {
  const t = r.training;
  if (!t || !t.loss.length) return [];
  const out: LineSeries[] = [{ name: 'train loss', points: t.loss.map((p) => ({ x: p.step, y: p.loss })) }];
  const pos = t.loss.map((p) => p.loss).filter((v) => v > 0 && Number.isFinite(v));
  if (t.chosen && pos.length) out.push(chosenMark(t.chosen.step, Math.min(...pos), Math.max(...pos)));
  return out;
}

/** mem / gen / other counts of the validation decodes by step, with the chosen checkpoint marked. */
export function evalSeries(r: Report): LineSeries[] {
  const t = r.training;
  if (!t || !t.evals.length) return [];
  const out: LineSeries[] = (['mem', 'gen', 'other'] as const).map((k) => ({ name: k, points: t.evals.map((e) => ({ x: e.step, y: e[k] })) }));
  if (t.chosen) out.push(chosenMark(t.chosen.step, 0, Math.max(...t.evals.map((e) => e.total))));
  return out;
}

/** A mixed model's validation decodes per part: one set of mem / gen / other lines per task. */
export function evalSeriesByTask(r: Report): { task: string; series: LineSeries[] }[] {
  const t = r.training;
  const parts = r.model.mixed ?? [];
  if (!t || !parts.length) return [];
  return parts.map((task) => {
    const evals = t.evals.filter((e) => e.byTask?.[task]);
    const series: LineSeries[] = (['mem', 'gen', 'other'] as const).map((k) => ({ name: k, points: evals.map((e) => ({ x: e.step, y: e.byTask![task][k] })) }));
    if (t.chosen && evals.length) series.push(chosenMark(t.chosen.step, 0, Math.max(...evals.map((e) => e.byTask![task].total))));
    return { task, series };
  }).filter((x) => x.series[0].points.length > 0);
}

/** Neuron map rows: Pearson r of every neuron, one row per hook. */
export function neuronMapRows(r: Report): Float32Array[] {
  return r.analysis ? r.analysis.r.map((row) => Float32Array.from(row)) : [];
}

/** One hook's values per neuron position, as the volcano reads them (a report's rows or the worker's live stats). */
export interface HookValues { hook: string; r: ArrayLike<number>; nmd: ArrayLike<number> | undefined }

export interface VolcanoView {
  x: Float32Array;
  y: Float32Array;
  /** Flat indices of the top set. */
  highlight: number[];
  /** "hook #index" of a flat index. */
  label: (i: number) => string;
  /** [hook, index] of a flat index. */
  locate: (i: number) => [string, number];
}

/** Volcano points over all hooks (NMD, |r|), flattened in hook order, with the top set's flat indices. */
export function volcanoOf(hooks: HookValues[], top: { hook: string; index: number }[]): VolcanoView {
  const offsets: number[] = [];
  let n = 0;
  for (const h of hooks) { offsets.push(n); n += h.r.length; }
  const x = new Float32Array(n), y = new Float32Array(n); // (sum of hook dims)
  hooks.forEach((h, k) => { for (let i = 0; i < h.r.length; i++) { x[offsets[k] + i] = h.nmd?.[i] ?? NaN; y[offsets[k] + i] = Math.abs(h.r[i]); } });
  const hookIndex = new Map(hooks.map((h, i) => [h.hook, i]));
  const highlight = top.flatMap((t) => { const h = hookIndex.get(t.hook); return h === undefined ? [] : [offsets[h] + t.index]; });
  const locate = (i: number): [string, number] => {
    let h = offsets.length - 1;
    while (h > 0 && offsets[h] > i) h--;
    return [hooks[h]?.hook ?? '?', i - offsets[h]];
  };
  return { x, y, highlight, label: (i) => locate(i).join(' #'), locate };
}

/** The report's volcano: every hook of its analysis. */
export function volcanoData(r: Report): VolcanoView | null {
  const a = r.analysis;
  if (!a) return null;
  return volcanoOf(a.r.map((row, i) => ({ hook: a.hooks[i]?.name ?? '?', r: row, nmd: a.nmd[i] })), a.top);
}

/** Top-neuron counts by layer, one bar per (layer, top fraction), from a layer distribution keyed by fraction. */
export function layerBarsOf(dist: Record<string, { layer: number; count: number }[]>): BarDatum[] {
  return Object.entries(dist).flatMap(([f, d]) =>
    d.map((x) => ({ group: `L${x.layer}`, key: `top ${Math.round(Number(f) * 1000) / 10}%`, value: x.count })));
}

export function layerBars(r: Report): BarDatum[] {
  return r.analysis ? layerBarsOf(r.analysis.layerDistribution) : [];
}

/** Wilson 95% interval of a held-out accuracy (0..1) over n rows. */
export function probeCi(acc: number, n: number): { lo: number; hi: number } {
  const [lo, hi] = wilson(Math.round(acc * n), n);
  return { lo: lo / 100, hi: hi / 100 };
}

type ProbeR = NonNullable<Report['analysis']>['probes'][number];

/** Probe accuracy by layer (train and held-out, the latter with its Wilson 95% interval) and the chance line. */
export function probeBarsOf(ps: Pick<ProbeR, 'layer' | 'trainAcc' | 'testAcc' | 'chance' | 'testRows'>[]): { data: BarDatum[]; chance: ReferenceLine } {
  const data = ps.flatMap((p) => [
    { group: `L${p.layer}`, key: 'held-out accuracy', value: p.testAcc, ...(p.testRows ? probeCi(p.testAcc, p.testRows) : {}) },
    { group: `L${p.layer}`, key: 'train accuracy', value: p.trainAcc },
  ]);
  return { data, chance: { label: 'chance', value: ps.length ? Math.max(...ps.map((p) => p.chance)) : 0.5 } };
}

export function probeBars(r: Report): { data: BarDatum[]; chance: ReferenceLine } {
  return probeBarsOf(r.analysis?.probes ?? []);
}

type SteerCellR = NonNullable<Report['steering']>['cells'][number];
type ControlR = NonNullable<SteerCellR['controls']>[number];

/** The name of a control in tables and charts. */
export const CONTROL_NAMES: Record<ControlR['kind'], string> = {
  paper: 'paper control (random, ±max|NMD|)',
  matched: 'matched control (random, same hooks and shifts)',
  direction: 'direction control (DiffMean, same norm)',
};

/** A cell's controls; an older report has only the paper's, as mean ± sd (no intervals). */
export function cellControls(c: SteerCellR): (Omit<ControlR, 'ci' | 'diff' | 'verdict'> & Partial<Pick<ControlR, 'ci' | 'diff' | 'verdict'>>)[] {
  return c.controls ?? [{ kind: 'paper', seeds: c.controlSeeds, mean: c.control, sd: c.controlSd }];
}

const clamp = (v: number) => Math.min(100, Math.max(0, v));
const groupOf = (c: SteerCellR) => `α=${c.alpha}, top ${Math.round(c.topFraction * 1000) / 10}%`;

/** How the steering decodes were made, for figure titles ("beam 5", "greedy", or "decoding not recorded"). */
export function decodeName(r: Pick<Report, 'steering'>): string {
  return modeName(r.steering?.decode ?? r.steering?.cells.find((c) => c.decode)?.decode);
}

/** A decoding mode in words ("beam search (5 beams)", "greedy decoding"; "decoding not recorded" for older reports). */
export function modeName(d: string | undefined): string {
  return d === 'beam' || d === 'beam5' ? 'beam search (5 beams)' : d === 'greedy' ? 'greedy decoding' : d ? d : 'decoding not recorded';
}

/** How the pair prompts were decoded. */
export const pairsDecodeName = (d: string | undefined): string => modeName(d);

/**
 * Steering bars for one table: the goal behavior's share, targeted beside every control, each with its 95%
 * interval (Wilson for the targeted share, bootstrap over prompts and seeds for a control's mean). An older
 * report's control shows mean ± sd, clamped to 0..100.
 */
export function steerBars(r: Pick<Report, 'steering'>, kind: 'memToGen' | 'genToMem'): BarDatum[] {
  const goal = kind === 'memToGen' ? 'gen' : 'mem';
  return (r.steering?.cells ?? []).filter((c) => c.table === kind).flatMap((c) => {
    const group = groupOf(c);
    const t = c.targetedCi?.[goal];
    return [
      { group, key: 'targeted', value: c.targeted[goal], ...(t ? { lo: t[0], hi: t[1] } : {}) },
      ...cellControls(c).map((k) => {
        const ci = k.ci?.[goal] ?? [clamp(k.mean[goal] - k.sd[goal]), clamp(k.mean[goal] + k.sd[goal])];
        return { group, key: CONTROL_NAMES[k.kind], value: k.mean[goal], lo: ci[0], hi: ci[1] };
      }),
    ];
  });
}

/** Targeted minus each control on the goal share (percent points) with the 95% bootstrap interval of the difference. */
export function steerDiffBars(r: Pick<Report, 'steering'>, kind: 'memToGen' | 'genToMem'): BarDatum[] {
  return (r.steering?.cells ?? []).filter((c) => c.table === kind).flatMap((c) =>
    (c.controls ?? []).map((k) => ({ group: groupOf(c), key: `minus ${k.kind} control`, value: k.diff.goal.estimate, lo: k.diff.goal.lo, hi: k.diff.goal.hi })));
}

export interface SteeringClaim {
  table: 'memToGen' | 'genToMem';
  alpha: number;
  topFraction: number;
  control: ControlR['kind'];
  prompts: number;
  seeds: number;
  targeted: number;
  controlShare: number;
  estimate: number;
  lo: number;
  hi: number;
  verdict: ControlR['verdict'];
}

/** Every (cell, control) comparison with its difference, interval and verdict: what a report may claim. */
export function steeringClaims(r: Pick<Report, 'steering'>): SteeringClaim[] {
  return (r.steering?.cells ?? []).flatMap((c) => {
    const goal = c.table === 'memToGen' ? 'gen' : 'mem';
    return (c.controls ?? []).map((k) => ({
      table: c.table, alpha: c.alpha, topFraction: c.topFraction, control: k.kind, prompts: c.prompts, seeds: k.seeds,
      targeted: c.targeted[goal], controlShare: k.mean[goal], estimate: k.diff.goal.estimate, lo: k.diff.goal.lo, hi: k.diff.goal.hi, verdict: k.verdict,
    }));
  });
}

/** One sentence per steering table: in how many settings the targeted set beats each control (interval above 0). */
export function steeringSummary(r: Pick<Report, 'steering'>): string[] {
  const claims = steeringClaims(r);
  if (!claims.length) return [];
  const out: string[] = [];
  for (const table of ['memToGen', 'genToMem'] as const) {
    const name = table === 'memToGen' ? 'Mem → Gen (% gen)' : 'Gen → Mem (% mem)';
    for (const kind of ['paper', 'matched', 'direction'] as const) {
      const cs = claims.filter((c) => c.table === table && c.control === kind);
      if (!cs.length) continue;
      const held = cs.filter((c) => c.verdict === 'holds');
      const where = held.map((c) => `α=${c.alpha} top ${Math.round(c.topFraction * 1000) / 10}%`).join(', ');
      out.push(`${name}, targeted vs ${kind} control: ${held.length ? `holds in ${held.length} of ${cs.length} settings (${where})` : `not shown in any of ${cs.length} settings`}; ${cs[0].prompts} prompts, ${cs[0].seeds} control run${cs[0].seeds === 1 ? '' : 's'}, ${decodeName(r)}.`);
    }
  }
  return out;
}

type ConsistencyR = Report['consistency'][number];

/** Consistency: Jaccard of the top sets beside random sets, and Spearman of |r|, per comparison. */
export function consistencyBarsOf(cs: Pick<ConsistencyR, 'label' | 'jaccard' | 'randomJaccard' | 'spearmanAbsR'>[]): BarDatum[] {
  return cs.flatMap((c) => [
    { group: c.label, key: 'Jaccard', value: c.jaccard },
    { group: c.label, key: 'random Jaccard', value: c.randomJaccard },
    { group: c.label, key: 'Spearman |r|', value: c.spearmanAbsR },
  ]);
}

export function consistencyBars(r: Report): BarDatum[] {
  return consistencyBarsOf(r.consistency);
}

/** Cross-steering: the goal behavior's share with the own top set, the other analysis's set, and the random control. */
export function crossSteerBarsOf(cs: Pick<ConsistencyR, 'label' | 'crossSteer'>[]): BarDatum[] {
  return cs.flatMap((c) => (c.crossSteer ?? []).flatMap((x) => {
    const goal = x.table === 'memToGen' ? 'gen' : 'mem';
    const group = `${c.label} · ${x.table === 'memToGen' ? 'Mem→Gen % gen' : 'Gen→Mem % mem'} · α=${x.alpha}`;
    return [
      { group, key: 'own neurons', value: x.own[goal] },
      { group, key: 'other analysis\'s neurons', value: x.cross[goal] },
      { group, key: 'random control', value: x.control[goal] },
    ];
  }));
}

export function crossSteerBars(r: Report): BarDatum[] {
  return crossSteerBarsOf(r.consistency);
}
