// What both models share around their forward: the one hook dispatcher (hookPoints), TransformerLens's
// run_with_hooks / run_with_cache (runWithHooks, runWithCache), and the "pad right, read the last real position"
// pair (padRight, gatherLast) that recording and decoding use. A model file only names its hook points.
import * as tf from '@tensorflow/tfjs';
import type { ActivationCache, CacheOptions, ForwardOptions, HookFilter, HookFn, HookedModel, RunOptions, TextTokenizer } from './types';
import { hookLayer } from './types';

/** The dispatcher a forward calls at each hook point: hook(name, act) -> the activation the model goes on with. */
export type HookPoint = <T extends tf.Tensor>(name: string, act: T) => T;

/**
 * One forward call's hook dispatcher over a (B, T) batch. At a point with a hook: the hook runs; a returned tensor
 * (same shape, else an error naming the hook) replaces the activation where opts.editFrom / opts.seqLengths let
 * an edit land (everywhere by default; positions outside keep the model's value exactly, via tf.where). Then
 * opts.observe sees the result. Points without a hook or an observer cost one lookup.
 */
export function hookPoints(opts: ForwardOptions, B: number, T: number): HookPoint {
  const hooks = opts.hooks ?? {};
  const observe = opts.observe;
  let rows: Uint8Array | null | undefined; // (B*T) 1 where an edit lands; null = everywhere; undefined = not built yet
  const editRows = (): Uint8Array | null => {
    if (rows !== undefined) return rows;
    if (!opts.editFrom && !opts.seqLengths) return (rows = null);
    rows = new Uint8Array(B * T);
    for (let b = 0; b < B; b++) {
      const from = Math.max(0, opts.editFrom ? opts.editFrom[b] : 0);
      const to = Math.min(T, opts.seqLengths ? opts.seqLengths[b] : T);
      for (let t = from; t < to; t++) rows[b * T + t] = 1;
    }
    return rows;
  };
  return <A extends tf.Tensor>(name: string, act: A): A => {
    const fn: HookFn | undefined = hooks[name];
    let out = act;
    if (fn) {
      const y = fn(act, { name, layer: hookLayer(name) });
      if (y && y !== act) {
        if (y.shape.length !== act.shape.length || y.shape.some((d, i) => d !== act.shape[i]))
          throw new Error(`The hook on ${name} returned shape [${y.shape}] for an activation of shape [${act.shape}]; an edit must keep the shape.`);
        const m = editRows();
        out = (m ? tf.where(editMask(m, name, act.shape, B, T), y, act) : y) as A;
      }
    }
    observe?.(name, out);
    return out;
  };
}

/** The (B, T) edit rows as a bool mask broadcastable to an activation: (B, T, 1, ...), or (B, 1, T, 1) for attention patterns (query position third). */
function editMask(rows: Uint8Array, name: string, shape: number[], B: number, T: number): tf.Tensor {
  const pattern = name.endsWith('attn.hook_pattern');
  const posDim = pattern ? 2 : 1;
  if (shape[0] !== B || shape[posDim] !== T)
    throw new Error(`Edits limited to some positions (editFrom / seqLengths) need ${name} to have batch ${B} and ${T} positions; it has shape [${shape}]. Leave editFrom and seqLengths out to edit it everywhere.`);
  const ms = shape.map(() => 1);
  ms[0] = B;
  ms[posDim] = T;
  return tf.tensor(rows, ms, 'bool');
}

/** Logits (B, T, V) with the hooks' edits (TransformerLens's run_with_hooks). */
export function runWithHooks(model: HookedModel, tokens: tf.Tensor2D, hooks: Record<string, HookFn>, opts: RunOptions = {}): tf.Tensor3D {
  return model.forward(tokens, { ...opts, hooks });
}

