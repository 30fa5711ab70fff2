// The report's tables, defined once: the Report page shows them, the saved HTML prints them, and each one
// downloads as CSV. A column gives the raw value (what the CSV holds) and, optionally, how it shows on screen.
import { csvFormatRows } from 'd3';
import type { Report } from './schema';
import type { ControlCell, SteerCell } from '../steer/experiment';
import { seedRows, seedStatements, type SeedRow } from './seeds';
import { cellControls, decodeName, modeName, pairsDecodeName, probeCi } from './figures';

type Cell = string | number;

interface Col<T> {
  label: string;
  /** Raw value, written to CSV as is. */
  value: (row: T) => Cell;
  /** On-screen text; default: numbers to 4 significant digits, text as is. */
  show?: (row: T) => string;
  /** In the CSV only (e.g. an sd the screen already shows as "mean ± sd"). */
  csvOnly?: boolean;
}

/** One table: header and raw rows (for CSV), display header and rows (for the page and the HTML report). */
export interface ReportTable {
  id: string;
  title: string;
  /** CSV header and rows: every column, raw values. */
  head: string[];
  raw: Cell[][];
  /** On-screen header, text rows, and which of those columns are numbers (aligned right). */
  viewHead: string[];
  cells: string[][];
  numeric: boolean[];
  /** A line under the table (what the numbers mean). */
  note?: string;
}

/** Plain number text: integers as is, others to 4 significant digits (no trailing zeros). */
export function num(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? '–' : v > 0 ? '∞' : '−∞';
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}
const pct1 = (v: number) => `${v.toFixed(1)}%`;
const frac = (v: number) => `${(100 * v).toFixed(1)}%`;

function table<T>(id: string, title: string, rows: readonly T[], cols: Col<T>[], note?: string): ReportTable {
  const view = cols.filter((c) => !c.csvOnly);
  return {
    id, title, note,
    head: cols.map((c) => c.label),
    raw: rows.map((r) => cols.map((c) => c.value(r))),
    viewHead: view.map((c) => c.label),
    numeric: view.map((c) => rows.length > 0 && rows.every((r) => typeof c.value(r) === 'number')),
    cells: rows.map((r) => view.map((c) => {
      if (c.show) return c.show(r);
      const v = c.value(r);
      return typeof v === 'number' ? num(v) : v;
    })),
  };
}

type Cells = NonNullable<Report['steering']>['cells'];
type ProbeRow = NonNullable<Report['analysis']>['probes'][number];
type Point = NonNullable<Report['recordingPoints']>[number];

const accCi = (acc: number, n: number | undefined) => frac(acc) + (n ? (({ lo, hi }) => ` [${(100 * lo).toFixed(1)}, ${(100 * hi).toFixed(1)}]`)(probeCi(acc, n)) : '');

/** A probe's accuracy on fresh prompts (Wilson 95% interval) and the fresh set's majority rate. */
const freshProbeCols: Col<ProbeRow>[] = [
  { label: 'fresh-prompt accuracy', value: (p) => p.freshAcc ?? '', show: (p) => (p.freshAcc === undefined ? '' : accCi(p.freshAcc, p.freshRows)) },
  { label: 'fresh prompts', value: (p) => p.freshRows ?? '' },
  { label: 'fresh majority rate', value: (p) => p.freshChance ?? '', show: (p) => (p.freshChance === undefined ? '' : frac(p.freshChance)) },
];

/** What each recording point is, in words. */
export const POINT_NAMES: Record<Point['hookSet'], string> = {
  resid: 'residual stream (block outputs)',
  ln2: 'FFN LayerNorm output (ln2, the paper\'s)',
  mlp: 'MLP hidden units',
};

/**
 * The recording points side by side: per point and steering setting, the positions, where the top set sits, the
 * best probe (held out and on fresh prompts), the targeted goal share and targeted minus each control with its
 * verdict; then every probe of every point.
 */
