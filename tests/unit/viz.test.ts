// Pure chart helpers: heatmap binning, shared histogram bins, domains, ticks, formats, and table operations.
import { describe, expect, it } from 'vitest';
import { scaleBand, scaleLinear, scaleLog } from 'd3';
import { binAt, binColumns, maxAbs, toGrid } from '../../src/lib/viz/heatmap/bin';
import { sharedBins } from '../../src/lib/viz/histogram/bins';
import {
  axisTicks, finiteExtent, formatPercent, formatValue, linearDomain, logDomain, mean, nearestIndex, seriesColor, symmetricDomain,
  titleLines,
} from '../../src/lib/viz/shared/scales';
import { filterRows, pageOf, sortRows, type Column } from '../../src/lib/viz/table/table';

describe('heatmap binning', () => {
  it('keeps the signed value with the largest |v| per bin and the column it came from', () => {
    // 2 rows x 7 cols into at most 3 bins -> bin size 3: cols [0..2], [3..5], [6].
    const rows = [Float32Array.from([0.1, -0.9, 0.5, 0, 0, 0.2, -3]), Float32Array.from([1, 2, 3, NaN, NaN, NaN, 4])];
    const b = binColumns(toGrid(rows), 3);
    expect(b.binSize).toBe(3);
    expect(b.nBins).toBe(3);
    expect(Array.from(b.values)).toEqual([Math.fround(-0.9), Math.fround(0.2), -3, 3, NaN, 4]);
    expect(Array.from(b.argCol)).toEqual([1, 5, 6, 2, -1, 6]);
    expect(maxAbs(b)).toBe(4);
  });

  it('bins a flat 28 x 131072 map to the canvas width and keeps a lone strong neuron visible', () => {
    const R = 28, C = 131072;
    const flat = new Float32Array(R * C); // (R, C)
    for (let i = 0; i < flat.length; i++) flat[i] = ((i * 2654435761) % 1000) / 1e5; // small, deterministic
    flat[13 * C + 99_999] = -7.5;
    const b = binColumns(toGrid(flat, R, C), 900);
    expect(b.binSize).toBe(Math.ceil(C / 900));
    expect(b.nBins).toBeLessThanOrEqual(900);
    const bin = Math.floor(99_999 / b.binSize);
    expect(b.values[13 * b.nBins + bin]).toBe(-7.5);
    expect(b.argCol[13 * b.nBins + bin]).toBe(99_999);
    expect(maxAbs(b)).toBe(7.5);
  });

  it('does not bin when columns fit, and maps x positions to bins with clamping', () => {
    const b = binColumns(toGrid([Float32Array.from([1, 2, 3, 4])]), 100);
    expect(b.binSize).toBe(1);
    expect(Array.from(b.argCol)).toEqual([0, 1, 2, 3]);
    expect(binAt(b, 0, 200)).toBe(0);
    expect(binAt(b, 149, 200)).toBe(2);
    expect(binAt(b, 500, 200)).toBe(3);
    expect(binAt(b, -5, 200)).toBe(0);
  });

  it('names the shape problem in its errors', () => {
    expect(() => toGrid(new Float32Array(10))).toThrow(/needs nRows and nCols/);
    expect(() => toGrid(new Float32Array(10), 3, 4)).toThrow(/3 x 4 = 12/);
    expect(() => toGrid([new Float32Array(3), new Float32Array(2)])).toThrow(/row 1 has 2 values but row 0 has 3/);
    expect(() => toGrid([new Float32Array(3)], 2)).toThrow(/nRows=2 but 1 rows/);
  });
});

