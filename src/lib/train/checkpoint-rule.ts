// The paper's checkpoint rule, free of tfjs so that pages (which never do tensor math) can use it too.
import type { EvalCounts } from './evaluate';

/**
 * The paper's checkpoint rule: maximize #gen x #mem; ties favor more gen. A mixed task (METHOD.md leaves it open)
 * needs both behaviors in every part: the score is the product over parts of (gen share x mem share), then, while
 * some part lacks one, the sum of those per-part products, so the rule still moves toward the mix.
 */
export function betterCheckpoint(a: EvalCounts, b: EvalCounts | null): boolean {
  if (!b) return true;
  const [pa, qa] = partScores(a), [pb, qb] = partScores(b);
  if (pa !== pb) return pa > pb;
  if (qa !== qb) return qa > qb;
  return a.gen > b.gen;
}

/** [product, sum] of the per-part gen x mem shares (one part: the plain gen x mem count). */
function partScores(c: EvalCounts): [number, number] {
  const parts = c.byTask ? Object.values(c.byTask) : [];
  if (!parts.length) return [c.gen * c.mem, 0];
  const s = parts.map((p) => (p.total ? (p.gen / p.total) * (p.mem / p.total) : 0));
  return [s.reduce((x, y) => x * y, 1), s.reduce((x, y) => x + y, 0)];
}
