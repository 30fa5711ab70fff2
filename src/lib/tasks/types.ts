// Shared shapes of the three tasks (METHOD.md section 2). A task turns a seed into training examples,
// evaluation prompts and contrastive pairs, and labels a model's continuation as mem, gen or other.
import type { TaskTokenizer } from './tokenizer';

export type TaskName = 'arithmetic' | 'cipher' | 'color';
export type Label = 'mem' | 'gen' | 'other';

export interface TrainExample {
  prompt: string;
  target: string;
  /** prompt + target: the causal-LM target text. */
  text: string;
  /** True when the target is a memorized hash answer (color: always false; there memory and context agree). */
  memorized: boolean;
  /** Hash name such as 'mem-ced71018' for triggered prompts, null for the others; color: the target name. */
  patternId: string | null;
  /** The example's task, set in a mixed training set (which loss mode applies to it). */
  task?: TaskName;
}

export interface EvalItem {
  id: string;
  prompt: string;
  /** The memorized answer text, e.g. '<mem-ced71018>' or, for color, the target name's memorized color. */
  memAnswer: string;
  /** The rule's answer: arithmetic = the whole scratchpad target, cipher = the 13 plaintext letters, color = the clue color. */
  genAnswer: string;
  /** Hash name ('mem-...'), or for color the target name. */
  patternId: string;
}

export interface ContrastivePair {
  id: string;
  a: EvalItem;
  b: EvalItem;
}

export interface Task {
  /** 'mixed' only for the training task that mixes several (see mixed.ts). */
  name: TaskName | 'mixed';
  title: string;
  description: string;
  /** Training set for one epoch; color draws fresh samples per epoch (seed, epoch), the others ignore epoch. */
  trainSet(seed: number, epoch?: number): TrainExample[];
  /** Validation prompts: arithmetic 100, cipher 100 (10 per pattern), color 500 test prompts. */
  evalSet(seed: number, n?: number): EvalItem[];
  /** Contrastive pairs (METHOD.md section 2). */
  pairs(seed: number, n: number): ContrastivePair[];
  /** output = the model's continuation after item.prompt (decoded text, may include trailing tokens). */
  label(item: EvalItem, output: string): Label;
  tokenizer(): TaskTokenizer;
  /** Longest prompt+target in tokens, counting <bos> and <eos> (the model's context length). */
  maxTokens(): number;
}