describe('histogram shared bins', () => {
  it('cuts both groups at the same nice edges and normalizes each by its own size', () => {
    const h = sharedBins([[0, 1, 2, 3, 10], [5, 5, NaN]], 5);
    expect(h.edges).toEqual([0, 2, 4, 6, 8, 10]);
    expect(h.counts).toEqual([[2, 2, 0, 0, 1], [0, 0, 2, 0, 0]]);
    expect(h.fractions[0].reduce((a, b) => a + b)).toBeCloseTo(1);
    expect(h.fractions[1]).toEqual([0, 0, 1, 0, 0]);
    expect(h.skipped).toEqual([0, 1]);
  });

  it('counts every finite value once, including the maximum, for random data', () => {
    let s = 7;
    const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647) * 4 - 1;
    const a = Array.from({ length: 500 }, rnd), b = Array.from({ length: 300 }, () => rnd() + 1);
    const h = sharedBins([a, b], 20);
    expect(h.counts[0].reduce((x, y) => x + y)).toBe(500);
    expect(h.counts[1].reduce((x, y) => x + y)).toBe(300);
    expect(h.edges[0]).toBeLessThanOrEqual(Math.min(...a, ...b));
    expect(h.edges[h.edges.length - 1]).toBeGreaterThanOrEqual(Math.max(...a, ...b));
    const widths = h.edges.slice(1).map((e, i) => e - h.edges[i]);
    for (const w of widths) expect(w).toBeCloseTo(widths[0], 9);
  });

  it('handles all-equal values, an empty group, and rejects a bad bin count', () => {
    const h = sharedBins([[2, 2], []], 10);
    expect(h.edges[0]).toBeLessThan(2);
    expect(h.edges[h.edges.length - 1]).toBeGreaterThan(2);
    expect(h.counts[0].reduce((x, y) => x + y)).toBe(2);
    expect(h.fractions[1].every((f) => f === 0)).toBe(true);
    expect(() => sharedBins([[1]], 0)).toThrow(/bins must be a positive number/);
  });
});

describe('domains, ticks and formats', () => {
  it('builds linear, log and symmetric domains that skip non-finite values', () => {
    expect(finiteExtent([3, NaN, -2, Infinity])).toEqual([-2, 3]);
    expect(linearDomain([2, 4, NaN])).toEqual([2, 4]);
    expect(linearDomain([5, 5])).toEqual([4.5, 5.5]);
    expect(linearDomain([0.6, 0.9], { includeZero: true })).toEqual([0, 0.9]);
    const [lo, hi] = linearDomain([1, 3], { pad: 0.5 });
    expect([lo, hi]).toEqual([0, 4]);
    expect(logDomain([0, -1, 0.01, 10])).toEqual([0.01, 10]);
    expect(symmetricDomain([-0.3, 2, NaN])).toEqual([-2, 2]);
    expect(symmetricDomain([0, 0])).toEqual([-1, 1]);
  });

  it('formats ticks: SI for big spans, sparse labels on log axes, every category on band axes', () => {
    const big = axisTicks(scaleLinear().domain([0, 131072]).range([0, 800]), 6);
    expect(big.map((t) => t.label)).toContain('100k');
    expect(big[0].label).toBe('0');
    expect(big.every((t) => t.pos >= 0 && t.pos <= 800)).toBe(true);
    const small = axisTicks(scaleLinear().domain([0, 1]).range([100, 0]), 5);
    expect(small.map((t) => t.label)).toEqual(['0.0', '0.2', '0.4', '0.6', '0.8', '1.0']);
    const log = axisTicks(scaleLog().domain([0.01, 10]).range([0, 300]), 4);
    expect(log.filter((t) => t.label).map((t) => t.label)).toEqual(expect.arrayContaining(['0.01', '0.1', '1', '10']));
    expect(log.some((t) => t.label === '')).toBe(true);
    const band = axisTicks(scaleBand<string>().domain(['0', '1', '2']).range([0, 300]), 6);
    expect(band.map((t) => [t.label, t.pos])).toEqual([['0', 50], ['1', 150], ['2', 250]]);
  });

  it('formats values for tooltips and tables', () => {
    expect(formatValue(131072)).toBe('131k');
    expect(formatValue(0.123456)).toBe('0.123');
    expect(formatValue(2.3456)).toBe('2.35');
    expect(formatValue(1500.7)).toBe('1501');
    expect(formatValue(42)).toBe('42');
    expect(formatValue(0.0000123)).toBe('1.23e-5');
    expect(formatValue(NaN)).toBe('–');
    expect(formatPercent(0.1234)).toBe('12.3%');
    expect(mean([1, 2, NaN, 3])).toBe(2);
  });

  it('finds the nearest x and picks behavior colors by name', () => {
    expect(nearestIndex([0, 10, 20, 30], 14)).toBe(1);
    expect(nearestIndex([0, 10, 20, 30], 16)).toBe(2);
    expect(nearestIndex([0, 10, 20, 30], 99)).toBe(3);
    expect(nearestIndex([], 1)).toBe(-1);
    expect(seriesColor('mem', 0)).toContain('--mem');
    expect(seriesColor('Gen', 3)).toContain('--gen');
    expect(seriesColor('train loss', 0)).not.toBe(seriesColor('val loss', 1));
    expect(seriesColor('x', 0, '#123456')).toBe('#123456');
  });
});

