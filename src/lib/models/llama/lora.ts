// LoRA adapters for the GGUF LLaMA (Hu et al. 2021; PEFT defaults): for a target projection W (N x K),
//   y = x W^T + (alpha / r) * dropout(x) A^T B^T,   A (r x K) ~ U(-1/sqrt(K), 1/sqrt(K)), B (N x r) = 0,
// so training starts at the base model. The base weights stay frozen (they are not tf.Variables at all).
// File format: a GGUF adapter as llama.cpp's LoRA loader reads it (general.type = "adapter",
// adapter.type = "lora", adapter.lora.alpha; tensors "<base>.weight.lora_a" ggml dims [K, r] and
// "<base>.weight.lora_b" ggml dims [r, N], F32), plus memgen.lora.{r,dropout,targets} for resuming here.
import * as tf from '@tensorflow/tfjs';
import { GGUFError, parseGGUF, metaNumber } from '../../gguf/reader';
import { checkFiniteTensor } from '../../gguf/finite';
import { writeGGUF, type GGUFWriteTensor } from '../../gguf/writer';
import { dequantize, quantize } from '../../gguf/quant';
import type { LlamaModel } from './model';
import type { LinearAdapter } from '../types';

/** HF module names -> GGUF tensor names. */
import { mulberry32 } from '../../util/rng';
export const LORA_TARGETS = {
  q_proj: 'attn_q', k_proj: 'attn_k', v_proj: 'attn_v', o_proj: 'attn_output',
  gate_proj: 'ffn_gate', up_proj: 'ffn_up', down_proj: 'ffn_down',
} as const;
export type LoraTarget = keyof typeof LORA_TARGETS;

export interface LoraConfig {
  /** Rank r of the update. */
  r: number;
  /** Scale numerator: the update is multiplied by alpha / r. */
  alpha: number;
  /** Dropout on the adapter input during training. */
  dropout: number;
  targets: LoraTarget[];
}

export const DEFAULT_LORA: LoraConfig = { r: 8, alpha: 32, dropout: 0.1, targets: ['q_proj', 'v_proj'] };

export class LoraAdapters implements LinearAdapter {
  /** "blk.{i}.attn_q.lora_a" (r, K) and "...lora_b" (N, r). */
  readonly vars: Record<string, tf.Variable> = {};
  /** Dropout is applied only while training. */
  training = false;
  private dropSeed = 0;

  private constructor(readonly cfg: LoraConfig, readonly shapes: Record<string, [number, number]>) {}

  /** Fresh adapters for `model` (A random from `seed`, B zero). */
  static create(model: LlamaModel, cfg: LoraConfig = DEFAULT_LORA, seed = 0): LoraAdapters {
    validate(cfg);
    const rand = mulberry32(seed);
    const a = new LoraAdapters(cfg, {});
    for (let i = 0; i < model.config.nLayer; i++) {
      for (const t of cfg.targets) {
        const base = `blk.${i}.${LORA_TARGETS[t]}`;
        const [N, K] = model.linearShape(base);
        a.shapes[base] = [N, K];
        const bound = 1 / Math.sqrt(K); // kaiming_uniform(a=sqrt(5)) as PEFT
        a.vars[`${base}.lora_a`] = tf.variable(tf.tensor2d(Float32Array.from({ length: cfg.r * K }, () => (2 * rand() - 1) * bound), [cfg.r, K]), true);
        a.vars[`${base}.lora_b`] = tf.variable(tf.zeros([N, cfg.r]), true);
      }
    }
    return a;
  }

  get scale(): number {
    return this.cfg.alpha / this.cfg.r;
  }

