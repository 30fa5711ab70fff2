// LLaMA (3.x) on tfjs from a GGUF file: RMSNorm, RoPE with LLaMA-3 frequency factors, grouped-query attention
// with a KV cache, SwiGLU. Quantized weights stay as raw GGUF blocks on the device and go through the lab's
// qmatmul kernels; F32 weights use tf.matMul.
// Letters: B batch, T time (new positions), TK keys (cache + new), C channels, NH query heads, NKV kv heads,
// HS head size, D MLP width, V vocab.
//
// RoPE layout (the classic bug): llama.cpp's converter permutes the rows of attn_q/attn_k inside each head so
// that the two halves HF rotates together (i, i + HS/2) become adjacent (2i, 2i+1). GGUF weights are therefore
// rotated in adjacent pairs here (ggml's "NORM" rope), never in halves. attn.hook_q/k see this GGUF layout.
import * as tf from '@tensorflow/tfjs';
import type { ActivationCache, CacheOptions, ForwardOptions, HookedModel, HookFilter, HookFn, LinearAdapter, ModelDims, PromptFormat, RunOptions } from '../types';
import { hookPoints, plainPromptTokens, runWithCache, runWithHooks, type HookPoint } from '../hooks';
import { findTensor, readTensorBytes, type GGUFHeader, type GGUFSource } from '../../gguf/reader';
import { dequantize } from '../../gguf/quant';
import { checkFiniteTensor } from '../../gguf/finite';
import { isQFormat, makeQWeight, qGather, qMatMul, type QWeight } from '../../kernels/qmatmul';
import { configFromGGUF, type LlamaConfig } from './config';
import { LlamaTokenizer } from './tokenizer';

/** A [N, K] weight: F32 on the device, or raw quantized blocks. */
import { mulberry32 } from '../../util/rng';
export type Linear = { kind: 'f32'; w: tf.Tensor2D; type: string } | { kind: 'q'; q: QWeight; type: string };

export interface KVCache {
  /** Per layer (B, NKV, TK, HS). */
  k: tf.Tensor4D[];
  v: tf.Tensor4D[];
  length: number;
}

export interface LoadOptions {
  /** Dequantize every weight to F32 at load (a reference model for tests); default false. */
  dequantize?: boolean;
  onProgress?: (done: number, total: number) => void;
}

function hookNamesFor(nLayer: number): string[] {
  const names = ['hook_embed'];
  for (let i = 0; i < nLayer; i++) {
    const b = `blocks.${i}`;
    names.push(`${b}.hook_resid_pre`, `${b}.attn.hook_q`, `${b}.attn.hook_k`, `${b}.attn.hook_v`, `${b}.attn.hook_pattern`,
      `${b}.attn.hook_z`, `${b}.hook_attn_out`, `${b}.hook_resid_mid`, `${b}.mlp.hook_pre`, `${b}.mlp.hook_post`,
      `${b}.hook_mlp_out`, `${b}.hook_resid_post`);
  }
  names.push('ln_final.hook_normalized');
  return names;
}

export class LlamaModel implements HookedModel {
  readonly kind = 'llama' as const;
  readonly dims: ModelDims;
  /** Sees each projection (GGUF name without ".weight", e.g. "blk.0.attn_q"); LoRA adds its update there. */
  private adapter: LinearAdapter | null = null;
  private promptFormat: PromptFormat = { chat: false };
  private readonly invFreq: Float64Array; // (HS/2) rotation frequency per pair, LLaMA-3 factors applied
  private readonly names: string[];

  private constructor(
    readonly config: LlamaConfig,
    readonly tokenizer: LlamaTokenizer,
    private readonly lin: Map<string, Linear>,
    private readonly norms: Map<string, tf.Tensor1D>,
    ropeFactors: Float32Array | null,
    /** Bytes of weights held on the device. */
    readonly weightBytes: number,
  ) {
    const c = config;
    this.dims = { nLayer: c.nLayer, dModel: c.dModel, dMlp: c.dMlp, vocabSize: c.vocabSize, nCtx: c.nCtx };
    this.invFreq = new Float64Array(c.headDim / 2); // pairs past ropeDims/2 stay 0: not rotated (ggml passes them)
    for (let i = 0; i < c.ropeDims / 2; i++) {
      // As ggml: theta_i = p * freq_scale * base^(-2i/n_rot) / freq_factor_i.
      this.invFreq[i] = (c.ropeFreqScale * Math.pow(c.ropeBase, (-2 * i) / c.ropeDims)) / (ropeFactors ? ropeFactors[i] : 1);
    }
    this.names = hookNamesFor(c.nLayer);
  }

