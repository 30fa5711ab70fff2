// Decode a task's prompts with a model and label each output mem / gen / other (METHOD.md sections 2-3).
import type { HookFn, HookedModel } from '../models/types';
import { beamDecode, greedyDecode } from '../models/generate';
import type { EvalItem, Label, Task } from '../tasks/types';

export type DecodeMode = 'greedy' | 'beam';

export interface EvalOptions {
  decode: DecodeMode;
  beams?: number;
  hooks?: Record<string, HookFn>;
  batchSize?: number;
  padId?: number;
  /** Use the model's KV cache (default true; false recomputes the whole sequence each step, for benchmarks). */
  cache?: boolean;
  onProgress?: (done: number, total: number) => void | Promise<void>;
}

export interface LabeledOutput {
  id: string;
  output: string;
  label: Label;
}

export interface EvalCounts {
  mem: number;
  gen: number;
  other: number;
  total: number;
  /** A mixed task's counts per part (the totals above add them up). */
  byTask?: Record<string, { mem: number; gen: number; other: number; total: number }>;
}

export function countLabels(labels: Label[]): EvalCounts {
  const c = { mem: 0, gen: 0, other: 0, total: labels.length };
  for (const l of labels) c[l] += 1;
  return c;
}

/** Longest answer the model may need to write for these items, in tokens, plus room for the end token. */
export function answerBudget(model: HookedModel, items: EvalItem[]): number {
  let m = 1;
  for (const it of items) m = Math.max(m, model.tokenizer.encode(it.genAnswer).length, model.tokenizer.encode(it.memAnswer).length);
  return m + 2;
}

export async function decodeAndLabel(model: HookedModel, task: Task, items: EvalItem[], opts: EvalOptions): Promise<{ outputs: LabeledOutput[]; counts: EvalCounts }> {
  const prompts = items.map((it) => model.encodePrompt(it.prompt));
  const maxNewTokens = answerBudget(model, items);
  const common = { maxNewTokens, hooks: opts.hooks, batchSize: opts.batchSize, padId: opts.padId, cache: opts.cache, onProgress: (d: number) => opts.onProgress?.(d, items.length) };
  const gen = opts.decode === 'beam' ? await beamDecode(model, prompts, { ...common, beams: opts.beams ?? 5 }) : await greedyDecode(model, prompts, common);
  const outputs = items.map((it, i) => {
    const output = model.tokenizer.decode(gen[i]);
    return { id: it.id, output, label: task.label(it, output) };
  });
  return { outputs, counts: countLabels(outputs.map((o) => o.label)) };
}

// The checkpoint rule lives in its own tfjs-free module so pages can use it.
export { betterCheckpoint } from './checkpoint-rule';
