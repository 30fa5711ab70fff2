// Data shapes the charts take: plain arrays and typed arrays only, never tensors.

/** One point of a line. */
export interface LinePoint { x: number; y: number }
/** One line: points in ascending x (training steps); color defaults by name (mem/gen/other) or a cycle. */
export interface LineSeries { name: string; points: LinePoint[]; color?: string; dashed?: boolean }

/** Label counts (or fractions) at one training step. */
export interface SharesPoint { step: number; mem: number; gen: number; other: number }

/**
 * One bar: `group` along the x axis, `key` picks the bar within the group (and its color). An error bar is either
 * symmetric (`error`: value +- error) or an interval [`lo`, `hi`] (e.g. a 95% interval; takes precedence).
 */
export interface BarDatum { group: string; key: string; value: number; error?: number; lo?: number; hi?: number }

/** The ends of a bar's error whisker, or null when it has none. */
export function whisker(d: BarDatum): [number, number] | null {
  if (d.lo !== undefined && d.hi !== undefined) return [d.lo, d.hi];
  return d.error ? [d.value - d.error, d.value + d.error] : null;
}
/** A horizontal reference line across a bar chart (e.g. chance accuracy). */
export interface ReferenceLine { label: string; value: number }

/** A heatmap cell picked by click or Enter: row (layer) and the real column (neuron) index. */
export interface CellRef { row: number; col: number }