  static async fromGGUF(src: GGUFSource, h: GGUFHeader, opts: LoadOptions = {}): Promise<LlamaModel> {
    const c = configFromGGUF(h);
    const tokenizer = LlamaTokenizer.fromGGUF(h);
    if (tokenizer.vocabSize !== c.vocabSize) throw new Error(`The tokenizer has ${tokenizer.vocabSize} tokens but token_embd has ${c.vocabSize} rows.`);
    const HS = c.headDim;
    const want: Array<[string, number[]]> = [['token_embd.weight', [c.vocabSize, c.dModel]], ['output_norm.weight', [c.dModel]]];
    if (!c.tiedOutput) want.push(['output.weight', [c.vocabSize, c.dModel]]);
    if (c.hasRopeFreqs) want.push(['rope_freqs.weight', [c.ropeDims / 2]]);
    for (let i = 0; i < c.nLayer; i++) {
      const b = `blk.${i}`;
      want.push([`${b}.attn_norm.weight`, [c.dModel]], [`${b}.ffn_norm.weight`, [c.dModel]],
        [`${b}.attn_q.weight`, [c.nHead * HS, c.dModel]], [`${b}.attn_k.weight`, [c.nHeadKv * HS, c.dModel]],
        [`${b}.attn_v.weight`, [c.nHeadKv * HS, c.dModel]], [`${b}.attn_output.weight`, [c.dModel, c.nHead * HS]],
        [`${b}.ffn_gate.weight`, [c.dMlp, c.dModel]], [`${b}.ffn_up.weight`, [c.dMlp, c.dModel]], [`${b}.ffn_down.weight`, [c.dModel, c.dMlp]]);
    }
    const lin = new Map<string, Linear>(), norms = new Map<string, tf.Tensor1D>();
    let ropeFactors: Float32Array | null = null, bytes = 0, done = 0;
    try {
      for (const [name, shape] of want) {
        const t = findTensor(h, name);
        const ggmlShape = [...shape].reverse();
        if (t.dims.length !== shape.length || t.dims.some((d, j) => d !== ggmlShape[j])) {
          throw new Error(`Tensor ${name} has dims [${t.dims}] (ggml order) but the metadata implies [${ggmlShape}].`);
        }
        const raw = await readTensorBytes(src, h, t);
        checkFiniteTensor(name, t.type, raw); // a NaN weight would make every logit NaN
        const key = name.replace(/\.weight$/, '');
        if (shape.length === 1) {
          const v = dequantize(t.type, raw, t.nElements);
          if (name === 'rope_freqs.weight') ropeFactors = v;
          else norms.set(key, tf.tensor1d(v)); // (C,)
        } else if (t.type === 'F32' || opts.dequantize || !isQFormat(t.type)) {
          lin.set(key, { kind: 'f32', w: tf.tensor2d(dequantize(t.type, raw, t.nElements), shape as [number, number]), type: t.type }); // (N, K)
          bytes += t.nElements * 4;
        } else {
          lin.set(key, { kind: 'q', q: makeQWeight(t.type, shape[0], shape[1], raw), type: t.type });
          bytes += t.nBytes;
        }
        opts.onProgress?.(++done, want.length);
      }
    } catch (e) {
      for (const l of lin.values()) (l.kind === 'f32' ? l.w : l.q.data).dispose();
      for (const n of norms.values()) n.dispose();
      throw e;
    }
    return new LlamaModel(c, tokenizer, lin, norms, ropeFactors, bytes);
  }

  hookNames(): string[] {
    return [...this.names];
  }

  /** Quant type of each weight, by GGUF name. */
  weightTypes(): Record<string, string> {
    return Object.fromEntries([...this.lin].map(([k, l]) => [k, l.type]));
  }

  /** [N, K] of a projection by GGUF name without ".weight" (e.g. "blk.0.attn_q"). */
  linearShape(name: string): [number, number] {
    const l = this.lin.get(name);
    if (!l) throw new Error(`The model has no projection ${name}.`);
    return l.kind === 'f32' ? (l.w.shape as [number, number]) : [l.q.N, l.q.K];
  }

  /** The device tensor holding a weight (F32 values, or raw blocks as int32); for checks, do not modify. */
  weightTensor(name: string): tf.Tensor {
    const l = this.lin.get(name);
    if (!l) throw new Error(`The model has no projection ${name}.`);
    return l.kind === 'f32' ? l.w : l.q.data;
  }