export function recordingPointTables(points: Point[]): ReportTable[] {
  const best = (ps: ProbeRow[], k: 'testAcc' | 'freshAcc') => ps.filter((p) => p[k] !== undefined).reduce<ProbeRow | null>((m, p) => (!m || p[k]! > m[k]! ? p : m), null);
  const rows = points.flatMap((pt) => (pt.cells.length ? pt.cells : [null]).map((c) => ({ pt, c })));
  const kinds = [...new Set(points.flatMap((p) => p.cells.flatMap((c) => (c.controls ?? []).map((x) => x.kind))))];
  const layers = (pt: Point) => pt.layers.filter((l) => l.count > 0).map((l) => `L${l.layer} ${Math.round(100 * l.fraction)}%`).join(', ');
  const main = table('recording-points', 'Recording points side by side: the same pairs recorded, ranked, probed and steered at each', rows, [
    { label: 'recording point', value: (x) => x.pt.hookSet, show: (x) => POINT_NAMES[x.pt.hookSet] },
    { label: 'informative positions', value: (x) => x.pt.positions - x.pt.degenerate, show: (x) => `${x.pt.positions - x.pt.degenerate} of ${x.pt.positions}` },
    { label: 'top set by layer', value: (x) => layers(x.pt), show: (x) => `${x.pt.topCount} (top ${frac(x.pt.topFraction)}): ${layers(x.pt)}` },
    { label: 'best held-out probe', value: (x) => best(x.pt.probes, 'testAcc')?.testAcc ?? '', show: (x) => ((p) => (p ? `L${p.layer} ${accCi(p.testAcc, p.testRows)}` : ''))(best(x.pt.probes, 'testAcc')) },
    { label: 'best fresh-prompt probe', value: (x) => best(x.pt.probes, 'freshAcc')?.freshAcc ?? '', show: (x) => ((p) => (p ? `L${p.layer} ${accCi(p.freshAcc!, p.freshRows)} (majority ${frac(p.freshChance ?? 0)})` : ''))(best(x.pt.probes, 'freshAcc')) },
    { label: 'steering', value: (x) => (x.c ? `${x.c.table} α=${x.c.alpha}` : ''), show: (x) => (x.c ? `${x.c.table === 'memToGen' ? 'Mem → Gen' : 'Gen → Mem'} α=${x.c.alpha}` : '') },
    { label: 'prompts', value: (x) => x.c?.prompts ?? '' },
    { label: 'targeted % goal', value: (x) => (x.c ? goalOf(x.c) : ''), show: (x) => (x.c ? `${pct1(goalOf(x.c))}${ci1(x.c.targetedCi?.[x.c.table === 'memToGen' ? 'gen' : 'mem'])}` : '') },
    ...kinds.map((k): Col<(typeof rows)[number]> => ({
      label: `− ${k}`,
      value: (x) => x.c?.controls?.find((c) => c.kind === k)?.diff.goal.estimate ?? '',
      show: (x) => ((c) => (c ? `${signed(c.diff.goal.estimate)}${ci1([c.diff.goal.lo, c.diff.goal.hi])} ${c.verdict}` : ''))(x.c?.controls?.find((c) => c.kind === k)),
    })),
  ], 'Targeted minus each control in percent points of the goal share, with the 95% bootstrap interval; "holds" only where the interval excludes 0. '
    + `Decoding: ${[...new Set(points.flatMap((p) => p.cells.map((c) => modeName(c.decode))))].join(', ') || 'not recorded'}.`);
  const probes = points.flatMap((pt) => pt.probes.map((p) => ({ pt: pt.hookSet, ...p })));
  const probeTable = table('recording-points-probes', 'Probes at each recording point (held out on the pairs, and on fresh prompts)', probes, [
    { label: 'recording point', value: (p) => p.pt, show: (p) => POINT_NAMES[p.pt] },
    { label: 'hook', value: (p) => p.hook }, { label: 'layer', value: (p) => p.layer },
    { label: 'held-out accuracy', value: (p) => p.testAcc, show: (p) => accCi(p.testAcc, p.testRows) },
    { label: 'chance', value: (p) => p.chance, show: (p) => frac(p.chance) },
    ...freshProbeCols,
  ]);
  return [main, probeTable];
}

