// Batches for next-token training: right-padded token ids and per-token target weights.
import type { TaskTokenizer } from '../tasks/tokenizer';
import type { TrainExample } from '../tasks/types';
import { Rng, deriveSeed } from '../util/rng';

export interface Batch {
  /** (B, T) int32, right-padded with padId */
  ids: Int32Array;
  /** (B, T): 1 where token t is a target (predicted from position t-1) */
  weights: Float32Array;
  B: number;
  T: number;
  /** Real tokens in the batch (for tokens/s). */
  tokens: number;
}

/** answerOnly: true/false for every example, or per example (a mixed task's parts keep their own loss mode). */
export function makeBatch(examples: TrainExample[], tok: TaskTokenizer, answerOnly: boolean | ((e: TrainExample) => boolean), maxT: number): Batch {
  const enc = examples.map((e) => tok.encodeExample(e));
  const T = Math.min(maxT, Math.max(...enc.map((e) => e.ids.length)));
  const B = examples.length;
  const ids = new Int32Array(B * T).fill(tok.padId);
  const weights = new Float32Array(B * T);
  let tokens = 0;
  enc.forEach((e, b) => {
    const n = Math.min(T, e.ids.length);
    const only = typeof answerOnly === 'function' ? answerOnly(examples[b]) : answerOnly;
    for (let t = 0; t < n; t++) {
      ids[b * T + t] = e.ids[t];
      if (t >= 1 && (!only || t >= e.targetStart)) weights[b * T + t] = 1;
    }
    tokens += n;
  });
  return { ids, weights, B, T, tokens };
}

/** A deterministic permutation of 0..n-1 for (seed, epoch): resuming at step s sees the same data. */
export function epochOrder(n: number, seed: number, epoch: number): Uint32Array {
  const rng = new Rng(deriveSeed(seed, 'train-order', epoch));
  const rand = () => rng.next();
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
