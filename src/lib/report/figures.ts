// Chart data of a report: plain arrays for the viz components (pure, so it is tested in Node).
import type { BarDatum, LineSeries, ReferenceLine } from '../viz/types';
import type { Report } from './schema';

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

/** Volcano points over all hooks (NMD, |r|), the top set's flat indices, and a name per point. */
export function volcanoData(r: Report): { x: Float32Array; y: Float32Array; highlight: number[]; label: (i: number) => string } | null {
  const a = r.analysis;
  if (!a) return null;
  const offsets: number[] = [];
  let n = 0;
  for (const row of a.r) { offsets.push(n); n += row.length; }
  const x = new Float32Array(n), y = new Float32Array(n); // (sum of hook dims)
  a.r.forEach((row, h) => row.forEach((v, i) => { x[offsets[h] + i] = a.nmd[h]?.[i] ?? NaN; y[offsets[h] + i] = Math.abs(v); }));
  const hookIndex = new Map(a.hooks.map((h, i) => [h.name, i]));
  const highlight = a.top.flatMap((t) => { const h = hookIndex.get(t.hook); return h === undefined ? [] : [offsets[h] + t.index]; });
  const label = (i: number) => {
    let h = offsets.length - 1;
    while (h > 0 && offsets[h] > i) h--;
    return `${a.hooks[h]?.name ?? '?'} #${i - offsets[h]}`;
  };
  return { x, y, highlight, label };
}

/** Top-neuron counts by layer, one bar per (layer, top fraction). */
export function layerBars(r: Report): BarDatum[] {
  if (!r.analysis) return [];
  return Object.entries(r.analysis.layerDistribution).flatMap(([f, d]) =>
    d.map((x) => ({ group: `L${x.layer}`, key: `top ${Math.round(Number(f) * 1000) / 10}%`, value: x.count })));
}

/** Probe accuracy by layer (train and held-out) and the chance line. */
export function probeBars(r: Report): { data: BarDatum[]; chance: ReferenceLine } {
  const ps = r.analysis?.probes ?? [];
  const data = ps.flatMap((p) => [
    { group: `L${p.layer}`, key: 'held-out accuracy', value: p.testAcc },
    { group: `L${p.layer}`, key: 'train accuracy', value: p.trainAcc },
  ]);
  return { data, chance: { label: 'chance', value: ps.length ? Math.max(...ps.map((p) => p.chance)) : 0.5 } };
}

/** Steering bars for one table: the goal behavior's share, targeted beside the random control (± sd). */
export function steerBars(r: Report, kind: 'memToGen' | 'genToMem'): BarDatum[] {
  const goal = kind === 'memToGen' ? 'gen' : 'mem';
  return (r.steering?.cells ?? []).filter((c) => c.table === kind).flatMap((c) => {
    const group = `α=${c.alpha}, top ${Math.round(c.topFraction * 1000) / 10}%`;
    return [
      { group, key: 'targeted', value: c.targeted[goal] },
      { group, key: 'random control', value: c.control[goal], error: c.controlSd[goal] },
    ];
  });
}

/** Consistency: Jaccard of the top sets beside random sets, and Spearman of |r|, per comparison. */
export function consistencyBars(r: Report): BarDatum[] {
  return r.consistency.flatMap((c) => [
    { group: c.label, key: 'Jaccard', value: c.jaccard },
    { group: c.label, key: 'random Jaccard', value: c.randomJaccard },
    { group: c.label, key: 'Spearman |r|', value: c.spearmanAbsR },
  ]);
}

/** Cross-steering: the goal behavior's share with the own top set, the other analysis's set, and the random control. */
export function crossSteerBars(r: Report): BarDatum[] {
  return r.consistency.flatMap((c) => (c.crossSteer ?? []).flatMap((x) => {
    const goal = x.table === 'memToGen' ? 'gen' : 'mem';
    const group = `${c.label} · ${x.table === 'memToGen' ? 'Mem→Gen % gen' : 'Gen→Mem % mem'} · α=${x.alpha}`;
    return [
      { group, key: 'own neurons', value: x.own[goal] },
      { group, key: 'other analysis\'s neurons', value: x.cross[goal] },
      { group, key: 'random control', value: x.control[goal] },
    ];
  }));
}
