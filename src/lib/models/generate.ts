// Decoding for any HookedModel: greedy (batched) and beam search (as the paper: 5 beams; the beams of several
// prompts share one forward), plus teacher-forced answer log-probabilities. A model with a KV cache (prefill +
// decodeStep: GPT-2) runs each prompt once and then one position per step; any other model recomputes the whole
// sequence each step (runWithHooks). Both give the same tokens (tests/unit/gpt2.test.ts). Rows are right-padded
// (padRight); hook edits land from each row's last prompt token on (editFrom), and in a cached step on the one
// position fed, so a steering hook shifts every "last position" in both paths.
import * as tf from '@tensorflow/tfjs';
import type { DecodeCache, DecodeStep, HookFn, HookedModel } from './types';
import { batchTensor, gatherLast, padRight } from './hooks';

export interface DecodeOptions {
  maxNewTokens: number;
  hooks?: Record<string, HookFn>;
  /** Rows per forward call (beam search with a KV cache: prompts per call, each with its beams). */
  batchSize?: number;
  /** Token used for right padding (never attended by real positions: attention is causal). */
  padId?: number;
  /** Called after each batch with the number of prompts finished. */
  onProgress?: (done: number) => void | Promise<void>;
  /** Use the model's KV cache when it has one (default true); false recomputes the whole sequence each step. */
  cache?: boolean;
}

function useCache(model: HookedModel, opts: DecodeOptions): boolean {
  return opts.cache !== false && typeof model.prefill === 'function' && typeof model.decodeStep === 'function';
}

/** A step's log-probs on the CPU (the tensor disposed), refusing NaN. */
async function readLogProbs(t: tf.Tensor2D): Promise<Float32Array> {
  const data = (await t.data()) as Float32Array;
  t.dispose();
  const R = t.shape[0];
  // argmax over NaN would pick token 0 without a word
  const bad = data.findIndex((v) => Number.isNaN(v));
  if (bad >= 0) throw new Error(`Decoding: the model's log-probabilities are NaN (row ${Math.floor(bad / (data.length / R))}); the weights, an adapter or a hook produced NaN.`);
  return data;
}

/** Prefill right-padded prompts into the model's KV cache; edits land from each prompt's last token. */
function prefill(model: HookedModel, prompts: number[][], hooks: Record<string, HookFn> | undefined, padId: number): DecodeStep {
  const batch = padRight(prompts, padId);
  const tokens = batchTensor(batch);
  try {
    return model.prefill!(tokens, hooks ?? {}, { editFrom: batch.seqLengths.map((l) => l - 1), seqLengths: batch.seqLengths });
  } finally {
    tokens.dispose();
  }
}

/** Keep these rows of the cache and feed them one token each; the old cache is disposed. */
function stepRows(model: HookedModel, cache: DecodeCache, rows: number[], next: number[], hooks: Record<string, HookFn> | undefined): DecodeStep {
  const same = rows.length === cache.rows && rows.every((r, i) => r === i);
  const picked = same ? cache : cache.select(rows);
  if (!same) cache.dispose();
  try {
    return model.decodeStep!(next, picked, hooks ?? {});
  } finally {
    picked.dispose();
  }
}

/** Forward rows (right-padded) and return log-softmax at each row's last real position: (R, V) on the CPU. */
async function lastLogProbs(model: HookedModel, rows: number[][], promptLengths: number[], hooks: Record<string, HookFn> | undefined, padId: number): Promise<Float32Array> {
  const batch = padRight(rows, padId);
  const out = tf.tidy(() => {
    const logits = model.runWithHooks(batchTensor(batch), hooks ?? {}, { editFrom: promptLengths.map((l) => l - 1), seqLengths: batch.seqLengths }); // (R, T, V)
    return tf.logSoftmax(gatherLast(logits, batch.seqLengths)) as tf.Tensor2D; // (R, V)
  });
  return readLogProbs(out);
}

