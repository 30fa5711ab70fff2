// The workshop handout (teacher mode): every section from the report's own numbers, and a step not run says so.
import { describe, expect, it } from 'vitest';
import { handoutView } from '../../src/lib/report/handout';
import { makeReport } from './report-fixture';

describe('handout', () => {
  it('summarizes model, neurons, steering and consistency from the report', () => {
    const r = makeReport();
    const h = handoutView(r);
    expect(h.sections.map((s) => s.id)).toEqual(['model', 'neurons', 'steering', 'consistency']);
    const [model, neurons, steering, consistency] = h.sections;
    const c = r.training!.chosen!;
    expect(model.lines[0]).toContain(`${c.total} validation prompts were answered ${c.gen} by the rule (gen), ${c.mem} from memory (mem)`);
    expect(neurons.lines[0]).toContain(`Kept ${r.pairs!.kept} of ${r.pairs!.tried}`);
    const best = r.analysis!.probes.reduce((m, p) => (p.testAcc > m.testAcc ? p : m));
    expect(neurons.lines[1]).toContain(`layer ${best.layer}`);
    expect(neurons.lines[1]).toContain(`${(100 * best.testAcc).toFixed(1)}%`);
    expect(neurons.rows!.cells).toHaveLength(5);
    expect(neurons.rows!.cells[0]).toEqual(['1', r.analysis!.top[0].hook, String(r.analysis!.top[0].index), r.analysis!.top[0].r.toFixed(3), r.analysis!.top[0].nmd.toFixed(3)]);
    // one row per table, at α = 1 when the sweep has it, with every control and its verdict
    expect(steering.rows!.cells.map((x) => x[0])).toEqual(['Mem → Gen (% gen)', 'Gen → Mem (% mem)']);
    const cell = r.steering!.cells.find((x) => x.table === 'memToGen' && x.alpha === 1)!;
    expect(steering.rows!.cells[0][3]).toBe(`${cell.targeted.gen.toFixed(1)}%`);
    for (const k of cell.controls ?? []) expect(steering.rows!.cells[0][4]).toContain(`${k.kind} ${k.mean.gen.toFixed(1)}% (${k.verdict})`);
    expect(consistency.lines).toHaveLength(r.consistency.length);
    expect(consistency.lines[0]).toContain('0.410 vs 0.026');
  });

  it('says which steps were not run instead of inventing numbers', () => {
    const r = { ...makeReport(), pairs: null, analysis: null, steering: null, consistency: [] };
    const h = handoutView(r);
    expect(h.sections.slice(1).map((s) => s.lines[0])).toEqual([
      'Not run in this session (step 3 of the walk-through).',
      'Not run in this session (step 4 of the walk-through).',
      'Not run in this session (step 5 of the walk-through).',
    ]);
  });
});
