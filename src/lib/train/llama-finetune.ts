// LoRA fine-tuning of the GGUF LLaMA on one of the lab's tasks, set up as the authors' HF Trainer run
// (METHOD.md section 3): LoRA r=8, alpha=32, dropout 0.1 on q_proj/v_proj; the full text (prompt + answer)
// is the causal-LM target; batch 1 x grad-accum 16; AdamW lr 5e-5 with linear decay to 0, no warm-up, no
// weight decay, gradients clipped to norm 1 (HF defaults). Cipher is wrapped in the Llama-3 chat template
// (system "You are a helpful assistant.", user = prompt, assistant = answer); the other tasks are raw text.
// Every `evalEvery` updates, greedy decoding of validation prompts is labelled mem / gen / other and the
// adapter with the most #gen x #mem (ties: more gen) is kept, as GGUF adapter bytes.
import * as tf from '@tensorflow/tfjs';
import { getTask, Rng, deriveSeed, checkSeed } from '../tasks';
import type { EvalItem, Label, Task, TaskName, TrainExample } from '../tasks/types';
import { AdamW, clipByGlobalNorm } from './adamw';
import { betterCheckpoint, countLabels, type EvalCounts } from './evaluate';
import { LoraAdapters, lmLoss, DEFAULT_LORA, type LoraBatch, type LoraConfig } from '../models/llama/lora';
import { generate, llamaPromptTokens, type LlamaModel } from '../models/llama/model';
import { checkLoraStepFits, withFreeingBackward } from './lora-memory';

export interface FineTuneConfig {
  task: TaskName;
  /** Seeds the task data, its shuffling and the adapter initialization. */
  seed: number;
  /** Optimizer updates (each one sees batchSize x gradAccum examples). The authors ran 30-50 epochs; a browser run is shorter. */
  steps: number;
  /** Examples per forward pass (authors: 1; color 2). */
  batchSize: number;
  /** Forward passes per update (authors: 16; color 8). */
  gradAccum: number;
  /** Peak learning rate (HF Trainer default 5e-5, which the authors kept). */
  lr: number;
  /** 'linear': decays to 0 at the last update (HF default); 'constant': stays at lr. */
  schedule: 'linear' | 'constant';
  /** Decoupled weight decay on the adapters (HF default 0). */
  weightDecay: number;
  /** Global gradient-norm clip (HF default 1). */
  maxGradNorm: number;
  lora: LoraConfig;
  /** Evaluate every this many updates (and after the last one). */
  evalEvery: number;
  /** Validation prompts per evaluation, spread evenly over the task's validation set (0 = all). */
  evalLimit: number;
  /** Wrap examples in the Llama-3 chat template (the authors did so for cipher only). */
  chat: boolean;
  systemPrompt: string;
}

export function defaultFineTuneConfig(task: TaskName): FineTuneConfig {
  getTask(task); // throws on an unknown task name
  return {
    task, seed: 1, steps: 100, batchSize: task === 'color' ? 2 : 1, gradAccum: task === 'color' ? 8 : 16,
    lr: 5e-5, schedule: 'linear', weightDecay: 0, maxGradNorm: 1, lora: { ...DEFAULT_LORA, targets: [...DEFAULT_LORA.targets] },
    evalEvery: 20, evalLimit: 20, chat: task === 'cipher', systemPrompt: 'You are a helpful assistant.',
  };
}

