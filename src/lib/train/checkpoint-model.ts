// A `.mgck` checkpoint made into a GPT-2 to analyze: decoded (format errors named), the task chosen (a mixed model
// is analyzed one part at a time), the model built on the checkpoint's tensors and tokenizer.
import { GPT2, type ModelOps } from '../models/gpt2';
import { TaskTokenizer } from '../tasks/tokenizer';
import { mixedParts } from '../tasks';
import type { TaskName } from '../tasks/types';
import { decodeCheckpoint, type CheckpointHeader } from './checkpoint';

export interface LoadedCheckpoint {
  /** Builds the model on the checkpoint's tensors (called once the previous model is let go). */
  build: (ops: ModelOps) => GPT2;
  header: CheckpointHeader;
  /** The task analyzed: the checkpoint's own, or for a mixed model the part asked for (else its first part). */
  task: TaskName;
  /** A mixed model's parts. */
  parts?: TaskName[];
  padId: number;
}

export function gpt2FromCheckpoint(buf: ArrayBuffer, want?: TaskName): LoadedCheckpoint {
  const ck = decodeCheckpoint(buf);
  const h = ck.header;
  const parts = h.task === 'mixed' ? mixedParts((h.train as { tasks?: string[] }).tasks) : undefined;
  if (parts && want && !parts.includes(want)) throw new Error(`This mixed model was trained on ${parts.join(', ')}, not on ${want}: pick one of those tasks.`);
  const task: TaskName = parts ? want ?? parts[0] : (h.task as TaskName);
  const tok = TaskTokenizer.fromJSON(h.tokenizer);
  return { build: (ops) => new GPT2(h.config, ck.tensors, tok, ops), header: h, task, parts, padId: tok.padId };
}
