// Decoding for any HookedModel: greedy (batched) and beam search (as the paper: 5 beams), plus
// teacher-forced answer log-probabilities. The forward is recomputed over the whole sequence each step
// (GPT-2 task sequences are short). Rows are right-padded (padRight); hook edits land from each row's last prompt
// token on (editFrom), so a steering hook shifts every "last position" a KV-cached decoder would have seen.
import * as tf from '@tensorflow/tfjs';
import type { HookFn, HookedModel } from './types';
import { batchTensor, gatherLast, padRight } from './hooks';

export interface DecodeOptions {
  maxNewTokens: number;
  hooks?: Record<string, HookFn>;
  /** Rows per forward call. */
  batchSize?: number;
  /** Token used for right padding (never attended by real positions: attention is causal). */
  padId?: number;
  /** Called after each batch with the number of prompts finished. */
  onProgress?: (done: number) => void | Promise<void>;
}

/** Forward rows (right-padded) and return log-softmax at each row's last real position: (R, V) on the CPU. */
async function lastLogProbs(model: HookedModel, rows: number[][], promptLengths: number[], hooks: Record<string, HookFn> | undefined, padId: number): Promise<Float32Array> {
  const R = rows.length;
  const batch = padRight(rows, padId);
  const out = tf.tidy(() => {
    const logits = model.runWithHooks(batchTensor(batch), hooks ?? {}, { editFrom: promptLengths.map((l) => l - 1), seqLengths: batch.seqLengths }); // (R, T, V)
    return tf.logSoftmax(gatherLast(logits, batch.seqLengths)); // (R, V)
  });
  const data = (await out.data()) as Float32Array;
  out.dispose();
  // argmax over NaN would pick token 0 without a word
  const bad = data.findIndex((v) => Number.isNaN(v));
  if (bad >= 0) throw new Error(`Decoding: the model's log-probabilities are NaN (row ${Math.floor(bad / (data.length / R))}); the weights, an adapter or a hook produced NaN.`);
  return data;
}

/** Greedy decoding; returns the generated ids of each prompt (without the end token). */
export async function greedyDecode(model: HookedModel, prompts: number[][], opts: DecodeOptions): Promise<number[][]> {
  const eos = model.tokenizer.eosId;
  const bs = opts.batchSize ?? 64;
  const padId = opts.padId ?? 0;
  const results: number[][] = new Array(prompts.length);
  for (let start = 0; start < prompts.length; start += bs) {
    const idx = prompts.slice(start, start + bs).map((_, i) => start + i);
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

export interface BeamOptions extends DecodeOptions {
  beams?: number;
  /** Scores are sum(log p) / length^lengthPenalty, as in Hugging Face's beam search (default 1). */
  lengthPenalty?: number;
}

interface Beam {
  ids: number[];
  score: number;
}

/** Beam search per prompt (several prompts' beams share one forward call). Returns the best hypothesis. */
export async function beamDecode(model: HookedModel, prompts: number[][], opts: BeamOptions): Promise<number[][]> {
  const W = opts.beams ?? 5;
  const lp = opts.lengthPenalty ?? 1;
  const eos = model.tokenizer.eosId;
  const padId = opts.padId ?? 0;
  const group = Math.max(1, Math.floor((opts.batchSize ?? 64) / W));
  const norm = (score: number, len: number) => score / Math.pow(Math.max(1, len), lp);
  const results: number[][] = new Array(prompts.length);

  for (let start = 0; start < prompts.length; start += group) {
    const idx = prompts.slice(start, start + group).map((_, i) => start + i);
    const alive: Beam[][] = idx.map(() => [{ ids: [], score: 0 }]);
    const finished: Beam[][] = idx.map(() => []);
    const active = idx.map(() => true);
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
      const logp = await lastLogProbs(model, rows, owner.map(([g]) => prompts[idx[g]].length), opts.hooks, padId);
      const V = logp.length / rows.length;
      // candidates per prompt: the top 2W continuations of every beam
      const cands: Beam[][] = idx.map(() => []);
      owner.forEach(([g, bi], r) => {
        const b = alive[g][bi];
        for (const v of topK(logp, r * V, V, 2 * W)) cands[g].push({ ids: [...b.ids, v], score: b.score + logp[r * V + v] });
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
