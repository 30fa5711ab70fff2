// Beam 5 is the default wherever the paper decodes (training evaluation here; pair labels and steering in the
// worker), greedy stays selectable, and the report names the mode of the pair labels and cross-steering.
import { describe, expect, it } from 'vitest';
import { defaultTrainConfig } from '../../src/lib/train/trainer';
import { PRESETS, type PresetName } from '../../src/lib/models/gpt2/config';
import { parseReport } from '../../src/lib/report/schema';
import { reportTables } from '../../src/lib/report/tables';
import { reportSummary } from '../../src/lib/report/html';
import { makeReport } from './report-fixture';

describe('decoding defaults', () => {
  it('evaluates training with 5 beams on every task and preset', () => {
    for (const task of ['arithmetic', 'cipher', 'color', 'mixed'] as const)
      for (const preset of Object.keys(PRESETS) as PresetName[]) {
        const c = defaultTrainConfig(task, preset);
        expect(c.evalDecode, `${task} ${preset}`).toBe('beam');
        expect(c.beams).toBe(5);
      }
  });

  it('names how the pair prompts were decoded in the summary and the pair table (older reports: not recorded)', () => {
    const r = makeReport();
    r.pairs!.decode = 'beam';
    const back = parseReport(JSON.stringify(r));
    expect(back.pairs!.decode).toBe('beam');
    expect(reportSummary(back).find(([k]) => k === 'contrastive pairs')![1]).toContain('decoded prompts (beam search (5 beams))');
    expect(reportTables(back).find((t) => t.id === 'pair-examples')!.title).toContain('beam search (5 beams)');
    const old = makeReport();
    delete old.pairs!.decode;
    expect(reportTables(parseReport(JSON.stringify(old))).find((t) => t.id === 'pair-examples')!.title).toContain('decoding not recorded');
    r.pairs!.decode = 'greedy';
    expect(reportSummary(r).find(([k]) => k === 'contrastive pairs')![1]).toContain('greedy decoding');
  });
});