  private linear(name: string, x: tf.Tensor2D): tf.Tensor2D {
    const l = this.lin.get(name)!;
    const y: tf.Tensor2D = l.kind === 'f32' ? tf.matMul(x, l.w, false, true) : qMatMul(x, l.q); // (M, N)
    return this.adapter ? this.adapter.apply(name, x, y) : y;
  }

  private embed(tokens: tf.Tensor2D): tf.Tensor3D {
    const [B, T] = tokens.shape;
    const l = this.lin.get('token_embd')!;
    const ids = tokens.reshape([B * T]) as tf.Tensor1D;
    const e = l.kind === 'f32' ? tf.gather(l.w, ids) : qGather(ids, l.q); // (B*T, C)
    return e.reshape([B, T, this.config.dModel]);
  }

  private rmsNorm(x: tf.Tensor3D, name: string): tf.Tensor3D {
    const ms = tf.mean(tf.square(x), -1, true); // (B, T, 1)
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, this.config.normEps))), this.norms.get(name)!) as tf.Tensor3D;
  }

  /**
   * Rotate adjacent pairs (2i, 2i+1) of x (B, T, H, HS) at positions start..start+T-1:
   * y = x * cos + swap(x) * sin', where swap exchanges the two values of each pair and sin' is (-sin, +sin) per pair.
   */
  private rope(x: tf.Tensor4D, start: number): tf.Tensor4D {
    const [B, T, H, HS] = x.shape;
    const P = HS / 2;
    const cos = new Float32Array(T * HS), sin = new Float32Array(T * HS);
    for (let t = 0; t < T; t++) for (let i = 0; i < P; i++) {
      const th = (start + t) * this.invFreq[i], c = Math.cos(th), s = Math.sin(th), o = t * HS + 2 * i;
      cos[o] = c; cos[o + 1] = c;
      sin[o] = -s; sin[o + 1] = s;
    }
    // Rank 3, not (B, T, H, P, 2): tfjs-webgpu's Reverse handles rank <= 4 only (a rank-5 one drops a dimension).
    const swapped = tf.reverse(x.reshape([B * T * H, P, 2]), 2).reshape([B, T, H, HS]); // (x1, x0) per pair
    return tf.add(tf.mul(x, tf.tensor4d(cos, [1, T, 1, HS])), tf.mul(swapped, tf.tensor4d(sin, [1, T, 1, HS]))) as tf.Tensor4D;
  }

  private attention(x: tf.Tensor3D, i: number, start: number, cache: KVCache | null, hk: HookPoint): tf.Tensor3D {
    const { nHead: NH, nHeadKv: NKV, headDim: HS, dModel: C } = this.config;
    const [B, T] = x.shape;
    const x2 = x.reshape([B * T, C]) as tf.Tensor2D;
    const b = `blk.${i}`, hb = `blocks.${i}.attn`;
    let q = hk(`${hb}.hook_q`, this.linear(`${b}.attn_q`, x2).reshape([B, T, NH, HS])) as tf.Tensor4D;
    let k = hk(`${hb}.hook_k`, this.linear(`${b}.attn_k`, x2).reshape([B, T, NKV, HS])) as tf.Tensor4D;
    const v0 = hk(`${hb}.hook_v`, this.linear(`${b}.attn_v`, x2).reshape([B, T, NKV, HS])) as tf.Tensor4D;
    q = this.rope(q, start).transpose([0, 2, 1, 3]); // (B, NH, T, HS)
    k = this.rope(k, start).transpose([0, 2, 1, 3]); // (B, NKV, T, HS)
    let v = v0.transpose([0, 2, 1, 3]) as tf.Tensor4D; // (B, NKV, T, HS)
    if (cache) {
      if (cache.k[i]) {
        k = tf.concat([cache.k[i], k], 2); // (B, NKV, TK, HS)
        v = tf.concat([cache.v[i], v], 2);
      }
      cache.k[i]?.dispose();
      cache.v[i]?.dispose();
      cache.k[i] = tf.keep(k);
      cache.v[i] = tf.keep(v);
    }
    const TK = k.shape[2], G = NH / NKV;
    // Query head h reads kv head floor(h / G), as llama.cpp and HF's repeat_kv do. Heads h = kv*G + g are adjacent,
    // so the G query heads of a kv head stack into one (G*T)-row matmul against it: no copy of K or V per head.
    const qg = q.reshape([B, NKV, G * T, HS]);
    let scores = tf.mul(tf.matMul(qg, k, false, true), 1 / Math.sqrt(HS)); // (B, NKV, G*T, TK)
    if (T > 1) {
      const mask = new Float32Array(G * T * TK); // causal: row g*T + t sees keys up to start + t
      for (let g = 0; g < G; g++) for (let t = 0; t < T; t++) for (let j = start + t + 1; j < TK; j++) mask[(g * T + t) * TK + j] = -1e9;
      scores = tf.add(scores, tf.tensor2d(mask, [G * T, TK]));
    } // one new position (decoding) sees every key: no mask
    const att = hk(`${hb}.hook_pattern`, tf.softmax(scores, -1).reshape([B, NH, T, TK])) as tf.Tensor4D; // (B, NH, T, TK)
    const z = hk(`${hb}.hook_z`, tf.matMul(att.reshape([B, NKV, G * T, TK]), v).reshape([B, NH, T, HS]).transpose([0, 2, 1, 3])); // (B, T, NH, HS)
    return this.linear(`${b}.attn_output`, z.reshape([B * T, NH * HS]) as tf.Tensor2D).reshape([B, T, C]);
  }

  private mlp(x: tf.Tensor3D, i: number, hk: HookPoint): tf.Tensor3D {
    const [B, T, C] = x.shape;
    const x2 = x.reshape([B * T, C]) as tf.Tensor2D, b = `blk.${i}`, hb = `blocks.${i}.mlp`, D = this.config.dMlp;
    const gate = hk(`${hb}.hook_pre`, this.linear(`${b}.ffn_gate`, x2).reshape([B, T, D])); // (B, T, D)
    const up = this.linear(`${b}.ffn_up`, x2).reshape([B, T, D]);
    const post = hk(`${hb}.hook_post`, tf.mul(tf.mul(gate, tf.sigmoid(gate)), up)); // silu(gate) * up
    return this.linear(`${b}.ffn_down`, post.reshape([B * T, D]) as tf.Tensor2D).reshape([B, T, C]);
  }

  /**
   * Logits (B, T, V) for tokens at positions start.., extending `cache` when one is given; (B, 1, V) of the last
   * position only with `lastOnly` (decoding), (B, T, 0) with opts.hooksOnly (recording: no vocabulary projection).
   */
  run(tokens: tf.Tensor2D, start: number, cache: KVCache | null, opts: ForwardOptions = {}, lastOnly = false): tf.Tensor3D {
    const [B, T] = tokens.shape;
    if (start + T > this.config.nCtx) throw new Error(`Sequence of ${start + T} tokens exceeds the context length ${this.config.nCtx}.`);
    if (cache && cache.length !== start) throw new Error(`KV cache holds ${cache.length} positions but the call starts at ${start}.`);
    const hk = hookPoints(opts, B, T);
    const logits = tf.tidy(() => {
      let x = hk('hook_embed', this.embed(tokens)) as tf.Tensor3D; // (B, T, C)
      for (let i = 0; i < this.config.nLayer; i++) {
        const p = `blocks.${i}`;
        x = hk(`${p}.hook_resid_pre`, x) as tf.Tensor3D;
        x = hk(`${p}.hook_resid_mid`, tf.add(x, hk(`${p}.hook_attn_out`, this.attention(this.rmsNorm(x, `blk.${i}.attn_norm`), i, start, cache, hk)))) as tf.Tensor3D;
        x = hk(`${p}.hook_resid_post`, tf.add(x, hk(`${p}.hook_mlp_out`, this.mlp(this.rmsNorm(x, `blk.${i}.ffn_norm`), i, hk)))) as tf.Tensor3D;
      }
      let h = hk('ln_final.hook_normalized', this.rmsNorm(x, 'output_norm')) as tf.Tensor3D;
      if (opts.hooksOnly) return tf.zeros([B, T, 0]) as tf.Tensor3D;
      let R = T;
      if (lastOnly && T > 1) { h = h.slice([0, T - 1, 0], [B, 1, -1]); R = 1; } // (B, 1, C)
      const out = this.config.tiedOutput ? 'token_embd' : 'output';
      return this.linear(out, h.reshape([B * R, this.config.dModel]) as tf.Tensor2D).reshape([B, R, this.config.vocabSize]) as tf.Tensor3D; // (B, R, V)
    });
    if (cache) cache.length = start + T;
    return logits;
  }

  /** tokens int32 [B, T] -> logits [B, T, V], inside its own tf.tidy (see HookedModel). */
  forward(tokens: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    return this.run(tokens, 0, null, opts);
  }

  runWithHooks(tokens: tf.Tensor2D, hooks: Record<string, HookFn>, opts?: RunOptions): tf.Tensor3D {
    return runWithHooks(this, tokens, hooks, opts);
  }

  runWithCache(tokens: tf.Tensor2D, names: HookFilter, opts?: CacheOptions): ActivationCache {
    return runWithCache(this, tokens, names, opts);
  }

  encodePrompt(prompt: string): number[] {
    return llamaPromptTokens(this.tokenizer, this.promptFormat, prompt);
  }

  setPromptFormat(f: PromptFormat): void {
    if (f.chat) this.tokenizer.formatChat([]); // throws now, with its reason, if this vocabulary has no chat format
    this.promptFormat = f;
  }

  attachAdapters(a: LinearAdapter): void {
    this.adapter = a;
  }

  detachAdapters(): void {
    this.adapter = null;
  }

  newCache(): KVCache {
    return { k: [], v: [], length: 0 };
  }

  disposeCache(c: KVCache): void {
    for (const t of [...c.k, ...c.v]) t?.dispose();
    c.k = [];
    c.v = [];
    c.length = 0;
  }

  dispose(): void {
    for (const l of this.lin.values()) (l.kind === 'f32' ? l.w : l.q.data).dispose();
    for (const n of this.norms.values()) n.dispose();
    this.lin.clear();
    this.norms.clear();
  }
}

