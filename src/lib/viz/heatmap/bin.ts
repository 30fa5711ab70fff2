// Column binning for the layer x neuron heatmap: 28 x 131072 values cannot each get a pixel, so columns are
// grouped into at most `maxBins` bins and each bin keeps its strongest value (max |v|, sign kept), so a single
// strong neuron stays visible instead of being averaged away. The bin also remembers which column won.

export interface HeatmapGrid {
  nRows: number;
  nCols: number;
  /** One row's values (a view, no copy). */
  row: (row: number) => Float32Array;
}

export interface BinnedGrid {
  nRows: number;
  nCols: number;
  nBins: number;
  /** Columns per bin (the last bin may be shorter). */
  binSize: number;
  /** (nRows, nBins) row-major: the value with the largest |v| in each bin; NaN when the bin has no finite value. */
  values: Float32Array;
  /** (nRows, nBins): the column that value came from (-1 when none). */
  argCol: Int32Array;
}

/**
 * Checks and wraps heatmap input: either one Float32Array per row (all the same length), or one flat row-major
 * Float32Array with nRows and nCols given. Throws a message naming the mismatch and how to fix it.
 */
export function toGrid(rows: Float32Array[] | Float32Array, nRows?: number, nCols?: number): HeatmapGrid {
  if (Array.isArray(rows)) {
    if (rows.length === 0) return { nRows: 0, nCols: 0, row: () => new Float32Array(0) };
    const c = rows[0].length;
    const bad = rows.findIndex((r) => r.length !== c);
    if (bad >= 0) {
      throw new Error(`Heatmap: row ${bad} has ${rows[bad].length} values but row 0 has ${c}; every row must have the same number of columns.`);
    }
    if (nRows !== undefined && nRows !== rows.length) {
      throw new Error(`Heatmap: nRows=${nRows} but ${rows.length} rows were given; drop nRows or make it match.`);
    }
    if (nCols !== undefined && nCols !== c) {
      throw new Error(`Heatmap: nCols=${nCols} but the rows have ${c} values; drop nCols or make it match.`);
    }
    return { nRows: rows.length, nCols: c, row: (r) => rows[r] };
  }
  if (!(rows instanceof Float32Array)) {
    throw new Error('Heatmap: rows must be a Float32Array[] (one per layer) or one flat Float32Array with nRows and nCols.');
  }
  if (nRows === undefined || nCols === undefined) {
    throw new Error(`Heatmap: a flat Float32Array of ${rows.length} values needs nRows and nCols (rows x cols = ${rows.length}).`);
  }
  if (!Number.isInteger(nRows) || !Number.isInteger(nCols) || nRows < 0 || nCols < 0 || nRows * nCols !== rows.length) {
    throw new Error(`Heatmap: the flat array has ${rows.length} values but nRows x nCols = ${nRows} x ${nCols} = ${nRows * nCols}; fix the shape.`);
  }
  return { nRows, nCols, row: (r) => rows.subarray(r * nCols, (r + 1) * nCols) };
}

/** Bins columns so there are at most maxBins per row (no binning when the columns already fit). */
export function binColumns(grid: HeatmapGrid, maxBins: number): BinnedGrid {
  const { nRows, nCols } = grid;
  const binSize = Math.max(1, Math.ceil(nCols / Math.max(1, Math.floor(maxBins))));
  const nBins = Math.ceil(nCols / binSize);
  const values = new Float32Array(nRows * nBins).fill(NaN); // (nRows, nBins)
  const argCol = new Int32Array(nRows * nBins).fill(-1); // (nRows, nBins)
  for (let r = 0; r < nRows; r++) {
    const row = grid.row(r);
    for (let b = 0; b < nBins; b++) {
      let best = NaN, bestAbs = -1, bestCol = -1;
      const end = Math.min(nCols, (b + 1) * binSize);
      for (let c = b * binSize; c < end; c++) {
        const v = row[c];
        const a = Math.abs(v);
        if (a > bestAbs) { bestAbs = a; best = v; bestCol = c; } // NaN fails the test, so it never wins
      }
      values[r * nBins + b] = best;
      argCol[r * nBins + b] = bestCol;
    }
  }
  return { nRows, nCols, nBins, binSize, values, argCol };
}

/** The bin under a horizontal position x in [0, width) of a plot `width` wide (clamped to the edges). */
export function binAt(binned: BinnedGrid, x: number, width: number): number {
  if (binned.nBins === 0 || width <= 0) return -1;
  return Math.min(binned.nBins - 1, Math.max(0, Math.floor((x / width) * binned.nBins)));
}

/** Max |value| over all finite cells (0 when none): the half-width of the symmetric color domain. */
export function maxAbs(binned: BinnedGrid): number {
  let m = 0;
  for (const v of binned.values) if (Number.isFinite(v) && Math.abs(v) > m) m = Math.abs(v);
  return m;
}
