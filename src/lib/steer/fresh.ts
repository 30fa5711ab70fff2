// Fresh evaluation prompts for steering and probes (issue 16): drawn from the task's own seeded generator under a
// seed of their own, with every prompt that the model trained on, that chose the checkpoint (validation) or that
// found the neurons (contrastive pairs) removed, so the steering figures are not scored on the data that selected
// the checkpoint or the neurons.
import type { EvalItem, Task } from '../tasks/types';
import { deriveSeed } from '../util/rng';

export interface ExcludeFrom {
  /** Seed of the training set (the checkpoint's training seed); its first epoch is excluded (color draws fresh
   * stories every epoch, but its training stories always agree with memory, so they never are test prompts). */
  trainSeed?: number;
  /** Seeds of the validation sets used (training evaluation and the lab's baseline). */
  valSeeds: number[];
  /** Contrastive pairs decoded for the analysis: seed and how many were tried. */
  pairs: { seed: number; n: number }[];
}

/** Every prompt text the fresh set must avoid. */
export function excludedPrompts(task: Task, o: ExcludeFrom): Set<string> {
  const out = new Set<string>();
  if (o.trainSeed !== undefined) for (const e of task.trainSet(o.trainSeed, 0)) out.add(e.prompt);
  for (const s of o.valSeeds) for (const it of task.evalSet(s)) out.add(it.prompt);
  for (const p of o.pairs) for (const pair of task.pairs(p.seed, p.n)) { out.add(pair.a.prompt); out.add(pair.b.prompt); }
  return out;
}

/**
 * `n` prompts from the task's test generator under a seed derived from `seed` (a stream no training, validation
 * or pair set uses), without the excluded prompts and without repeats. Deterministic for (task, seed, n, exclude).
 */
export function freshItems(task: Task, seed: number, n: number, exclude: Set<string>): { items: EvalItem[]; removed: number } {
  if (!(Number.isInteger(n) && n >= 1)) throw new Error(`freshItems: n must be a whole number >= 1 (got ${n}).`);
  const s = deriveSeed(seed, 'fresh-eval');
  let want = n;
  for (let tries = 0; tries < 8; tries++) {
    const seen = new Set<string>();
    const items: EvalItem[] = [];
    let removed = 0;
    for (const it of task.evalSet(s, want)) {
      if (exclude.has(it.prompt) || seen.has(it.prompt)) { removed++; continue; }
      seen.add(it.prompt);
      items.push({ ...it, id: it.id.replace(/-val-/, '-fresh-') });
      if (items.length === n) return { items, removed };
    }
    want = Math.ceil(want * 1.5) + 10;
  }
  throw new Error(`freshItems: could not draw ${n} prompts outside the training, validation and pair sets (the task's prompt space is too small); ask for fewer.`);
}