/** The goal share of a steering cell: % gen for Mem → Gen, % mem for Gen → Mem. */
const goalOf = (c: Cells[number]) => (c.table === 'memToGen' ? c.targeted.gen : c.targeted.mem);

const ci1 = (i: [number, number] | undefined) => (i ? ` [${i[0].toFixed(1)}, ${i[1].toFixed(1)}]` : '');
const signed = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(1)}`;

/**
 * Steering rows of one table: the targeted shares with Wilson 95% intervals, then per control its goal and
 * "other" shares (mean over seeds with a bootstrap 95% interval; an older report: mean ± sd) and the targeted
 * minus control difference on the goal share with its 95% interval and verdict ("holds" only where the interval
 * excludes 0).
 */
export function steeringTable(kind: 'memToGen' | 'genToMem', cells: Cells, decode?: string): ReportTable {
  const rows = cells.filter((c) => c.table === kind);
  const goal = kind === 'memToGen' ? 'gen' : 'mem';
  const title = (kind === 'memToGen'
    ? 'Steering Mem → Gen (memorized prompts shifted along −NMD)'
    : 'Steering Gen → Mem (rule-following prompts shifted along +NMD)') + (decode ? ` · ${decode}` : '');
  const kinds = [...new Set(rows.flatMap((c) => cellControls(c).map((k) => k.kind)))];
  const ctl = (c: Cells[number], k: string) => cellControls(c).find((x) => x.kind === k);
  const tcol = (k: 'gen' | 'mem' | 'other'): Col<Cells[number]>[] => [
    { label: `% ${k}`, value: (c) => c.targeted[k], show: (c) => pct1(c.targeted[k]) + ci1(c.targetedCi?.[k]) },
    { label: `% ${k} lo`, value: (c) => c.targetedCi?.[k][0] ?? '', csvOnly: true },
    { label: `% ${k} hi`, value: (c) => c.targetedCi?.[k][1] ?? '', csvOnly: true },
  ];
  const ccols = kinds.flatMap((kd): Col<Cells[number]>[] => {
    const share = (k: 'gen' | 'mem' | 'other'): Col<Cells[number]> => ({
      label: `${kd} control % ${k}`, value: (c) => ctl(c, kd)?.mean[k] ?? '',
      show: (c) => { const x = ctl(c, kd); return !x ? '' : x.ci ? pct1(x.mean[k]) + ci1(x.ci[k]) : `${pct1(x.mean[k])} ± ${x.sd[k].toFixed(1)}`; },
    });
    return [
      share(goal), share('other'),
      { label: `${kd} control sd ${goal}`, value: (c) => ctl(c, kd)?.sd[goal] ?? '', csvOnly: true },
      { label: `${kd} control sd other`, value: (c) => ctl(c, kd)?.sd.other ?? '', csvOnly: true },
      { label: `${kd} control runs`, value: (c) => ctl(c, kd)?.seeds ?? '', csvOnly: true },
      {
        label: `targeted − ${kd}, % ${goal}`, value: (c) => ctl(c, kd)?.diff?.goal.estimate ?? '',
        show: (c) => { const d = ctl(c, kd)?.diff?.goal; return d ? `${signed(d.estimate)} [${d.lo.toFixed(1)}, ${d.hi.toFixed(1)}]` : ''; },
      },
      { label: `targeted − ${kd} lo`, value: (c) => ctl(c, kd)?.diff?.goal.lo ?? '', csvOnly: true },
      { label: `targeted − ${kd} hi`, value: (c) => ctl(c, kd)?.diff?.goal.hi ?? '', csvOnly: true },
      { label: `vs ${kd}`, value: (c) => ctl(c, kd)?.verdict ?? '' },
    ];
  });
  return table(`steering-${kind}`, title, rows, [
    { label: 'α', value: (c) => c.alpha },
    { label: 'top fraction', value: (c) => c.topFraction, show: (c) => frac(c.topFraction) },
    { label: 'neurons', value: (c) => c.neurons },
    { label: 'prompts', value: (c) => c.prompts },
    { label: 'decode', value: (c) => c.decode ?? decode ?? '', csvOnly: true },
    ...tcol('gen'), ...tcol('mem'), ...tcol('other'),
    ...ccols,
  ], 'Targeted: the top neurons shifted by α × NMD (Wilson 95% intervals). Controls: paper = as many random positions of all hooks, '
    + 'uniform shifts within ±max|NMD| (the authors\' control); matched = random informative positions of the same hooks, given the '
    + 'targeted set\'s own shift values; direction = the mean-difference direction over each targeted hook\'s full width at the '
    + 'targeted shift\'s norm. Control shares: mean over runs [bootstrap 95% over prompts and seeds]. "targeted − control": '
    + 'percent points [95% bootstrap]; "holds" only where the interval lies above 0, else "not shown".');
}

/** Every table the report has data for, in page order. Empty sections are left out. */
export function reportTables(r: Report): ReportTable[] {
  const out: ReportTable[] = [];
  if (r.training) {
    const chosen = r.training.chosen?.step;
    out.push(table('training-evals', 'Validation decodes during training', r.training.evals, [
      { label: 'step', value: (e) => e.step, show: (e) => (e.step === chosen ? `${e.step} (chosen)` : String(e.step)) },
      { label: 'decode', value: (e) => e.decode },
      { label: 'mem', value: (e) => e.mem }, { label: 'gen', value: (e) => e.gen }, { label: 'other', value: (e) => e.other },
      { label: 'total', value: (e) => e.total },
      // a mixed model: gen / mem / other per part
      ...(r.model.mixed ?? []).map((t) => ({ label: `${t} gen / mem / other`, value: (e: (typeof r.training.evals)[number]) => {
        const c = e.byTask?.[t];
        return c ? `${c.gen} / ${c.mem} / ${c.other}` : '';
      } })),
    ]));
  }
  if (r.pairs) {
    out.push(table('pair-examples', `Kept contrastive pairs (examples; ${r.pairs.kept} kept of ${r.pairs.tried}) · ${pairsDecodeName(r.pairs.decode)}`, r.pairs.examples, [
      { label: 'answered from memory', value: (e) => e.mem }, { label: 'answered by the rule', value: (e) => e.gen },
    ]));
  }
  if (r.analysis) {
    const a = r.analysis;
    const dist = Object.entries(a.layerDistribution).flatMap(([f, rows]) => rows.map((x) => ({ f: Number(f), ...x })));
    out.push(table('layer-distribution', 'Layer distribution of the top neurons', dist, [
      { label: 'top fraction', value: (d) => d.f, show: (d) => frac(d.f) },
      { label: 'layer', value: (d) => d.layer }, { label: 'count', value: (d) => d.count },
      { label: 'fraction', value: (d) => d.fraction, show: (d) => frac(d.fraction) },
    ]));
    if (a.hooks.some((h) => h.degenerate !== undefined)) {
      const d = a.hooks.reduce((x, h) => x + (h.degenerate ?? 0), 0), all = a.hooks.reduce((x, h) => x + h.dim, 0);
      out.push(table('positions', `Neuron positions: ${all - d} informative, ${d} constant (degenerate) of ${all}`, a.hooks, [
        { label: 'hook', value: (h) => h.name }, { label: 'layer', value: (h) => h.layer }, { label: 'positions', value: (h) => h.dim },
        { label: 'constant (left out)', value: (h) => h.degenerate ?? '' },
      ], 'A position constant over every recorded row (e.g. the embedding of the same last token at the same place) cannot tell mem from gen: '
        + 'it is left out of the ranking, the top-k denominator and the probes (a hook with no informative position gets no probe).'));
    }
    out.push(table('probes', 'Linear probes (mem vs gen) by layer', a.probes, [
      { label: 'hook', value: (p) => p.hook }, { label: 'layer', value: (p) => p.layer },
      { label: 'train accuracy', value: (p) => p.trainAcc, show: (p) => frac(p.trainAcc) },
      { label: 'held-out accuracy', value: (p) => p.testAcc, show: (p) => frac(p.testAcc) + (p.testRows ? (({ lo, hi }) => ` [${(100 * lo).toFixed(1)}, ${(100 * hi).toFixed(1)}]`)(probeCi(p.testAcc, p.testRows)) : '') },
      { label: 'held-out rows', value: (p) => p.testRows ?? '', csvOnly: true },
      { label: 'features', value: (p) => p.features ?? '', csvOnly: true },
      { label: 'chance', value: (p) => p.chance, show: (p) => frac(p.chance) },
      ...(a.probes.some((p) => p.freshAcc !== undefined) ? freshProbeCols : []),
    ]));
    out.push(table('top-neurons', 'Top neurons by |r|', a.top, [
      { label: 'rank', value: (n) => n.rank }, { label: 'hook', value: (n) => n.hook }, { label: 'layer', value: (n) => n.layer },
      { label: 'neuron', value: (n) => n.index }, { label: 'r', value: (n) => n.r }, { label: 'NMD', value: (n) => n.nmd },
      { label: 'q (BH)', value: (n) => n.q ?? '', show: (n) => (n.q === undefined ? '' : n.q.toExponential(2)) },
    ], 'r: Pearson correlation of the activation with the label (mem = 1); NMD: mean activation on mem minus on gen.'));
  }
  if (r.recordingPoints?.length) out.push(...recordingPointTables(r.recordingPoints));
  if (r.seedRuns && r.seedRuns.length > 1) {
    const runs = r.seedRuns;
    out.push(table('seeds', `Headline figures over ${runs.length} seeds (mean and range)`, seedRows(runs), [
      { label: 'figure', value: (x) => x.figure },
      ...runs.map((s, i): Col<SeedRow> => ({ label: `seed ${s.seed}`, value: (x) => x.values[i] ?? '', show: (x) => (x.values[i] === null ? '' : num(x.values[i]!)) })),
      { label: 'mean', value: (x) => x.mean }, { label: 'min', value: (x) => x.min }, { label: 'max', value: (x) => x.max },
      { label: 'holds in', value: (x) => (x.holds ? `${x.holds.k}/${x.holds.n}` : ''), show: (x) => (x.holds ? `${x.holds.k} of ${x.holds.n} seeds` : '') },
    ], seedStatements(runs).join(' ')));
  }
  if (r.steering) {
    const p = r.steering.pool;
    if (p) {
      out.push(table('steering-prompts', 'Prompts steered: a fresh seeded set, decoded without steering', [p], [
        { label: 'source', value: (x) => `${x.source} (seed ${x.seed})` }, { label: 'decode', value: (x) => x.decode },
        { label: 'decoded', value: (x) => x.counts.total }, { label: 'mem', value: (x) => x.counts.mem }, { label: 'gen', value: (x) => x.counts.gen },
        { label: 'other', value: (x) => x.counts.other }, { label: 'left out (train / validation / pair prompts, repeats)', value: (x) => x.excluded },
        { label: 'steered per table (at most)', value: (x) => x.perDirection },
      ], 'Every decoded prompt is counted: Mem → Gen steers prompts answered mem here (those already answered gen are the "gen" count), Gen → Mem those answered gen.'));
    }
    for (const k of ['memToGen', 'genToMem'] as const) {
      if (r.steering.cells.some((c) => c.table === k)) out.push(steeringTable(k, r.steering.cells, decodeName(r)));
    }
  }
  if (r.consistency.length) {
    out.push(table('consistency', 'Consistency of the top neurons', r.consistency, [
      { label: 'comparison', value: (c) => c.label },
      { label: 'top fraction', value: (c) => c.topFraction, show: (c) => frac(c.topFraction) },
      { label: 'Jaccard', value: (c) => c.jaccard }, { label: 'random Jaccard', value: (c) => c.randomJaccard },
      { label: 'Spearman of |r|', value: (c) => c.spearmanAbsR }, { label: 'positions', value: (c) => c.positions },
    ], 'Jaccard overlap of the two top sets beside what two random sets of the same size get; Spearman correlation of |r| over all positions.'));
    const cross = r.consistency.flatMap((c) => (c.crossSteer ?? []).map((x) => ({ ...x, label: c.label })));
    if (cross.length) {
      const pc = (x: number) => `${x.toFixed(1)}%`;
      const modes = [...new Set(cross.map((c) => modeName(c.decode)))].join(', ');
      out.push(table('cross-steering', `Cross-steering: one analysis's neurons steering the prompts · ${modes}`, cross, [
        { label: 'comparison', value: (c) => c.label },
        { label: 'table', value: (c) => c.table, show: (c) => (c.table === 'memToGen' ? 'Mem → Gen' : 'Gen → Mem') },
        { label: 'alpha', value: (c) => c.alpha }, { label: 'top fraction', value: (c) => c.topFraction, show: (c) => frac(c.topFraction) },
        { label: 'prompts', value: (c) => c.prompts },
        { label: 'own % goal', value: (c) => c.own[c.table === 'memToGen' ? 'gen' : 'mem'], show: (c) => pc(c.own[c.table === 'memToGen' ? 'gen' : 'mem']) },
        { label: 'cross % goal', value: (c) => c.cross[c.table === 'memToGen' ? 'gen' : 'mem'], show: (c) => pc(c.cross[c.table === 'memToGen' ? 'gen' : 'mem']) },
        { label: 'control % goal', value: (c) => c.control[c.table === 'memToGen' ? 'gen' : 'mem'], show: (c) => pc(c.control[c.table === 'memToGen' ? 'gen' : 'mem']) },
        { label: 'own % other', value: (c) => c.own.other, show: (c) => pc(c.own.other) },
        { label: 'cross % other', value: (c) => c.cross.other, show: (c) => pc(c.cross.other) },
        { label: 'control % other', value: (c) => c.control.other, show: (c) => pc(c.control.other) },
      ], 'The goal is % gen for Mem → Gen and % mem for Gen → Mem. "Own": the first analysis\'s top set; "cross": the second\'s, steering the same prompts; control: random neurons of the same count and range.'));
    }
  }
  return out;
}