/** Greedy decoding; returns the generated ids of each prompt (without the end token). */
export async function greedyDecode(model: HookedModel, prompts: number[][], opts: DecodeOptions): Promise<number[][]> {
  const eos = model.tokenizer.eosId;
  const bs = opts.batchSize ?? 64;
  const padId = opts.padId ?? 0;
  const results: number[][] = new Array(prompts.length);
  const cached = useCache(model, opts);
  for (let start = 0; start < prompts.length; start += bs) {
    const idx = prompts.slice(start, start + bs).map((_, i) => start + i);
    if (cached) {
      const gen = await greedyCached(model, idx.map((i) => prompts[i]), opts, eos, padId);
      idx.forEach((i, j) => (results[i] = gen[j]));
      await opts.onProgress?.(Math.min(prompts.length, start + bs));
      continue;
    }
    const seqs = idx.map((i) => [...prompts[i]]);
    const gen: number[][] = idx.map(() => []);
    let alive = idx.map((_, j) => j);
    for (let step = 0; step < opts.maxNewTokens && alive.length > 0; step++) {
      const rows = alive.map((j) => seqs[j]);
      const lp = await lastLogProbs(model, rows, alive.map((j) => prompts[idx[j]].length), opts.hooks, padId);
      const V = lp.length / rows.length;
      const next: number[] = [];
      alive.forEach((j, r) => {
        let best = 0;
        for (let v = 1; v < V; v++) if (lp[r * V + v] > lp[r * V + best]) best = v;
        if (best === eos) return;
        gen[j].push(best);
        seqs[j].push(best);
        if (seqs[j].length < model.dims.nCtx) next.push(j);
      });
      alive = next;
    }
    idx.forEach((i, j) => (results[i] = gen[j]));
    await opts.onProgress?.(Math.min(prompts.length, start + bs));
  }
  return results;
}

/** Greedy decoding of one batch with the model's KV cache: the same choices as the uncached loop above. */
async function greedyCached(model: HookedModel, prompts: number[][], opts: DecodeOptions, eos: number, padId: number): Promise<number[][]> {
  const gen: number[][] = prompts.map(() => []);
  if (opts.maxNewTokens <= 0) return gen;
  let { logProbs, cache } = prefill(model, prompts, opts.hooks, padId);
  let alive = prompts.map((_, j) => j); // prompt of each cache row
  try {
    for (let step = 0; ; step++) {
      const lp = await readLogProbs(logProbs);
      const V = lp.length / alive.length;
      const keep: number[] = [], next: number[] = [], nextAlive: number[] = [];
      alive.forEach((j, r) => {
        let best = 0;
        for (let v = 1; v < V; v++) if (lp[r * V + v] > lp[r * V + best]) best = v;
        if (best === eos) return;
        gen[j].push(best);
        if (prompts[j].length + gen[j].length < model.dims.nCtx) {
          keep.push(r);
          next.push(best);
          nextAlive.push(j);
        }
      });
      if (step + 1 >= opts.maxNewTokens || nextAlive.length === 0) break;
      ({ logProbs, cache } = stepRows(model, cache, keep, next, opts.hooks));
      alive = nextAlive;
    }
  } finally {
    cache.dispose();
  }
  return gen;
}

export interface BeamOptions extends DecodeOptions {
  beams?: number;
  /** Scores are sum(log p) / length^lengthPenalty, as in Hugging Face's beam search (default 1). */
  lengthPenalty?: number;
}

interface Beam {
  ids: number[];
  score: number;
  /** Row (in the step's log-probs, and the KV cache) of the hypothesis this one extended by its last id. */
  parent?: number;
}