/**
 * Logits and the activations `names` selects, after opts.hooks' edits (TransformerLens's run_with_cache). A list
 * must name hook points the model has; a predicate picks among them. With pos 'last' each activation is read at
 * every row's last real position (gatherLast), so only (B, ...) leaves the forward. The caller owns the tensors.
 */
export function runWithCache(model: HookedModel, tokens: tf.Tensor2D, names: HookFilter, opts: CacheOptions = {}): ActivationCache {
  const all = model.hookNames();
  let want: (name: string) => boolean;
  if (typeof names === 'function') want = names;
  else {
    const unknown = names.filter((n) => !all.includes(n));
    if (unknown.length) throw new Error(`runWithCache: this ${model.kind} model has no hook point ${unknown.join(', ')}; its points are model.hookNames() (e.g. ${all.slice(0, 3).join(', ')}).`);
    const set = new Set(names);
    want = (n) => set.has(n);
  }
  const { hooks, pos, ...run } = opts;
  const cache: Record<string, tf.Tensor> = {};
  let logits: tf.Tensor3D;
  try {
    logits = model.forward(tokens, {
      ...run,
      hooks,
      observe: (name, act) => {
        if (!want(name)) return;
        // a clone shares the data but not the handle: resid_post of block i is resid_pre of block i + 1
        cache[name] = tf.keep(pos === 'last' ? gatherLast(act, run.seqLengths, name) : act.clone());
      },
    });
  } catch (e) {
    tf.dispose(Object.values(cache));
    throw e;
  }
  return { logits, cache };
}

/** Frees what a runWithCache returned. */
export function disposeCache(c: ActivationCache): void {
  c.logits.dispose();
  tf.dispose(Object.values(c.cache));
}

/** Token rows right-padded to one (B, T) batch, with each row's real length. */
export interface PaddedBatch {
  ids: Int32Array;
  B: number;
  T: number;
  seqLengths: number[];
}

export function padRight(rows: number[][], padId = 0): PaddedBatch {
  if (rows.length === 0 || rows.some((r) => r.length === 0)) throw new Error('padRight: every row needs at least one token (give a non-empty batch of non-empty prompts).');
  const B = rows.length;
  const T = Math.max(...rows.map((r) => r.length));
  const ids = new Int32Array(B * T).fill(padId);
  rows.forEach((r, b) => ids.set(r, b * T));
  return { ids, B, T, seqLengths: rows.map((r) => r.length) };
}

/** The padded batch as an int32 (B, T) tensor. */
export function batchTensor(p: PaddedBatch): tf.Tensor2D {
  return tf.tensor2d(p.ids, [p.B, p.T], 'int32');
}

/** x (B, T, ...rest) -> (B, ...rest) at each row's last real position seqLengths[b] - 1 (T - 1 when not given). */
export function gatherLast(x: tf.Tensor, seqLengths?: number[], what = 'the activation'): tf.Tensor {
  const [B, T, ...rest] = x.shape;
  if (x.rank < 3 || what.endsWith('attn.hook_pattern'))
    throw new Error(`gatherLast: ${what} has shape [${x.shape}]; reading the last position needs (B, T, ...) (attention patterns are (B, heads, T, T): cache them whole).`);
  if (seqLengths && seqLengths.length !== B) throw new Error(`gatherLast: ${seqLengths.length} row lengths for a batch of ${B}.`);
  return tf.tidy(() => {
    const last = tf.tensor1d(Array.from({ length: B }, (_, b) => b * T + (seqLengths ? seqLengths[b] : T) - 1), 'int32');
    const D = rest.reduce((a, c) => a * c, 1);
    return tf.gather(x.reshape([B * T, D]), last).reshape([B, ...rest]);
  });
}

/** bos + encode(prompt): how a task prompt becomes tokens without a template. */
export function plainPromptTokens(tok: TextTokenizer, prompt: string): number[] {
  const ids = tok.encode(prompt);
  return tok.bosId !== undefined ? [tok.bosId, ...ids] : ids;
}
