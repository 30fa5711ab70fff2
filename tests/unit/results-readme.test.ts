// The README's results figures are generated from the shipped reports (src/lib/report/readme.ts): the README must
// hold exactly what `npm run results-readme` makes of docs/results, and a report with verdicts states them.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { RESULTS_BEGIN, RESULTS_END, replaceResults, resultsMarkdown } from '../../src/lib/report/readme';
import { parseReport } from '../../src/lib/report/schema';
import { shippedReports } from '../../scripts/results-readme';
import { makeReport } from './report-fixture';

describe('README results', () => {
  it('are exactly the figures generated from docs/results (run npm run results-readme after changing a report)', () => {
    const readme = readFileSync('README.md', 'utf8');
    const block = resultsMarkdown(shippedReports());
    expect(readme.slice(readme.indexOf(RESULTS_BEGIN), readme.indexOf(RESULTS_END) + RESULTS_END.length)).toBe(block);
    // every shipped report is in it, with its chosen checkpoint's counts
    for (const { file, report } of shippedReports()) {
      expect(block).toContain(file);
      const c = report.training?.chosen;
      if (c) expect(block).toContain(`${c.gen} gen / ${c.mem} mem / ${c.other} other of ${c.total}`);
    }
  });

  it('states verdicts where the report has intervals, and says so where it has none', () => {
    const old = makeReport();
    expect(resultsMarkdown([{ file: 'old.json', report: old }])).toContain('no claim of the targeted set beating a control');
    const r = parseReport(JSON.stringify(makeReport()));
    const goal = { gen: 40, mem: 55, other: 5 };
    const ci = { gen: [34, 46] as [number, number], mem: [49, 61] as [number, number], other: [3, 8] as [number, number] };
    r.steering!.cells = (['paper', 'matched'] as const).map((kind, i) => ({
      table: 'memToGen' as const, alpha: i + 1, topFraction: 0.05, neurons: 10, prompts: 300, decode: 'beam' as const, targeted: goal, targetedCi: ci,
      control: goal, controlSd: goal, controlSeeds: 10,
      controls: [{ kind, seeds: 10, mean: { gen: 10, mem: 85, other: 5 }, sd: { gen: 1, mem: 1, other: 1 }, ci, diff: { goal: i ? { estimate: 2, lo: -3, hi: 7 } : { estimate: 30, lo: 24, hi: 36 }, other: { estimate: 0, lo: -1, hi: 1 } }, verdict: i ? 'not shown' as const : 'holds' as const }],
    }));
    const md = resultsMarkdown([{ file: 'new.json', report: r }]);
    expect(md).toMatch(/Verdict: Mem → Gen \(% gen\), targeted vs paper control: holds in 1 of 1 settings \(α=1 top 5%\)/);
    expect(md).toMatch(/Verdict: Mem → Gen \(% gen\), targeted vs matched control: not shown in any of 1 settings/);
    expect(md).toContain('beam search (5 beams)');
    expect(md).not.toContain('no claim of the targeted set');
  });

  it('refuses a README without the markers, naming them', () => {
    expect(() => replaceResults('# no block here', 'x')).toThrow(/results:begin/);
  });
});