/** The table as CSV text (raw values, header first). */
export function tableCsv(t: ReportTable): string {
  return csvFormatRows([t.head, ...t.raw.map((r) => r.map(String))]);
}

/** A steering sweep as CSV: one row per cell and control, with the targeted share's interval and each difference's. */
export function sweepToCsv(cells: SteerCell[]): string {
  const head = 'table,decode,alpha,top_fraction,neurons,prompts,targeted_gen,targeted_mem,targeted_other,targeted_goal_lo,targeted_goal_hi,control,control_seeds,control_gen,control_mem,control_other,control_gen_sd,control_mem_sd,control_other_sd,diff_goal,diff_goal_lo,diff_goal_hi,diff_other,diff_other_lo,diff_other_hi,verdict';
  const f = (x: number) => x.toFixed(2);
  const rows: string[] = [];
  for (const c of cells) {
    const goal = c.table === 'memToGen' ? 'gen' : 'mem';
    const ci = c.targetedCi?.[goal];
    const base = [c.table, c.decode ?? '', c.alpha, c.topFraction, c.neurons, c.prompts, f(c.targeted.gen), f(c.targeted.mem), f(c.targeted.other), ci ? f(ci[0]) : '', ci ? f(ci[1]) : ''];
    const ctrls: ControlCell[] = c.controls ?? [{ kind: 'paper', seeds: c.controlSeeds, mean: c.control, sd: c.controlSd } as ControlCell];
    for (const k of ctrls) {
      const d = k.diff;
      rows.push([...base, k.kind, k.seeds, f(k.mean.gen), f(k.mean.mem), f(k.mean.other), f(k.sd.gen), f(k.sd.mem), f(k.sd.other),
        d ? f(d.goal.estimate) : '', d ? f(d.goal.lo) : '', d ? f(d.goal.hi) : '', d ? f(d.other.estimate) : '', d ? f(d.other.lo) : '', d ? f(d.other.hi) : '', k.verdict ?? ''].join(','));
    }
  }
  return [head, ...rows].join('\n');
}
