// Shared bins for two overlaid distributions (mem vs gen activations of one neuron): both groups are cut at the
// same edges so their bars line up, and each is normalized by its own size because mem and gen sets differ in size.
import { bin, nice, ticks } from 'd3';
import { finiteExtent } from '../shared/scales';

export interface SharedBins {
  /** Bin edges, length nBins + 1, ascending. */
  edges: number[];
  /** Per group: counts per bin. */
  counts: number[][];
  /** Per group: fraction of that group's finite values per bin (sums to 1 unless the group is empty). */
  fractions: number[][];
  /** Per group: how many values were skipped because they were NaN or infinite. */
  skipped: number[];
}

/**
 * Cuts every group at the same edges: d3's nice thresholds (about `count` bins) over the extent of all groups
 * together. A group with no values gets zero counts; all values equal gives one bin of width 1 around them.
 */
export function sharedBins(groups: ArrayLike<number>[], count = 30): SharedBins {
  if (!Number.isFinite(count) || count < 1) throw new Error(`Histogram: bins must be a positive number, got ${count}.`);
  const finite = groups.map((g) => Array.from(g).filter((v) => Number.isFinite(v)));
  const skipped = groups.map((g, i) => g.length - finite[i].length);
  let [lo, hi] = finiteExtent(finite.flat()) ?? [0, 1];
  if (lo === hi) { lo -= 0.5; hi += 0.5; }
  // Nice, equal-width edges over the pooled extent (d3.nice + d3.ticks), then every group binned at exactly those.
  const [n0, n1] = nice(lo, hi, count);
  const edges = ticks(n0, n1, count);
  if (edges[0] > n0) edges.unshift(n0);
  if (edges[edges.length - 1] < n1) edges.push(n1);
  const binner = bin().domain([edges[0], edges[edges.length - 1]]).thresholds(edges.slice(1, -1));
  const counts = finite.map((g) => binner(g).map((b) => b.length));
  const fractions = counts.map((c, i) => c.map((n) => (finite[i].length ? n / finite[i].length : 0)));
  return { edges, counts, fractions, skipped };
}