  /** The update on one projection; the model calls it (attach with model.attachAdapters(adapters)). */
  apply(name: string, x: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor2D {
    const A = this.vars[`${name}.lora_a`];
    if (!A) return y;
    const B = this.vars[`${name}.lora_b`];
    const xin = this.training && this.cfg.dropout > 0 ? tf.dropout(x, this.cfg.dropout, undefined, this.dropSeed++) : x;
    return tf.add(y, tf.mul(tf.matMul(tf.matMul(xin, A, false, true), B, false, true), this.scale)) as tf.Tensor2D; // (M, N)
  }

  /** Serialize as a llama.cpp-compatible GGUF LoRA adapter. */
  async toGGUF(): Promise<Uint8Array> {
    const tensors: GGUFWriteTensor[] = [];
    for (const [name, v] of Object.entries(this.vars)) {
      const base = name.replace(/\.lora_[ab]$/, '');
      const [rows, cols] = v.shape as [number, number];
      tensors.push({ name: `${base}.weight.${name.slice(-6)}`, dims: [cols, rows], type: 'F32', data: quantize('F32', (await v.data()) as Float32Array) });
    }
    return writeGGUF({
      'general.architecture': { type: 'string', value: 'llama' },
      'general.type': { type: 'string', value: 'adapter' },
      'adapter.type': { type: 'string', value: 'lora' },
      'adapter.lora.alpha': { type: 'f32', value: this.cfg.alpha },
      'memgen.lora.r': { type: 'u32', value: this.cfg.r },
      'memgen.lora.dropout': { type: 'f64', value: this.cfg.dropout },
      'memgen.lora.targets': { type: 'array-string', value: this.cfg.targets },
    }, tensors);
  }

  /** Read adapters written by toGGUF (or by llama.cpp for the same base model). */
  static fromGGUF(bytes: Uint8Array | ArrayBuffer, model: LlamaModel): LoraAdapters {
    const h = parseGGUF(bytes);
    if (h.metadata['general.type'] !== 'adapter' || h.metadata['adapter.type'] !== 'lora') {
      throw new GGUFError('This GGUF is not a LoRA adapter (general.type must be "adapter" and adapter.type "lora").');
    }
    const pairs = h.tensors.filter((t) => t.name.endsWith('.lora_a'));
    if (pairs.length === 0) throw new GGUFError('The adapter file has no lora_a tensors.');
    const r = pairs[0].dims[1];
    const targets = (h.metadata['memgen.lora.targets'] as string[] | undefined) ??
      [...new Set(pairs.map((t) => (Object.entries(LORA_TARGETS).find(([, g]) => t.name.includes(`.${g}.`)) ?? ['?'])[0]))];
    const cfg: LoraConfig = { r, alpha: metaNumber(h, 'adapter.lora.alpha'), dropout: metaNumber(h, 'memgen.lora.dropout', 0), targets: targets as LoraTarget[] };
    validate(cfg);
    const a = new LoraAdapters(cfg, {});
    for (const t of h.tensors) {
      const m = /^(.*)\.weight\.(lora_[ab])$/.exec(t.name);
      if (!m) throw new GGUFError(`Unexpected tensor ${t.name} in a LoRA adapter file.`);
      const [N, K] = model.linearShape(m[1]);
      const want = m[2] === 'lora_a' ? [K, r] : [r, N];
      if (t.dims[0] !== want[0] || t.dims[1] !== want[1]) {
        throw new GGUFError(`Adapter tensor ${t.name} has dims [${t.dims}] but this model needs [${want}]: the adapter was trained for another model.`);
      }
      a.shapes[m[1]] = [N, K];
      const all = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
      const start = h.dataOffset + t.offset;
      checkFiniteTensor(t.name, t.type, all.subarray(start, start + t.nBytes));
      const raw = dequantize(t.type, all.subarray(start, start + t.nBytes), t.nElements);
      a.vars[`${m[1]}.${m[2]}`] = tf.variable(tf.tensor2d(raw, [t.dims[1], t.dims[0]]), true);
    }
    return a;
  }

  /** Value and gradients of f with respect to the adapters, keyed like `vars`. */
  grads(f: () => tf.Scalar): { value: tf.Scalar; grads: Record<string, tf.Tensor> } {
    const { value, grads } = tf.variableGrads(f, Object.values(this.vars));
    return { value, grads: Object.fromEntries(Object.entries(this.vars).map(([k, v]) => [k, grads[v.name]])) };
  }

  dispose(): void {
    for (const v of Object.values(this.vars)) v.dispose();
  }
}

function validate(cfg: LoraConfig): void {
  if (!Number.isInteger(cfg.r) || cfg.r < 1) throw new Error(`LoRA rank r=${cfg.r} must be a positive integer (8 is typical).`);
  if (!(cfg.alpha > 0)) throw new Error(`LoRA alpha=${cfg.alpha} must be positive (the update is scaled by alpha / r).`);
  if (!(cfg.dropout >= 0 && cfg.dropout < 1)) throw new Error(`LoRA dropout=${cfg.dropout} must be in [0, 1).`);
  const bad = cfg.targets.filter((t) => !(t in LORA_TARGETS));
  if (bad.length || cfg.targets.length === 0) throw new Error(`LoRA targets [${bad.join(', ')}] are unknown: choose from ${Object.keys(LORA_TARGETS).join(', ')}.`);
}

/** A batch of right-padded token rows; lossMask[b][t] = 1 where token t is a target (e.g. the answer). */
export interface LoraBatch {
  tokens: number[][];
  lossMask: number[][];
}

/** Mean next-token cross-entropy over masked targets (scalar). */
export function lmLoss(model: LlamaModel, batch: LoraBatch): tf.Scalar {
  const B = batch.tokens.length, T = Math.max(...batch.tokens.map((r) => r.length));
  if (T < 2) throw new Error('lmLoss: every row needs at least 2 tokens (an input and a target).');
  const inp = new Int32Array(B * (T - 1)), tgt = new Int32Array(B * (T - 1)), w = new Float32Array(B * (T - 1));
  batch.tokens.forEach((row, b) => {
    if (batch.lossMask[b]?.length !== row.length) throw new Error(`lmLoss: lossMask row ${b} has ${batch.lossMask[b]?.length} entries for ${row.length} tokens.`);
    for (let t = 0; t + 1 < T; t++) {
      inp[b * (T - 1) + t] = row[t] ?? 0;
      tgt[b * (T - 1) + t] = row[t + 1] ?? 0;
      w[b * (T - 1) + t] = t + 1 < row.length ? batch.lossMask[b][t + 1] : 0;
    }
  });
  const total = w.reduce((a, c) => a + c, 0);
  if (total === 0) throw new Error('lmLoss: the loss mask selects no target tokens.');
  return tf.tidy(() => {
    const logits = model.forward(tf.tensor2d(inp, [B, T - 1], 'int32')); // (B, T-1, V)
    const logp = tf.logSoftmax(logits.reshape([B * (T - 1), -1])); // (B*(T-1), V)
    const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(tgt, 'int32'), model.dims.vocabSize)), -1); // (B*(T-1),)
    return tf.div(tf.neg(tf.sum(tf.mul(picked, tf.tensor1d(w)))), total) as tf.Scalar;
  });
}
