// A report built for tests: valid per the schema, realistic sizes (3 hooks x 64 neurons, 120 loss points,
// 2 x 4 steering cells), and self-consistent (the top set, its layer distribution and q follow from r).
import { mulberry32, normalSampler } from '../../src/lib/util/rng';
import type { Report } from '../../src/lib/report/schema';

export function makeReport(seed = 7): Report {
  const rand = mulberry32(seed);
  const gauss = normalSampler(rand);
  const r4 = (v: number) => Math.round(v * 1e4) / 1e4;
  const hooks = [
    { name: 'hook_embed', layer: 0, dim: 64 },
    { name: 'blocks.0.hook_resid_post', layer: 1, dim: 64 },
    { name: 'blocks.1.hook_resid_post', layer: 2, dim: 64 },
  ];
  // Deeper layers separate the behaviors more (larger |r|), as in the paper.
  const r = hooks.map((h) => Array.from({ length: h.dim }, () => r4(Math.tanh(0.25 * (h.layer + 1) * gauss()))));
  const nmd = r.map((row) => row.map((v) => r4(v * 1.7 + 0.05 * gauss())));
  const all = r.flatMap((row, h) => row.map((v, i) => ({ h, i, v })));
  all.sort((a, b) => Math.abs(b.v) - Math.abs(a.v));
  const topOf = (f: number) => all.slice(0, Math.round(f * all.length));
  const dist = (f: number) => {
    const t = topOf(f);
    return hooks.map((h, k) => {
      const count = t.filter((x) => x.h === k).length;
      return { layer: h.layer, count, fraction: count / t.length };
    });
  };
  const top = topOf(0.05).map((x, k) => ({
    hook: hooks[x.h].name, layer: hooks[x.h].layer, index: x.i, r: x.v, nmd: nmd[x.h][x.i], rank: k + 1, q: 1e-6 * (k + 1),
  }));
  const loss = Array.from({ length: 120 }, (_, i) => ({ step: i * 25, loss: r4(4.2 * Math.exp(-i / 30) + 0.15 + 0.02 * rand()) }));
  const evals = Array.from({ length: 12 }, (_, i) => {
    const mem = Math.round(60 * Math.exp(-i / 4)), gen = Math.round(40 + 50 * (1 - Math.exp(-i / 5)));
    return { step: i * 250, decode: 'greedy', mem, gen, other: Math.max(0, 200 - mem - gen), total: 200 };
  });
  const chosen = evals[6];
  const share = (g: number, m: number) => ({ gen: g, mem: m, other: r4(100 - g - m) });
  const cells = (['memToGen', 'genToMem'] as const).flatMap((table) => [0.5, 1, 3, 5].map((alpha) => {
    const move = Math.min(80, 12 * alpha);
    return {
      table, alpha, topFraction: 0.05, neurons: top.length, prompts: 50,
      targeted: table === 'memToGen' ? share(r4(10 + move), r4(85 - move)) : share(r4(88 - move), r4(8 + move)),
      control: table === 'memToGen' ? share(11.2, 84.1) : share(87.3, 8.8),
      controlSd: share(1.3, 1.9), controlSeeds: 3,
    };
  }));
  return {
    kind: 'memgen-report', version: 1, createdAt: '2026-11-24T12:00:00.000Z', task: 'cipher',
    model: { kind: 'gpt2', preset: 'tiny', source: 'trained here', step: chosen.step, backend: 'webgpu' },
    training: { config: { steps: 3000, lr: 3e-4, batch: 32, task: 'cipher' }, loss, evals, chosen },
    pairs: {
      tried: 1400, kept: 312, flipRate: 312 / 1400, stoppedBy: 'target',
      labelCounts: { mem: 980, gen: 1530, other: 290 },
      examples: [
        { mem: 'encode: hello </script> world ->', gen: 'encode: hellp world ->' },
        { mem: 'encode: the cat & "dog" ->', gen: 'encode: the bat & "dog" ->' },
      ],
    },
    analysis: {
      hooks, nMem: 312, nGen: 312, r, nmd,
      layerDistribution: { '0.05': dist(0.05), '0.1': dist(0.1) },
      probes: hooks.map((h, k) => ({ hook: h.name, layer: h.layer, trainAcc: r4(0.6 + 0.12 * k), testAcc: r4(0.55 + 0.13 * k), chance: 0.5 })),
      top,
    },
    steering: { baseline: { mem: 110, gen: 70, other: 20, total: 200 }, cells },
    consistency: [
      { label: 'pairs seed 1 vs seed 2 (cipher)', topFraction: 0.05, jaccard: 0.41, randomJaccard: 0.026, spearmanAbsR: 0.78, positions: 192,
        crossSteer: [
          { table: 'memToGen', alpha: 1, topFraction: 0.05, prompts: 40, own: { gen: 45, mem: 50, other: 5 }, cross: { gen: 40, mem: 55, other: 5 }, control: { gen: 5, mem: 92.5, other: 2.5 } },
          { table: 'genToMem', alpha: 1, topFraction: 0.05, prompts: 30, own: { gen: 60, mem: 36.7, other: 3.3 }, cross: { gen: 63.3, mem: 33.3, other: 3.4 }, control: { gen: 96.7, mem: 0, other: 3.3 } },
        ] },
      { label: 'pairs seed 1 vs seed 3 (cipher)', topFraction: 0.05, jaccard: 0.37, randomJaccard: 0.026, spearmanAbsR: 0.74, positions: 192 },
    ],
  };
}
