// One model trained on several tasks at once (issue #5, inter-task consistency on GPT-2): the neurons of a
// single network can then be compared across tasks, position for position, as the shared base model allows
// on LLaMA. The mixed task is a training task only; neurons are found and steered one part at a time, with
// the part's own prompts, pairs and labels, through the mixed model's tokenizer.
import { getTask } from './index';
import { TaskTokenizer, buildVocab, CONTROL_TOKENS } from './tokenizer';
import type { EvalItem, Label, Task, TaskName, TrainExample } from './types';

export const MIXED_PARTS_DEFAULT: readonly TaskName[] = ['arithmetic', 'cipher', 'color'];

export interface MixedTask extends Task {
  name: 'mixed';
  parts: TaskName[];
  /** The part an evaluation item belongs to (its id starts with the part's name). */
  partOf(item: Pick<EvalItem, 'id'>): TaskName;
}

/** Checks and orders a list of parts: at least two known tasks, each once, in the lab's task order. */
export function mixedParts(parts: readonly string[] | undefined): TaskName[] {
  const list = parts ?? MIXED_PARTS_DEFAULT;
  const known = MIXED_PARTS_DEFAULT as readonly string[];
  const bad = list.filter((p) => !known.includes(p));
  if (bad.length) throw new Error(`Unknown task ${JSON.stringify(bad[0])} in the mix; choose from ${known.join(', ')}.`);
  const out = MIXED_PARTS_DEFAULT.filter((p) => list.includes(p));
  if (out.length < 2) throw new Error(`A mixed task needs at least two different tasks; got ${JSON.stringify(list)}.`);
  return out;
}

/** The union of the parts' vocabularies: each part's special tokens and phrases, then characters. */
export function mixedTokenizer(parts: readonly TaskName[]): TaskTokenizer {
  const control = new Set<string>(CONTROL_TOKENS);
  const pieces = parts.flatMap((p) => getTask(p).tokenizer().vocab.filter((t) => !control.has(t) && t.length > 1));
  return new TaskTokenizer(buildVocab(pieces));
}

export function mixedTask(partsIn?: readonly string[]): MixedTask {
  const parts = mixedParts(partsIn);
  const tasks = parts.map(getTask);
  let tok: TaskTokenizer | null = null;
  let sizes: number[] | null = null;
  const partOf = (item: Pick<EvalItem, 'id'>): TaskName => {
    const p = parts.find((name) => item.id.startsWith(`${name}-`));
    if (!p) throw new Error(`Item "${item.id}" belongs to none of the mixed tasks (${parts.join(', ')}).`);
    return p;
  };
  return {
    name: 'mixed',
    parts,
    title: `Mixed (${parts.join(' + ')})`,
    description: `One model trained on ${parts.join(', ')} at once, so its neurons can be compared across tasks.`,

    /**
     * Balanced: every part contributes as many examples as the largest part's set, a smaller set being repeated
     * (as more epochs of it; color draws fresh stories for each repeat). Each example carries its part.
     */
    trainSet(seed: number, epoch = 0): TrainExample[] {
      // a part's set size does not depend on seed or epoch: measured once, not by drawing a whole set per call
      const size = (sizes ??= tasks.map((t) => t.trainSet(seed, 0).length));
      const n = Math.max(...size);
      const out: TrainExample[] = [];
      tasks.forEach((t, k) => {
        const reps = Math.ceil(n / size[k]);
        const rows: TrainExample[] = [];
        for (let r = 0; r < reps && rows.length < n; r++) rows.push(...t.trainSet(seed, epoch * reps + r));
        for (const e of rows.slice(0, n)) out.push({ ...e, task: parts[k] });
      });
      return out;
    },

    /** Each part's validation prompts, `n` per part (all when n is not given). */
    evalSet(seed: number, n?: number): EvalItem[] {
      return tasks.flatMap((t) => (n === undefined ? t.evalSet(seed) : t.evalSet(seed).slice(0, n)));
    },

    pairs(): never {
      throw new Error(`Contrastive pairs come from one task at a time: pick one of ${parts.join(', ')} to analyze the mixed model.`);
    },

    label(item: EvalItem, output: string): Label {
      return getTask(partOf(item)).label(item, output);
    },

    tokenizer(): TaskTokenizer {
      tok ??= mixedTokenizer(parts);
      return tok;
    },

    maxTokens(): number {
      // Greedy longest match over a larger vocabulary almost always gives the same or fewer tokens, but it is not
      // guaranteed (a longer piece can split what follows worse); a few tokens of room cover that (tested).
      return Math.max(...tasks.map((p) => p.maxTokens())) + 8;
    },

    partOf,
  };
}
