// One LoRA training step on a LLaMA: the trainer's side of the adapters (the model file knows no optimizer).
import * as tf from '@tensorflow/tfjs';
import { AdamW, type AdamWConfig } from './adamw';
import { lmLoss, type LoraAdapters, type LoraBatch } from '../models/llama/lora';
import type { LlamaModel } from '../models/llama/model';
import { checkLoraStepFits, withFreeingBackward } from './lora-memory';

export const DEFAULT_LORA_ADAMW: AdamWConfig = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

export function loraOptimizer(a: LoraAdapters, cfg: AdamWConfig = DEFAULT_LORA_ADAMW): AdamW {
  return new AdamW(a.vars, cfg, () => true);
}

/** One step: forward + loss, backward to the adapters only, AdamW update. Returns the loss before the update. */
export async function loraTrainStep(model: LlamaModel, a: LoraAdapters, opt: AdamW, batch: LoraBatch, lr: number): Promise<number> {
  model.attachAdapters(a);
  a.training = true;
  try {
    // forward + backward: gradients only for the adapter variables (the base is not a variable).
    checkLoraStepFits(model.config, a.cfg, batch.tokens.length, Math.max(...batch.tokens.map((r) => r.length)) - 1);
    const { value, grads } = withFreeingBackward(() => a.grads(() => lmLoss(model, batch)));
    // update
    opt.apply(grads, lr);
    const loss = (await value.data())[0];
    value.dispose();
    tf.dispose(grads);
    if (!Number.isFinite(loss)) throw new Error(`LoRA step produced a non-finite loss (${loss}); lower the learning rate.`);
    return loss;
  } finally {
    a.training = false;
  }
}
