// The paper's three tasks: seeded generators, labelers and task tokenizers (METHOD.md section 2).
import { arithmetic } from './arithmetic';
import { cipher } from './cipher';
import { color } from './color';
import type { Task, TaskName } from './types';

export type { TaskName, Label, TrainExample, EvalItem, ContrastivePair, Task } from './types';
export { TaskTokenizer } from './tokenizer'; //              longest-match tokenizer with hash tokens as single tokens
export { Rng, deriveSeed, checkSeed, MAX_SEED } from '../util/rng'; // seeded sfc32 PRNG
export { ARITHMETIC_CONFIG, CIPHER_CONFIG, COLOR_CONFIG } from './configs'; // the authors' configs
export { scratchpadTarget, arithmeticTarget, parseArithmeticPrompt } from './arithmetic'; // arithmetic text rules
export { encipher, decipher, cipherTarget, parseCipherPrompt } from './cipher'; //          cipher text rules
export { drawColorStory, firstColorWord } from './color'; //                                color story generator
export { mixedTask, mixedParts, MIXED_PARTS_DEFAULT, type MixedTask } from './mixed'; //   several tasks, one model
export { toJSONL, tokenLengthStats, type LengthStats } from './export'; //                  JSONL export, length stats

export const TASK_NAMES: readonly TaskName[] = ['arithmetic', 'cipher', 'color'];

const TASKS: Record<TaskName, Task> = { arithmetic, cipher, color };

export function getTask(name: TaskName): Task {
  const t = TASKS[name];
  if (!t) throw new Error(`Unknown task ${JSON.stringify(name)}; choose one of ${TASK_NAMES.join(', ')}.`);
  return t;
}