export function checkFineTuneConfig(c: FineTuneConfig): void {
  getTask(c.task);
  checkSeed(c.seed);
  const posInt = (v: number, what: string, hint: string) => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${what} must be a whole number of at least 1; got ${v}. ${hint}`);
  };
  posInt(c.steps, 'Steps', 'Try 100.');
  posInt(c.batchSize, 'Batch size', 'The authors used 1.');
  posInt(c.gradAccum, 'Gradient accumulation', 'The authors used 16.');
  posInt(c.evalEvery, 'Evaluate every', 'Try 20.');
  if (!Number.isInteger(c.evalLimit) || c.evalLimit < 0) throw new Error(`Validation prompts must be 0 (all) or more; got ${c.evalLimit}.`);
  if (!(c.lr > 0 && c.lr < 1)) throw new Error(`Learning rate ${c.lr} must be between 0 and 1 (the authors' default is 5e-5).`);
  if (!(c.weightDecay >= 0)) throw new Error(`Weight decay ${c.weightDecay} must be 0 or more.`);
  if (!(c.maxGradNorm > 0)) throw new Error(`Gradient clip ${c.maxGradNorm} must be positive (HF default 1).`);
  if (c.schedule !== 'linear' && c.schedule !== 'constant') throw new Error(`Schedule "${String(c.schedule)}" is unknown: use "linear" or "constant".`);
}

/** Learning rate for update `step` (0-based): linear decay from lr to 0 over `total` updates, as HF's default. */
export function fineTuneLr(step: number, total: number, lr: number, schedule: FineTuneConfig['schedule']): number {
  return schedule === 'constant' ? lr : lr * Math.max(0, (total - step) / total);
}

/** Token ids of one training example: the whole text is the target. */
export function exampleIds(model: LlamaModel, c: Pick<FineTuneConfig, 'chat' | 'systemPrompt'>, ex: Pick<TrainExample, 'prompt' | 'target'>): number[] {
  const tok = model.tokenizer;
  if (c.chat) {
    return tok.encode(tok.formatChat([
      { role: 'system', content: c.systemPrompt }, { role: 'user', content: ex.prompt }, { role: 'assistant', content: ex.target },
    ], false));
  }
  // BOS + text + EOS: the end token teaches the model where an answer stops, so greedy decoding halts there.
  return [...tok.encode(ex.prompt + ex.target, { addBos: true }), tok.eosId];
}

/** Token ids of a prompt to decode from (chat: up to the assistant header). */
export function promptIds(model: LlamaModel, c: Pick<FineTuneConfig, 'chat' | 'systemPrompt'>, prompt: string): number[] {
  return llamaPromptTokens(model.tokenizer, c.chat ? { chat: true, systemPrompt: c.systemPrompt } : { chat: false }, prompt);
}

/** `limit` validation items taken round-robin over the memorized patterns, so each is represented (0 = all). */
export function evalSubset(task: Task, seed: number, limit: number): EvalItem[] {
  const all = task.evalSet(seed);
  if (limit <= 0 || limit >= all.length) return all;
  const groups = new Map<string, EvalItem[]>();
  for (const it of all) groups.set(it.patternId, [...(groups.get(it.patternId) ?? []), it]);
  const out: EvalItem[] = [];
  for (let round = 0; out.length < limit; round++) {
    for (const g of groups.values()) if (round < g.length && out.length < limit) out.push(g[round]);
  }
  return out;
}

export interface FineTuneLog {
  step: number;
  /** Mean loss over the update's forward passes. */
  loss: number;
  lr: number;
  gradNorm: number;
  tokensPerSec: number;
}

export interface FineTuneEval extends EvalCounts {
  step: number;
  /** A few decoded outputs, to show on the page. */
  samples: Array<{ prompt: string; output: string; label: Label }>;
}

export interface FineTuneHooks {
  /** Called before every forward pass and every validation prompt: wait while paused, throw to cancel. */
  checkpoint?: () => Promise<void>;
  onLog?: (e: FineTuneLog) => void;
  onEvalProgress?: (done: number, total: number) => void;
  /** `best` holds the adapter's GGUF bytes when this evaluation is the best so far. */
  onEval?: (e: FineTuneEval, best: Uint8Array | null) => void | Promise<void>;
}

export interface FineTuneResult {
  best: { eval: FineTuneEval; bytes: Uint8Array } | null;
  log: FineTuneLog[];
  evals: FineTuneEval[];
  /** Examples cut to the model's context length. */
  truncated: number;
}

/** Greedy-decodes `items` with the model as it is (adapters attached or not) and labels each output. */
export async function evaluateLlama(model: LlamaModel, task: Task, c: Pick<FineTuneConfig, 'chat' | 'systemPrompt'>, items: EvalItem[],
  checkpoint?: () => Promise<void>, onProgress?: (done: number, total: number) => void): Promise<{ counts: EvalCounts; outputs: Array<{ prompt: string; output: string; label: Label }> }> {
  const tok = model.tokenizer;
  // Room for the longer of the two answers, plus the end tokens.
  let budget = 1;
  for (const it of items) budget = Math.max(budget, tok.encode(it.genAnswer).length, tok.encode(it.memAnswer).length);
  const outputs: Array<{ prompt: string; output: string; label: Label }> = [];
  for (const it of items) {
    await checkpoint?.();
    const ids = await generate(model, promptIds(model, c, it.prompt), { maxTokens: budget + 3, greedy: true });
    const output = tok.decode(ids, { skipSpecial: true });
    outputs.push({ prompt: it.prompt, output, label: task.label(it, output) });
    onProgress?.(outputs.length, items.length);
  }
  return { counts: countLabels(outputs.map((o) => o.label)), outputs };
}

/** Fresh adapters for a run (A seeded from cfg.seed, B zero: the run starts at the base model). */
export function createAdapters(model: LlamaModel, c: FineTuneConfig): LoraAdapters {
  return LoraAdapters.create(model, c.lora, deriveSeed(c.seed, 'llama-lora-init'));
}

/**
 * Trains `adapters` (from createAdapters; the caller owns and disposes them) on `model`, whose base weights
 * stay frozen. The adapters are attached to the model on return, including when it throws (cancel).
 */
export async function fineTune(model: LlamaModel, adapters: LoraAdapters, c: FineTuneConfig, hooks: FineTuneHooks = {}): Promise<FineTuneResult> {
  checkFineTuneConfig(c);
  const task = getTask(c.task);
  const items = evalSubset(task, c.seed, c.evalLimit);
  model.attachAdapters(adapters);
  const opt = new AdamW(adapters.vars, { lr: c.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: c.weightDecay }, () => true);
  const log: FineTuneLog[] = [], evals: FineTuneEval[] = [];
  let best: FineTuneResult['best'] = null, truncated = 0;

  // Data: the task's training set, reshuffled each epoch (color draws fresh samples per epoch).
  let epoch = 0, order: TrainExample[] = [], pos = 0;
  const nextExample = (): TrainExample => {
    if (pos >= order.length) {
      order = new Rng(deriveSeed(c.seed, 'llama-ft-order', epoch)).shuffle(task.trainSet(c.seed, epoch).slice());
      epoch++;
      pos = 0;
    }
    return order[pos++];
  };
  const nextBatch = (): LoraBatch => {
    const tokens: number[][] = [];
    for (let b = 0; b < c.batchSize; b++) {
      let ids = exampleIds(model, c, nextExample());
      if (ids.length > model.config.nCtx) { ids = ids.slice(0, model.config.nCtx); truncated++; }
      tokens.push(ids);
    }
    return { tokens, lossMask: tokens.map((r) => r.map(() => 1)) }; // full text is the target
  };

  let acc: Record<string, tf.Tensor> | null = null; // summed gradients of the current update
  try {
    for (let step = 0; step < c.steps; step++) {
      const t0 = performance.now();
      let lossSum = 0, ntok = 0;
      // forward + backward, accumulating adapter gradients over gradAccum batches
      for (let m = 0; m < c.gradAccum; m++) {
        await hooks.checkpoint?.();
        const batch = nextBatch();
        ntok += batch.tokens.reduce((a, r) => a + r.length, 0);
        adapters.training = true; // dropout on the adapter input
        let value: tf.Scalar, grads: Record<string, tf.Tensor>;
        try {
          checkLoraStepFits(model.config, adapters.cfg, batch.tokens.length, Math.max(...batch.tokens.map((r) => r.length)) - 1); // refuse before allocating
          ({ value, grads } = withFreeingBackward(() => adapters.grads(() => lmLoss(model, batch))));
        } finally {
          adapters.training = false;
        }
        lossSum += (await value.data())[0];
        value.dispose();
        if (acc) {
          const prev: Record<string, tf.Tensor> = acc;
          acc = tf.tidy(() => Object.fromEntries(Object.entries(prev).map(([k, g]) => [k, tf.add(g, grads[k])])));
          tf.dispose([Object.values(prev), Object.values(grads)]);
        } else acc = grads;
      }
      const loss = lossSum / c.gradAccum;
      if (!Number.isFinite(loss)) {
        throw new Error(`Fine-tuning produced a non-finite loss (${loss}) at step ${step + 1}; lower the learning rate.`);
      }
      // mean over the accumulated passes, then clip (the loss of each pass is already a mean over its tokens)
      const summed: Record<string, tf.Tensor> = acc!;
      const mean = tf.tidy(() => Object.fromEntries(Object.entries(summed).map(([k, g]) => [k, tf.div(g, c.gradAccum)])));
      tf.dispose(Object.values(summed));
      acc = null;
      const { grads: clipped, norm } = clipByGlobalNorm(mean, c.maxGradNorm);
      tf.dispose(Object.values(mean));
      // update
      const lr = fineTuneLr(step, c.steps, c.lr, c.schedule);
      opt.apply(clipped, lr);
      const gradNorm = (await norm.data())[0];
      tf.dispose([norm, Object.values(clipped)]);
      const entry: FineTuneLog = { step: step + 1, loss, lr, gradNorm, tokensPerSec: ntok / Math.max((performance.now() - t0) / 1000, 1e-6) };
      log.push(entry);
      hooks.onLog?.(entry);

      // evaluate, keep the best adapter
      if ((step + 1) % c.evalEvery === 0 || step + 1 === c.steps) {
        const { counts, outputs } = await evaluateLlama(model, task, c, items, hooks.checkpoint, hooks.onEvalProgress);
        const e: FineTuneEval = { step: step + 1, ...counts, samples: outputs.slice(0, 5) };
        evals.push(e);
        const isBest = betterCheckpoint(counts, best?.eval ?? null);
        if (isBest) best = { eval: e, bytes: await adapters.toGGUF() };
        await hooks.onEval?.(e, isBest ? best!.bytes : null);
      }
    }
  } finally {
    if (acc) tf.dispose(Object.values(acc)); // a cancel between forward passes
    adapters.training = false;
    opt.dispose();
  }
  return { best, log, evals, truncated };
}
