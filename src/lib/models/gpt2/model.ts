// GPT-2 on tfjs, in one sitting: pre-LN blocks, GELU MLP at 4x width, learned positions, tied embeddings.
// Letters: B batch, T time, C channels (dModel), V vocab, L layers, NH heads, HS head size.
// Every activation passes a named hook point (TransformerLens names, see ../types.ts).
import * as tf from '@tensorflow/tfjs';
import type { ActivationCache, CacheOptions, DecodeCache, DecodeStep, ForwardOptions, HookedModel, HookFilter, HookFn, LinearAdapter, ModelDims, PromptFormat, RunOptions, TextTokenizer } from '../types';
import { gatherLast, hookPoints, plainPromptTokens, runWithCache, runWithHooks } from '../hooks';
import { validateConfig, type GPT2Config } from './config';
import { type ModelOps } from './ops';
import { normalSampler, Rng } from '../../util/rng';
import { linear as linearOp, linearT } from '../../kernels/matmul';

/** Weight names follow GPT-2 checkpoint keys, so loading a checkpoint is a key copy. */
export function weightShapes(c: GPT2Config): Record<string, number[]> {
  const C = c.dModel;
  const s: Record<string, number[]> = { wte: [c.vocabSize, C], wpe: [c.nCtx, C] };
  for (let i = 0; i < c.nLayer; i++) {
    const h = `h.${i}`;
    s[`${h}.ln_1.weight`] = [C];
    s[`${h}.ln_1.bias`] = [C];
    s[`${h}.attn.c_attn.weight`] = [C, 3 * C];
    s[`${h}.attn.c_attn.bias`] = [3 * C];
    s[`${h}.attn.c_proj.weight`] = [C, C];
    s[`${h}.attn.c_proj.bias`] = [C];
    s[`${h}.ln_2.weight`] = [C];
    s[`${h}.ln_2.bias`] = [C];
    s[`${h}.mlp.c_fc.weight`] = [C, 4 * C];
    s[`${h}.mlp.c_fc.bias`] = [4 * C];
    s[`${h}.mlp.c_proj.weight`] = [4 * C, C];
    s[`${h}.mlp.c_proj.bias`] = [C];
  }
  s['ln_f.weight'] = [C];
  s['ln_f.bias'] = [C];
  return s;
}

/** True for the weights AdamW decays: matrices of the blocks (not norms, biases or embeddings). */
export function isDecayed(name: string): boolean {
  return name.endsWith('.weight') && !name.includes('.ln_') && !name.startsWith('ln_f');
}

/** GPT-2 initialization (N(0, 0.02); residual projections scaled by 1/sqrt(2L)), from a seed, in JS. */
export function initWeights(c: GPT2Config, seed: number): Record<string, Float32Array> {
  const rng = new Rng(seed);
  const normal = normalSampler(() => rng.next());
  const out: Record<string, Float32Array> = {};
  for (const [name, shape] of Object.entries(weightShapes(c))) {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    if (name.includes('.ln_') || name.startsWith('ln_f')) {
      if (name.endsWith('.weight')) a.fill(1);
    } else if (!name.endsWith('.bias')) {
      const std = name.endsWith('c_proj.weight') ? 0.02 / Math.sqrt(2 * c.nLayer) : 0.02;
      for (let i = 0; i < n; i++) a[i] = normal() * std;
    }
    out[name] = a;
  }
  return out;
}

export class GPT2 implements HookedModel {
  readonly kind = 'gpt2' as const;
  readonly dims: ModelDims;
  readonly params: Record<string, tf.Variable>;
  private adapter: LinearAdapter | null = null;

  constructor(
    readonly config: GPT2Config,
    weights: Record<string, Float32Array>,
    readonly tokenizer: TextTokenizer,
    public ops: ModelOps,
  ) {
    validateConfig(config);
    const tokVocab = (tokenizer as { size?: number }).size;
    if (tokVocab !== undefined && tokVocab !== config.vocabSize)
      throw new Error(`The tokenizer has ${tokVocab} tokens but the model's vocabulary is ${config.vocabSize}: this checkpoint is inconsistent. Load a checkpoint saved by the lab.`);
    this.dims = { nLayer: config.nLayer, dModel: config.dModel, dMlp: 4 * config.dModel, vocabSize: config.vocabSize, nCtx: config.nCtx };
    this.params = {};
    for (const [name, shape] of Object.entries(weightShapes(config))) {
      const w = weights[name];
      const n = shape.reduce((a, b) => a * b, 1);
      if (!w) throw new Error(`Checkpoint is missing weight "${name}" (shape [${shape}]).`);
      if (w.length !== n) throw new Error(`Weight "${name}" has ${w.length} values; the config needs [${shape}] = ${n}.`);
      const init = tf.tensor(w, shape, 'float32');
      this.params[name] = tf.variable(init, true); // unnamed: tfjs variable names are global
      init.dispose();
    }
  }

