// reproduce --seeds N: headline figures of each seed's report, their mean and range, and what the report says when
// a steering claim does not hold across seeds.
import { describe, expect, it } from 'vitest';
import { headlines, seedRows, seedStatements } from '../../src/lib/report/seeds';
import { parseReport, type Report } from '../../src/lib/report/schema';
import { reportTables } from '../../src/lib/report/tables';
import { reportSummary } from '../../src/lib/report/html';
import { makeReport } from './report-fixture';

/** A report whose one steering cell has a matched-control difference d with interval [lo, hi]. */
function seedReport(flip: number, d: number, lo: number, hi: number): Report {
  const r = makeReport();
  r.pairs!.flipRate = flip;
  const c = r.steering!.cells[2]; // Mem → Gen α=3
  c.controls = [{ kind: 'matched', seeds: 10, mean: { gen: 10, mem: 85, other: 5 }, sd: { gen: 1, mem: 1, other: 1 },
    ci: { gen: [9, 11], mem: [84, 86], other: [4, 6] }, diff: { goal: { estimate: d, lo, hi }, other: { estimate: 0, lo: -1, hi: 1 } }, verdict: lo > 0 ? 'holds' : 'not shown' }];
  r.steering!.cells = [c];
  return r;
}

describe('seeds', () => {
  it('takes flip rate, layer shares, probes, steering differences with verdicts and consistency from a report', () => {
    const h = headlines(seedReport(0.2, 12, 5, 19), 1);
    expect(h.figures['flip rate, %']).toBeCloseTo(20);
    expect(Object.keys(h.figures).filter((k) => k.startsWith('top 5% in layer'))).toHaveLength(3);
    expect(h.figures['probe layer 2 (held out), %']).toBeCloseTo(81);
    expect(h.figures['Mem → Gen α=3 top 5%: targeted − matched, pp']).toBe(12);
    expect(h.verdicts['Mem → Gen α=3 top 5%: targeted − matched, pp']).toBe('holds');
    expect(h.figures['Jaccard, pairs seed 1 vs seed 2']).toBe(0.41);
  });

  it('gives mean and range over seeds, and says when a claim does not hold in every seed', () => {
    const runs = [headlines(seedReport(0.2, 12, 5, 19), 1), headlines(seedReport(0.3, 3, -2, 8), 2), headlines(seedReport(0.1, 9, 2, 16), 3)];
    const flip = seedRows(runs).find((x) => x.figure === 'flip rate, %')!;
    expect(flip.values.map((v) => Math.round(v!))).toEqual([20, 30, 10]);
    expect(flip.mean).toBeCloseTo(20);
    expect([flip.min, flip.max].map(Math.round)).toEqual([10, 30]);
    const claim = seedRows(runs).find((x) => x.holds)!;
    expect(claim.holds).toEqual({ k: 2, n: 3 });
    const said = seedStatements(runs).join(' ');
    expect(said).toContain('No steering claim holds in every seed.');
    expect(said).toContain('Does not hold across seeds (holds in some only): Mem → Gen α=3 top 5%: targeted − matched (2 of 3)');
    // in the report: a table and a summary line
    const r = seedReport(0.2, 12, 5, 19);
    r.seedRuns = runs;
    const back = parseReport(JSON.stringify(r));
    const t = reportTables(back).find((x) => x.id === 'seeds')!;
    expect(t.viewHead).toEqual(['figure', 'seed 1', 'seed 2', 'seed 3', 'mean', 'min', 'max', 'holds in']);
    expect(t.cells.find((row) => row[0] === 'flip rate, %')!.slice(4, 7)).toEqual(['20', '10', '30']);
    expect(reportSummary(back).find(([k]) => k === 'seeds')![1]).toContain('Does not hold across seeds');
    const holdsAll = [headlines(seedReport(0.2, 12, 5, 19), 1), headlines(seedReport(0.2, 10, 4, 16), 2)];
    expect(seedStatements(holdsAll).join(' ')).toContain('Holds in every seed: Mem → Gen α=3 top 5%: targeted − matched.');
  });
});