/** Beam search per prompt (several prompts' beams share one forward call). Returns the best hypothesis. */
export async function beamDecode(model: HookedModel, prompts: number[][], opts: BeamOptions): Promise<number[][]> {
  const W = opts.beams ?? 5;
  const lp = opts.lengthPenalty ?? 1;
  const eos = model.tokenizer.eosId;
  const padId = opts.padId ?? 0;
  const cached = useCache(model, opts);
  // prompts per forward call: batchSize rows' worth without the cache; with it, batchSize prompts (their W beams
  // each): a cached step is one position per row, and fewer, larger calls are faster (scripts/bench-decode.ts)
  const group = cached ? Math.max(1, opts.batchSize ?? 64) : Math.max(1, Math.floor((opts.batchSize ?? 64) / W));
  const norm = (score: number, len: number) => score / Math.pow(Math.max(1, len), lp);
  const results: number[][] = new Array(prompts.length);

  for (let start = 0; start < prompts.length; start += group) {
    const idx = prompts.slice(start, start + group).map((_, i) => start + i);
    const alive: Beam[][] = idx.map(() => [{ ids: [], score: 0 }]);
    const finished: Beam[][] = idx.map(() => []);
    const active = idx.map(() => true);
    let cache: DecodeCache | null = null;
    try {
    for (let step = 0; step < opts.maxNewTokens; step++) {
      const rows: number[][] = [];
      const owner: Array<[number, number]> = [];
      idx.forEach((pi, g) => {
        if (!active[g]) return;
        alive[g].forEach((b, bi) => {
          rows.push([...prompts[pi], ...b.ids]);
          owner.push([g, bi]);
        });
      });
      if (rows.length === 0) break;
      let logp: Float32Array;
      if (!cached) logp = await lastLogProbs(model, rows, owner.map(([g]) => prompts[idx[g]].length), opts.hooks, padId);
      else {
        // the first step runs each prompt once; later ones feed each beam's last id to its parent's cached row
        const r: DecodeStep = cache === null
          ? prefill(model, rows, opts.hooks, padId)
          : stepRows(model, cache, owner.map(([g, bi]) => alive[g][bi].parent!), owner.map(([g, bi]) => alive[g][bi].ids[alive[g][bi].ids.length - 1]), opts.hooks);
        cache = r.cache;
        logp = await readLogProbs(r.logProbs);
      }
      const V = logp.length / rows.length;
      // candidates per prompt: the top 2W continuations of every beam
      const cands: Beam[][] = idx.map(() => []);
      owner.forEach(([g, bi], r) => {
        const b = alive[g][bi];
        for (const v of topK(logp, r * V, V, 2 * W)) cands[g].push({ ids: [...b.ids, v], score: b.score + logp[r * V + v], parent: r });
      });
      idx.forEach((pi, g) => {
        if (!active[g]) return;
        cands[g].sort((a, b) => b.score - a.score);
        const next: Beam[] = [];
        for (const c of cands[g]) {
          if (c.ids[c.ids.length - 1] === eos) {
            if (finished[g].length < W || norm(c.score, c.ids.length) > Math.min(...finished[g].map((f) => norm(f.score, f.ids.length))))
              finished[g].push(c);
          } else next.push(c);
          if (next.length === W) break;
        }
        finished[g].sort((a, b) => norm(b.score, b.ids.length) - norm(a.score, a.ids.length));
        finished[g].length = Math.min(finished[g].length, W);
        alive[g] = next;
        const tooLong = prompts[pi].length + step + 2 > model.dims.nCtx;
        // Done when W hypotheses are finished and no live beam can beat the worst of them
        // (log-probs only fall as beams grow), or when the context is full.
        const worst = finished[g].length ? norm(finished[g][finished[g].length - 1].score, finished[g][finished[g].length - 1].ids.length) : -Infinity;
        const bestAlive = next.length ? norm(next[0].score, next[0].ids.length) : -Infinity;
        if ((finished[g].length >= W && bestAlive <= worst) || next.length === 0 || tooLong) active[g] = false;
      });
      if (!active.some(Boolean)) break;
    }
    } finally {
      (cache as DecodeCache | null)?.dispose();
    }
    idx.forEach((pi, g) => {
      const pool = finished[g].length ? finished[g] : alive[g];
      pool.sort((a, b) => norm(b.score, b.ids.length) - norm(a.score, a.ids.length));
      const best = pool[0]?.ids ?? [];
      results[pi] = best[best.length - 1] === eos ? best.slice(0, -1) : best;
    });
    await opts.onProgress?.(Math.min(prompts.length, start + group));
  }
  return results;
}

function topK(a: Float32Array, off: number, n: number, k: number): number[] {
  const best: number[] = [];
  for (let v = 0; v < n; v++) {
    const x = a[off + v];
    if (best.length < k) {
      best.push(v);
      best.sort((p, q) => a[off + q] - a[off + p]);
    } else if (x > a[off + best[k - 1]]) {
      best[k - 1] = v;
      best.sort((p, q) => a[off + q] - a[off + p]);
    }
  }
  return best;
}

/** Teacher-forced log P(answer | prompt) for each (prompt, answer) pair, summed over answer tokens. */
export async function answerLogProbs(model: HookedModel, pairs: Array<{ prompt: number[]; answer: number[] }>, hooks?: Record<string, HookFn>): Promise<number[]> {
  const out: number[] = [];
  for (const { prompt, answer } of pairs) {
    const seq = [...prompt, ...answer];
    const T = seq.length;
    const lp = tf.tidy(() => {
      const logits = model.runWithHooks(tf.tensor2d(seq, [1, T], 'int32'), hooks ?? {}, { editFrom: [prompt.length - 1], seqLengths: [T] });
      const ls = tf.logSoftmax(logits.reshape([T, -1])); // (T, V)
      const rows = answer.map((_, j) => prompt.length - 1 + j);
      const idx = answer.map((tok, j) => rows[j] * model.dims.vocabSize + tok);
      return tf.sum(tf.gather(ls.reshape([-1]), tf.tensor1d(idx, 'int32')));
    });
    out.push((await lp.data())[0]);
    lp.dispose();
  }
  return out;
}