  hookNames(): string[] {
    const names = ['hook_embed', 'hook_pos_embed'];
    for (let i = 0; i < this.config.nLayer; i++) {
      for (const h of ['hook_resid_pre', 'attn.hook_z', 'hook_attn_out', 'hook_resid_mid', 'ln2.hook_normalized', 'mlp.hook_pre', 'mlp.hook_post', 'hook_mlp_out', 'hook_resid_post'])
        names.push(`blocks.${i}.${h}`);
    }
    names.push('ln_final.hook_normalized');
    return names;
  }

  /** tokens int32 [B, T] -> logits [B, T, V], inside its own tf.tidy (see HookedModel). */
  forward(tokens: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => this.run(tokens, opts));
  }

  /** Right-padded prompts -> next-token log-probs at each row's last real position, and the keys/values of every block. */
  prefill(tokens: tf.Tensor2D, hooks: Record<string, HookFn>, opts: RunOptions & { seqLengths: number[] }): DecodeStep {
    const [B, T] = tokens.shape;
    const lens = opts.seqLengths;
    const kv: KV = { k: [], v: [] };
    const r = tf.tidy(() => {
      const logits = this.run(tokens, { ...opts, hooks }, kv); // (B, T, V)
      const logProbs = tf.logSoftmax(gatherLast(logits, lens)) as tf.Tensor2D;
      const mask = new Float32Array(B * T);
      lens.forEach((n, b) => mask.fill(MASKED, b * T + n, (b + 1) * T)); // padding slots are never attended
      return { logProbs, k: kv.k, v: kv.v, mask: tf.tensor2d(mask, [B, T]) };
    });
    return { logProbs: r.logProbs, cache: new GPT2Cache(r.k, r.v, r.mask, [...lens]) };
  }

  /** One token per cached row at the row's next position (its keys/values appended to the cache); hooks edit it. */
  decodeStep(next: number[], cache: DecodeCache, hooks: Record<string, HookFn>): DecodeStep {
    if (!(cache instanceof GPT2Cache)) throw new Error('decodeStep needs a cache made by this GPT-2 (prefill).');
    if (next.length !== cache.rows) throw new Error(`decodeStep got ${next.length} tokens for a cache of ${cache.rows} rows.`);
    const pos = cache.positions;
    const over = pos.findIndex((p) => p >= this.config.nCtx);
    if (over >= 0) throw new Error(`Row ${over} would write position ${pos[over]}, past the model's context (${this.config.nCtx}).`);
    const kv: KV = { k: [], v: [], past: cache };
    const r = tf.tidy(() => {
      // one position per row, every one a "last position": hook edits land everywhere (no editFrom)
      const logits = this.run(tf.tensor2d(next, [next.length, 1], 'int32'), { hooks }, kv); // (B, 1, V)
      const logProbs = tf.logSoftmax(logits.reshape([next.length, -1])) as tf.Tensor2D;
      const mask = tf.concat([cache.mask, tf.zeros([next.length, 1])], 1) as tf.Tensor2D;
      return { logProbs, k: kv.k, v: kv.v, mask };
    });
    return { logProbs: r.logProbs, cache: new GPT2Cache(r.k, r.v, r.mask, pos.map((p) => p + 1)) };
  }

  /**
   * The forward. With kv, the keys and values of every block are pushed to kv.k / kv.v (B, NH, S, HS); with
   * kv.past, tokens is one position per row at the cache's next positions, attending to the cached ones.
   */
  private run(tokens: tf.Tensor2D, opts: ForwardOptions, kv?: KV): tf.Tensor3D {
    const c = this.config;
    const [B, T] = tokens.shape;
    if (T > c.nCtx) throw new Error(`Sequence of ${T} tokens is longer than the model's context (${c.nCtx}).`);
    const past = kv?.past;
    const C = c.dModel, NH = c.nHead, HS = C / NH;
    const p = this.params;
    const hook = hookPoints(opts, B, T);
    // bias folded into the matmul; on wasm every matmul (forward, dX, dW) stays untransposed, see kernels/matmul
    const linear = (x: tf.Tensor, w: string, b: string, nOut: number) => {
      const x2 = x.reshape([B * T, -1]) as tf.Tensor2D;
      const y = linearOp(x2, p[w] as tf.Tensor2D, p[b] as tf.Tensor1D);
      return (this.adapter ? this.adapter.apply(w.replace(/\.weight$/, ''), x2, y) : y).reshape([B, T, nOut]);
    };

    const tok = hook('hook_embed', this.ops.embedding(p.wte as tf.Tensor2D, tokens)); // (B, T, C)
    const pos = hook('hook_pos_embed', past
      ? tf.gather(p.wpe, tf.tensor1d(past.positions, 'int32')).expandDims(1) // (B, 1, C): each row's next position
      : p.wpe.slice([0, 0], [T, C]).expandDims(0)); // (1, T, C)
    let x = tf.add(tok, pos) as tf.Tensor; // (B, T, C)
    for (let i = 0; i < c.nLayer; i++) {
      const h = `h.${i}`, k = `blocks.${i}`;
      x = hook(`${k}.hook_resid_pre`, x);
      // attention: x + attn(ln_1(x))
      const a = this.ops.layerNorm(x, p[`${h}.ln_1.weight`] as tf.Tensor1D, p[`${h}.ln_1.bias`] as tf.Tensor1D, c.eps);
      const qkv = linear(a, `${h}.attn.c_attn.weight`, `${h}.attn.c_attn.bias`, 3 * C); // (B, T, 3C)
      // one split (its gradient is one concat; three slices would each pad their gradient back to 3C)
      const [qh, kh, vh] = tf.split(qkv, 3, 2).map((t) => t.reshape([B, T, NH, HS]).transpose([0, 2, 1, 3]) as tf.Tensor4D); // (B, NH, T, HS)
      let att: tf.Tensor; // (B, NH, T, HS)
      if (past) {
        // one query per row over the cached keys and its own: plain tf ops (shapes are tiny; padding slots masked)
        const K = tf.concat([past.k[i], kh], 2), V = tf.concat([past.v[i], vh], 2); // (B, NH, S+1, HS)
        const mask = tf.concat([past.mask, tf.zeros([B, 1])], 1).reshape([B, 1, 1, -1]);
        att = tf.matMul(tf.softmax(tf.add(tf.mul(tf.matMul(qh, K, false, true), 1 / Math.sqrt(HS)), mask)), V); // (B, NH, 1, HS)
        kv!.k.push(K as tf.Tensor4D);
        kv!.v.push(V as tf.Tensor4D);
      } else {
        att = this.ops.causalAttention(qh, kh, vh, 1 / Math.sqrt(HS));
        if (kv) {
          kv.k.push(kh);
          kv.v.push(vh);
        }
      }
      const z = hook(`${k}.attn.hook_z`, att.transpose([0, 2, 1, 3])); // (B, T, NH, HS)
      const zc = z.reshape([B, T, C]); // (B, T, C)
      const attnOut = hook(`${k}.hook_attn_out`, linear(zc, `${h}.attn.c_proj.weight`, `${h}.attn.c_proj.bias`, C));
      x = hook(`${k}.hook_resid_mid`, tf.add(x, attnOut));
      // MLP: x + mlp(ln_2(x))
      // the FFN LayerNorm's output: where the paper's GPT-2 code reads its neurons (TransformerLens name)
      const m = hook(`${k}.ln2.hook_normalized`, this.ops.layerNorm(x, p[`${h}.ln_2.weight`] as tf.Tensor1D, p[`${h}.ln_2.bias`] as tf.Tensor1D, c.eps));
      const pre = hook(`${k}.mlp.hook_pre`, linear(m, `${h}.mlp.c_fc.weight`, `${h}.mlp.c_fc.bias`, 4 * C)); // (B, T, 4C)
      const post = hook(`${k}.mlp.hook_post`, this.ops.gelu(pre)); // (B, T, 4C)
      const mlpOut = hook(`${k}.hook_mlp_out`, linear(post, `${h}.mlp.c_proj.weight`, `${h}.mlp.c_proj.bias`, C));
      x = hook(`${k}.hook_resid_post`, tf.add(x, mlpOut));
    }
    const xf = hook('ln_final.hook_normalized', this.ops.layerNorm(x, p['ln_f.weight'] as tf.Tensor1D, p['ln_f.bias'] as tf.Tensor1D, c.eps));
    if (opts.hooksOnly) return tf.zeros([B, T, 0]) as tf.Tensor3D;
    const x2 = xf.reshape([B * T, C]) as tf.Tensor2D;
    const logits = linearT(x2, p.wte as tf.Tensor2D); // (B*T, V), tied embeddings
    return (this.adapter ? this.adapter.apply('wte', x2, logits) : logits).reshape([B, T, c.vocabSize]) as tf.Tensor3D;
  }

  runWithHooks(tokens: tf.Tensor2D, hooks: Record<string, HookFn>, opts?: RunOptions): tf.Tensor3D {
    return runWithHooks(this, tokens, hooks, opts);
  }

  runWithCache(tokens: tf.Tensor2D, names: HookFilter, opts?: CacheOptions): ActivationCache {
    return runWithCache(this, tokens, names, opts);
  }

  encodePrompt(prompt: string): number[] {
    return plainPromptTokens(this.tokenizer, prompt);
  }

  setPromptFormat(f: PromptFormat): void {
    if (f.chat) throw new Error('GPT-2 here is trained from scratch on plain task text and has no chat template; use { chat: false }.');
  }

  attachAdapters(a: LinearAdapter): void {
    this.adapter = a;
  }

  detachAdapters(): void {
    this.adapter = null;
  }

  /**
   * Mean next-token loss over the positions whose weight is nonzero.
   * ids (B, T) int32; weights (B, T): 1 where token t+1 is a target of position t.
   */
  loss(ids: tf.Tensor2D, weights: tf.Tensor2D): tf.Scalar {
    const [B, T] = ids.shape;
    const logits = this.forward(ids.slice([0, 0], [B, T - 1])); // (B, T-1, V)
    const targets = ids.slice([0, 1], [B, T - 1]).reshape([-1]) as tf.Tensor1D; // (B*(T-1))
    const w = weights.slice([0, 1], [B, T - 1]).reshape([-1]) as tf.Tensor1D;
    const per = this.ops.softmaxCrossEntropy(logits.reshape([-1, this.config.vocabSize]) as tf.Tensor2D, targets, w);
    return tf.div(tf.sum(per), tf.maximum(tf.sum(w), 1)) as tf.Scalar;
  }

  /** loss value and gradients keyed by weight name (tfjs keys them by its own variable names). */
  valueAndGrads(f: () => tf.Scalar): { value: tf.Scalar; grads: Record<string, tf.Tensor> } {
    const { value, grads } = tf.variableGrads(f, Object.values(this.params));
    const out: Record<string, tf.Tensor> = {};
    for (const [n, v] of Object.entries(this.params)) out[n] = grads[v.name];
    return { value, grads: out };
  }

  /** Weights as plain arrays (for checkpoints). */
  async exportWeights(): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {};
    for (const [name, v] of Object.entries(this.params)) out[name] = (await v.data()) as Float32Array;
    return out;
  }

  dispose(): void {
    for (const v of Object.values(this.params)) v.dispose();
  }
}

