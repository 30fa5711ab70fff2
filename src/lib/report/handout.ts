// The workshop handout: a one-page summary of a session's report (teacher mode on the Home page), in plain words
// and numbers, printed through the browser. Pure data in, plain rows out (the page only lays them out).
import type { Report } from './schema';

export interface HandoutView {
  title: string;
  model: string;
  sections: Array<{ id: string; heading: string; lines: string[]; rows?: { head: string[]; cells: string[][] } }>;
}

const pct = (x: number) => `${x.toFixed(1)}%`;

/** The handout's sections; a step not run in the session says so instead of inventing numbers. */
export function handoutView(r: Report): HandoutView {
  const sections: HandoutView['sections'] = [];
  const c = r.training?.chosen;
  sections.push({
    id: 'model', heading: '1 · The model',
    lines: [c ? `At the kept checkpoint (step ${r.model.step}), its ${c.total} validation prompts were answered ${c.gen} by the rule (gen), ${c.mem} from memory (mem), ${c.other} otherwise.`
      : `Step ${r.model.step}; no validation counts in this checkpoint.`],
  });
  const a = r.analysis;
  if (r.pairs && a) {
    const best = a.probes.slice().sort((x, y) => y.testAcc - x.testAcc)[0];
    sections.push({
      id: 'neurons', heading: '2 · The neurons',
      lines: [
        `Kept ${r.pairs.kept} of ${r.pairs.tried} contrastive pairs (flip rate ${pct(100 * r.pairs.flipRate)}): ${a.nMem} prompts answered from memory, ${a.nGen} by the rule.`,
        ...(best ? [`Best probe: layer ${best.layer} (${best.hook}) predicts mem vs gen with ${pct(100 * best.testAcc)} held-out accuracy (chance ${pct(100 * best.chance)}).`] : []),
      ],
      rows: {
        head: ['rank', 'hook', 'neuron', 'r', 'NMD'],
        cells: a.top.slice(0, 5).map((n) => [String(n.rank), n.hook, String(n.index), n.r.toFixed(3), n.nmd.toFixed(3)]),
      },
    });
  } else sections.push({ id: 'neurons', heading: '2 · The neurons', lines: ['Not run in this session (step 3 of the walk-through).'] });

  const s = r.steering;
  if (s?.cells.length) {
    const cells = ['memToGen', 'genToMem'].map((t) => s.cells.filter((x) => x.table === t).find((x) => x.alpha === 1) ?? s.cells.find((x) => x.table === t)).filter((x) => !!x);
    sections.push({
      id: 'steering', heading: '3 · Steering, beside the controls',
      lines: [`${s.baseline.total} fresh prompts decoded without steering: ${s.baseline.mem} mem, ${s.baseline.gen} gen, ${s.baseline.other} other. A claim holds only where the 95% interval of targeted minus control lies above zero.`],
      rows: {
        head: ['table', 'α, top', 'prompts', 'targeted: % goal', 'controls: % goal (verdict)'],
        cells: cells.map((x) => {
          const g = x!.table === 'memToGen' ? 'gen' : 'mem';
          const ctl = (x!.controls ?? []).map((k) => `${k.kind} ${pct(k.mean[g])} (${k.verdict})`).join('; ') || `random ${pct(x!.control[g])}`;
          return [x!.table === 'memToGen' ? 'Mem → Gen (% gen)' : 'Gen → Mem (% mem)', `${x!.alpha}, ${Math.round(100 * x!.topFraction)}%`, String(x!.prompts), pct(x!.targeted[g]), ctl];
        }),
      },
    });
  } else sections.push({ id: 'steering', heading: '3 · Steering, beside the controls', lines: ['Not run in this session (step 4 of the walk-through).'] });

  sections.push(r.consistency.length
    ? { id: 'consistency', heading: '4 · Consistency', lines: r.consistency.map((k) => `${k.label}: top ${Math.round(100 * k.topFraction)}% overlap (Jaccard) ${k.jaccard.toFixed(3)} vs ${k.randomJaccard.toFixed(3)} for random sets; rank agreement of |r| (Spearman) ${k.spearmanAbsR.toFixed(3)}.`) }
    : { id: 'consistency', heading: '4 · Consistency', lines: ['Not run in this session (step 5 of the walk-through).'] });

  return {
    title: `Memorization vs generalization, neuron by neuron: ${r.task}`,
    model: `${r.model.kind} ${r.model.preset} · ${r.model.source}${r.model.backend ? ` · computed on ${r.model.backend}` : ''} · ${r.createdAt.slice(0, 10)}`,
    sections,
  };
}
