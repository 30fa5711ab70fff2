// Pure helpers shared by the charts: domains, ticks, number formats and behavior colors.
// d3 does the maths; these only pick sensible defaults and guard against empty or non-finite data.
import { extent, format, scaleBand, type ScaleBand, type ScaleLinear, type ScaleLogarithmic } from 'd3';

/** Behavior colors: CSS vars from src/app.css, with the same hex as fallback so charts work without app.css. */
export const BEHAVIOR_HEX = { mem: '#c2410c', gen: '#0f766e', other: '#6b7280' } as const;
export type Behavior = keyof typeof BEHAVIOR_HEX;
export const BEHAVIOR_COLOR: Record<Behavior, string> = {
  mem: `var(--mem, ${BEHAVIOR_HEX.mem})`,
  gen: `var(--gen, ${BEHAVIOR_HEX.gen})`,
  other: `var(--other, ${BEHAVIOR_HEX.other})`,
};

/** One legend entry: a swatch (line, dashed line or box) in `color` and its name. */
export interface LegendItem { label: string; color: string; shape?: 'line' | 'box' | 'dash' }

/** Where each legend entry goes: rows wrap at maxWidth (text width estimated at 7 px a character, 12 px font). */
export function legendLayout(items: readonly LegendItem[], maxWidth: number): { x: number; y: number }[] & { rows: number } {
  const out = [] as unknown as { x: number; y: number }[] & { rows: number };
  let x = 0, row = 0;
  for (const it of items) {
    const w = 24 + it.label.length * 7;
    if (x > 0 && x + w > maxWidth) { x = 0; row++; }
    out.push({ x, y: row * LEGEND_ROW });
    x += w + 14;
  }
  out.rows = items.length ? row + 1 : 0;
  return out;
}
export const LEGEND_ROW = 18;

/** Top margin for a chart with a title and `rows` legend rows above the plot. */
export function topMargin(rows: number): number {
  return 30 + Math.max(1, rows) * LEGEND_ROW + 4;
}

/** Colorblind-safe cycle (Okabe-Ito minus yellow, which fails contrast on white) for series with no behavior name. */
export const SERIES_COLORS = ['#1f5fbf', '#d55e00', '#009e73', '#cc79a7', '#56b4e9', '#8a6d00', '#444444'];

/** Color for a series: explicit color, else the behavior color when the name is mem/gen/other, else the cycle. */
export function seriesColor(name: string, index: number, explicit?: string): string {
  if (explicit) return explicit;
  const key = name.trim().toLowerCase();
  if (key in BEHAVIOR_COLOR) return BEHAVIOR_COLOR[key as Behavior];
  return SERIES_COLORS[index % SERIES_COLORS.length];
}

/** Min and max of the finite values (NaN and +-Infinity are skipped); undefined when there are none. */
export function finiteExtent(values: Iterable<number>): [number, number] | undefined {
  const [lo, hi] = extent(values, (v) => (Number.isFinite(v) ? v : undefined));
  return lo === undefined || hi === undefined ? undefined : [lo, hi];
}

/** A linear domain that covers the values with a little headroom; a flat or empty series still gets a span. */
export function linearDomain(values: Iterable<number>, opts: { includeZero?: boolean; pad?: number } = {}): [number, number] {
  const e = finiteExtent(values);
  let [lo, hi] = e ?? [0, 1];
  if (opts.includeZero) { lo = Math.min(lo, 0); hi = Math.max(hi, 0); }
  if (lo === hi) { const d = lo === 0 ? 1 : Math.abs(lo) * 0.1; lo -= d; hi += d; }
  const pad = (hi - lo) * (opts.pad ?? 0);
  // Padding never pushes a zero bound below zero (counts, accuracies) when zero was asked for.
  return [opts.includeZero && lo === 0 ? 0 : lo - pad, opts.includeZero && hi === 0 ? 0 : hi + pad];
}

/** A log domain from the strictly positive finite values (others cannot be shown on a log axis). */
export function logDomain(values: Iterable<number>): [number, number] {
  const pos: number[] = [];
  for (const v of values) if (Number.isFinite(v) && v > 0) pos.push(v);
  const e = finiteExtent(pos);
  if (!e) return [0.1, 1];
  const [lo, hi] = e;
  // Widen a flat series to one decade around it so the axis still has ticks.
  return lo === hi ? [lo / Math.SQRT2 / 2, hi * Math.SQRT2 * 2] : [lo, hi];
}

/** A domain symmetric about zero, [-m, m] with m = max |v| (m = 1 when all values are 0 or none are finite). */
export function symmetricDomain(values: Iterable<number>): [number, number] {
  let m = 0;
  for (const v of values) if (Number.isFinite(v) && Math.abs(v) > m) m = Math.abs(v);
  if (m === 0) m = 1;
  return [-m, m];
}

const fmtSI = format('.3~s');
const fmtExp = format('.2e');