/** Added to the attention scores of padding slots: softmax gives them 0. */
const MASKED = -1e9;

interface KV {
  k: tf.Tensor4D[];
  v: tf.Tensor4D[];
  past?: GPT2Cache;
}

/** True on the CPU backends (wasm, cpu), where a tensor's values are in this thread's memory. */
const onCpu = () => ['wasm', 'cpu'].includes(tf.getBackend());

/** Rows of a tensor (first axis) by index, on the backend. */
function pickRowsGather<T extends tf.Tensor>(t: T, rows: number[]): T {
  return tf.gather(t, tf.tensor1d(rows, 'int32')) as T;
}

/**
 * The same as pickRowsGather by row copies in JS: tfjs-wasm gathers (and slices) element by element, 25-30 ms for
 * one 320-row cache tensor of the tiny model, against well under 1 ms for these copies (beam search picks rows each step).
 */
function pickRowsCopy<T extends tf.Tensor>(t: T, rows: number[]): T {
  const src = t.dataSync() as Float32Array;
  const n = t.shape[0] === 0 ? 0 : src.length / t.shape[0];
  const dst = new Float32Array(rows.length * n);
  rows.forEach((r, i) => dst.set(src.subarray(r * n, (r + 1) * n), i * n));
  return tf.tensor(dst, [rows.length, ...t.shape.slice(1)], 'float32') as T;
}

/** GPT-2's KV cache: per block keys and values (B, NH, S, HS), a (B, S) additive mask, each row's next position. */
class GPT2Cache implements DecodeCache {
  constructor(
    readonly k: tf.Tensor4D[],
    readonly v: tf.Tensor4D[],
    readonly mask: tf.Tensor2D,
    /** Absolute position of each row's next token. */
    readonly positions: number[],
  ) {}

  get rows(): number {
    return this.positions.length;
  }

  select(rows: number[]): GPT2Cache {
    const bad = rows.find((i) => !(Number.isInteger(i) && i >= 0 && i < this.rows));
    if (bad !== undefined) throw new Error(`Cache row ${bad} does not exist (the cache has ${this.rows} rows).`);
    const pick = onCpu() ? pickRowsCopy : pickRowsGather;
    const r = tf.tidy(() => ({ k: this.k.map((t) => pick(t, rows)), v: this.v.map((t) => pick(t, rows)), mask: pick(this.mask, rows) }));
    return new GPT2Cache(r.k, r.v, r.mask, rows.map((i) => this.positions[i]));
  }

  dispose(): void {
    tf.dispose([...this.k, ...this.v, this.mask]);
  }
}
