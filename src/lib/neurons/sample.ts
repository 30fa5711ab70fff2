// Whether an analysis' sample is large enough to mean anything: a probe that never beats chance, or no neuron
// significant after Benjamini-Hochberg, says the pairs were too few (or the model shows no difference yet).
export interface SampleView {
  nMem: number;
  nGen: number;
  probes: Array<{ testAcc: number; chance: number }>;
  stats: Array<{ q?: ArrayLike<number> }>;
}

/** Plain-words reasons to distrust this analysis (empty when none). */
export function sampleWarnings(v: SampleView, alpha = 0.05): string[] {
  const out: string[] = [];
  if (v.probes.length) {
    const best = Math.max(...v.probes.map((p) => p.testAcc - p.chance));
    if (best <= 0) out.push(`no layer's probe beats chance on the held-out prompts (best ${(100 * Math.max(...v.probes.map((p) => p.testAcc))).toFixed(0)}%, chance ${(100 * Math.max(...v.probes.map((p) => p.chance))).toFixed(0)}%)`);
  }
  const withQ = v.stats.filter((s) => s.q && s.q.length);
  if (withQ.length) {
    let any = false;
    for (const s of withQ) for (let i = 0; i < s.q!.length && !any; i++) if (s.q![i] < alpha) any = true;
    if (!any) out.push(`no neuron is significant after the Benjamini-Hochberg correction (every q ≥ ${alpha})`);
  }
  return out;
}