/** A task prompt as LLaMA tokens: bos + encode(prompt), or with a chat format the system and user turns up to the assistant header. */
export function llamaPromptTokens(tok: LlamaTokenizer, f: PromptFormat, prompt: string): number[] {
  if (f.chat) return tok.encode(tok.formatChat([{ role: 'system', content: f.systemPrompt }, { role: 'user', content: prompt }]));
  return plainPromptTokens(tok, prompt);
}

export interface GenerateOptions {
  maxTokens: number;
  /** Greedy (argmax) when true; else sample with temperature/topK. */
  greedy?: boolean;
  temperature?: number;
  topK?: number;
  /** Seed for sampling (mulberry32). */
  seed?: number;
  /** Stop ids (default: the tokenizer's eos and eot). */
  stopIds?: number[];
  hooks?: ForwardOptions['hooks'];
  onToken?: (id: number) => void;
}

/** KV-cached decoding of one prompt; returns the new ids (without the stop token). */
export async function generate(model: LlamaModel, prompt: number[], o: GenerateOptions): Promise<number[]> {
  if (prompt.length === 0) throw new Error('generate: the prompt is empty; give at least one token (e.g. BOS).');
  const stop = new Set(o.stopIds ?? [model.tokenizer.eosId, model.tokenizer.tokenId('<|end_of_text|>') ?? -1]);
  const rand = mulberry32(o.seed ?? 1);
  const cache = model.newCache();
  const out: number[] = [];
  try {
    let input = prompt;
    for (let s = 0; s < o.maxTokens && cache.length + input.length <= model.config.nCtx; s++) {
      const last = tf.tidy(() => {
        // edits land on the last position of every call (the prompt's last token, then each new one)
        const logits = model.run(tf.tensor2d(input, [1, input.length], 'int32'), cache.length, cache, { hooks: o.hooks, editFrom: [input.length - 1] }, true); // (1, 1, V)
        return logits.reshape([-1]); // (V,) of the last position: the head runs on it alone
      });
      const l = (await last.data()) as Float32Array;
      last.dispose();
      // argmax over NaN would return token 0 without a word: a broken model or kernel must say so
      const bad = l.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new Error(`generate: the logits at step ${s + 1} are not finite (token ${bad}: ${l[bad]}); the weights, an adapter or a hook produced ${Number.isNaN(l[bad]) ? 'NaN' : 'an infinity'}.`);
      let next = 0;
      if (o.greedy !== false && (o.greedy || !o.temperature)) {
        for (let v = 1; v < l.length; v++) if (l[v] > l[next]) next = v;
      } else {
        const idx = Array.from(l.keys()).sort((a, b) => l[b] - l[a]).slice(0, o.topK ?? 40);
        const ws = idx.map((v) => Math.exp((l[v] - l[idx[0]]) / (o.temperature ?? 1)));
        let r = rand() * ws.reduce((a, b) => a + b, 0);
        next = idx[idx.length - 1];
        for (let j = 0; j < idx.length; j++) { r -= ws[j]; if (r <= 0) { next = idx[j]; break; } }
      }
      if (stop.has(next)) break;
      out.push(next);
      o.onToken?.(next);
      input = [next];
    }
  } finally {
    model.disposeCache(cache);
  }
  return out;
}