/** A value for tooltips and tables: 3 significant digits, SI suffix from 10k, exponent below 0.001. */
export function formatValue(v: number): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e4) return fmtSI(v).replace('G', 'B');
  if (a < 1e-3) return fmtExp(v);
  if (Number.isInteger(v) || a >= 1000) return String(Math.round(v));
  // toPrecision keeps 3 significant digits; Number() drops trailing zeros ("0.500" -> "0.5").
  return String(Number(v.toPrecision(3)));
}

/** A fraction in [0, 1] as a percent with one decimal. */
export function formatPercent(f: number): string {
  return Number.isFinite(f) ? `${(f * 100).toFixed(1)}%` : '–';
}

export type AxisScale = ScaleLinear<number, number> | ScaleLogarithmic<number, number> | ScaleBand<string>;
export interface Tick { value: number | string; pos: number; label: string; lines?: string[] }

/** Width of a 12 px system-ui axis label per character, a little generous (no DOM here to measure with). */
const TICK_CHAR_PX = 7;

/** How many lines the longest tick label takes (band labels wrap at ", " when one line is wider than a band). */
export function tickLines(ticks: Tick[]): number {
  return Math.max(1, ...ticks.map((t) => t.lines?.length ?? 1));
}

/**
 * Ticks for an axis: band scales tick every category (centered), continuous scales use d3's ticks and
 * tickFormat; large spans get SI suffixes (131k), and log axes label only the ticks d3 keeps (1, 2, 5 per decade).
 */
export function axisTicks(scale: AxisScale, count = 6, fmt?: (v: number) => string): Tick[] {
  if ('bandwidth' in scale) {
    const half = scale.bandwidth() / 2;
    const dom = scale.domain();
    const step = scale.step();
    const widest = (parts: string[][]) => Math.max(0, ...parts.flat().map((l) => l.length * TICK_CHAR_PX + 8));
    // A label wider than its band wraps at ", " ("α=0.5," over "top 10%"); if a line is still too wide, only
    // every k-th label shows (and never more than about 2 x count labels) so neighbours never overlap.
    let lines = dom.map((d) => [d]);
    if (widest(lines) > step) {
      const split = dom.map((d) => d.split(/(?<=,) /));
      if (split.some((l) => l.length > 1)) lines = split;
    }
    const k = Math.max(1, Math.ceil(dom.length / Math.max(1, count * 2)), Math.ceil(widest(lines) / Math.max(1, step)));
    return dom.map((d, i) => {
      const show = i % k === 0;
      return { value: d, pos: (scale(d) ?? 0) + half, label: show ? d : '', ...(show && lines[i].length > 1 ? { lines: lines[i] } : {}) };
    });
  }
  const ticks = scale.ticks(count);
  const isLog = 'base' in scale;
  const [lo, hi] = scale.domain();
  const big = Math.max(Math.abs(lo), Math.abs(hi)) >= 1e4;
  const f = fmt ?? (isLog ? scale.tickFormat(count, '~g') : scale.tickFormat(count, big ? '~s' : undefined));
  // An SI format writes zero as "0k"; zero reads better bare.
  return ticks.map((t) => ({ value: t, pos: scale(t), label: t === 0 && big && !fmt ? '0' : f(t) }));
}

/** Evenly spaced integer ticks for a category index axis (layers) with at most `count` labels. */
export function indexBand(n: number, range: [number, number], padding = 0): ScaleBand<string> {
  return scaleBand<string>().domain(Array.from({ length: n }, (_, i) => String(i))).range(range).padding(padding);
}

/** Index of the point whose x is nearest to `x` in an ascending array of xs (-1 when empty). */
export function nearestIndex(xs: ArrayLike<number>, x: number): number {
  const n = xs.length;
  if (n === 0) return -1;
  let lo = 0, hi = n - 1;
  while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (xs[mid] <= x) lo = mid; else hi = mid; }
  return Math.abs(xs[hi] - x) < Math.abs(xs[lo] - x) ? hi : lo;
}

/** A CSS color for canvas drawing: `var(--name, fallback)` is looked up on `el` (canvas cannot read CSS vars). */
export function resolveCssColor(el: Element, color: string): string {
  const m = /^var\(\s*(--[\w-]+)\s*(?:,\s*(.+))?\)$/.exec(color.trim());
  if (!m) return color;
  const v = getComputedStyle(el).getPropertyValue(m[1]).trim();
  return v || (m[2]?.trim() ?? '#000');
}

/** Mean of the finite values (NaN when there are none). */
export function mean(values: ArrayLike<number>): number {
  let s = 0, n = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) { s += values[i]; n++; }
  return n ? s / n : NaN;
}

/**
 * A chart title broken into lines that fit `maxWidth` (14 px semibold estimated at 9 px a character, on the safe
 * side), at spaces; a single word longer than a line stays whole. Charts draw with overflow visible, so a title
 * wider than its chart would run past the edge (the layout test's edge check).
 */
export function titleLines(title: string, maxWidth: number, pxPerChar = 9): string[] {
  const max = Math.max(8, Math.floor(maxWidth / pxPerChar));
  const lines: string[] = [];
  let line = '';
  for (const w of title.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + w.length > max) { lines.push(line); line = w; }
    else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.length ? lines : [''];
}