describe('table rows', () => {
  interface R { name: string; r: number; layer: number }
  const rows: R[] = [
    { name: 'L3 N7', r: 0.4, layer: 3 }, { name: 'L1 N2', r: NaN, layer: 1 },
    { name: 'L10 N5', r: 0.9, layer: 10 }, { name: 'L3 N9', r: 0.4, layer: 3 },
  ];
  const cols: Column<R>[] = [{ key: 'name', label: 'neuron' }, { key: 'r', label: '|r|' }];
  const show = (c: Column<R>, r: R) => String(r[c.key]);

  it('sorts stably with missing values last in both directions', () => {
    expect(sortRows(rows, 'r', 'desc').map((x) => x.name)).toEqual(['L10 N5', 'L3 N7', 'L3 N9', 'L1 N2']);
    expect(sortRows(rows, 'r', 'asc').map((x) => x.name)).toEqual(['L3 N7', 'L3 N9', 'L10 N5', 'L1 N2']);
    expect(sortRows(rows, 'layer', 'asc').map((x) => x.layer)).toEqual([1, 3, 3, 10]);
  });

  it('filters on every word across shown columns, case-insensitively', () => {
    expect(filterRows(rows, cols, 'l3', show).map((x) => x.name)).toEqual(['L3 N7', 'L3 N9']);
    expect(filterRows(rows, cols, 'l3 n9', show).map((x) => x.name)).toEqual(['L3 N9']);
    expect(filterRows(rows, cols, '0.9', show).map((x) => x.name)).toEqual(['L10 N5']);
    expect(filterRows(rows, cols, '  ', show)).toHaveLength(4);
  });

  it('pages with a clamped page index and rejects a bad page size', () => {
    const p = pageOf(rows, 5, 3);
    expect(p.pageCount).toBe(2);
    expect(p.page).toBe(1);
    expect(p.rows.map((x) => x.name)).toEqual(['L3 N9']);
    expect(pageOf([], 0, 10)).toEqual({ rows: [], page: 0, pageCount: 1 });
    expect(() => pageOf(rows, 0, 0)).toThrow(/pageSize must be a positive integer/);
  });
});

describe('chart titles', () => {
  it('wrap at spaces to fit the chart, keeping every word and a long word whole', () => {
    const t = 'Steering sweep, mem → gen: % gen, targeted vs control';
    expect(titleLines(t, 1000)).toEqual([t]);
    const lines = titleLines(t, 200);
    expect(lines.length).toBeGreaterThan(1);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(25);
    expect(lines.join(' ')).toBe(t);
    expect(titleLines('a-very-long-single-word-title-here', 80)).toEqual(['a-very-long-single-word-title-here']);
  });
});
