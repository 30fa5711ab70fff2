// How much GPU memory a GPT-2 training step needs, and whether it fits a device's limits. WebGPU does not say
// how much memory a GPU has, but it does cap each buffer (maxStorageBufferBindingSize, maxBufferSize): a step
// whose largest tensor is over that cap cannot run at all, so it is refused before anything is allocated, with
// the largest batch that fits. Running out of the GPU's total memory is caught at run time (see training.ts).
import { countParams, type GPT2Config } from '../models/gpt2/config';

export interface TrainFootprint {
  params: number;
  /** Weights, gradients and the two AdamW moments (f32). */
  stateBytes: number;
  /** Activations kept for the backward pass of one micro-batch (an upper estimate). */
  activationBytes: number;
  totalBytes: number;
  /** The largest single tensor of a step: what must fit one GPU buffer. */
  largest: { name: string; bytes: number };
}

export function trainFootprint(c: GPT2Config, batch: number, T = c.nCtx): TrainFootprint {
  const C = c.dModel, V = c.vocabSize, H = c.nHead, L = c.nLayer;
  const params = countParams(c);
  const f = 4;
  const bt = batch * T;
  const tensors: Array<[string, number]> = [
    ['logits (batch x context x vocabulary)', bt * V * f],
    ['attention scores (batch x heads x context x context)', batch * H * T * T * f],
    ['MLP hidden (batch x context x 4 x width)', bt * 4 * C * f],
    ['token embedding (vocabulary x width)', V * C * f],
    ['MLP weight (width x 4 x width)', 4 * C * C * f],
  ];
  const largest = tensors.reduce((m, t) => (t[1] > m[1] ? t : m));
  // per block: ln1, qkv (3C), attention out, residual, ln2, MLP pre and post (8C) ... about 16C per token,
  // plus the attention probabilities; then the logits and their gradient
  const activationBytes = L * (bt * 16 * C * f + batch * H * T * T * f) + 2 * bt * V * f;
  const stateBytes = 4 * params * f;
  return { params, stateBytes, activationBytes, totalBytes: stateBytes + activationBytes, largest: { name: largest[0], bytes: largest[1] } };
}

/** The largest micro-batch whose biggest tensor fits `maxBytes` (0 when even one example does not). */
export function largestBatchThatFits(c: GPT2Config, maxBytes: number, T = c.nCtx): number {
  if (trainFootprint(c, 1, T).largest.bytes > maxBytes) return 0;
  let lo = 1, hi = 1;
  while (hi < 1 << 24 && trainFootprint(c, hi * 2, T).largest.bytes <= maxBytes) hi *= 2;
  hi *= 2;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (trainFootprint(c, mid, T).largest.bytes <= maxBytes) lo = mid;
    else hi = mid;
  }
  return lo;
}

export class TooLargeForDeviceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TooLargeForDeviceError';
  }
}

const mb = (b: number) => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(1)} GB` : `${(b / 2 ** 20).toFixed(1)} MB`);

/**
 * Refuses a training setting whose largest tensor is over the device's buffer cap, naming the tensor, the
 * cap, and the largest batch that fits (with gradient accumulation to keep the effective batch).
 */
export function checkTrainFits(c: GPT2Config, batch: number, gradAccum: number, limits: Record<string, number>, preset = ''): TrainFootprint {
  const fp = trainFootprint(c, batch);
  const cap = Math.min(limits.maxStorageBufferBindingSize ?? Infinity, limits.maxBufferSize ?? Infinity);
  if (fp.largest.bytes <= cap) return fp;
  const fits = largestBatchThatFits(c, cap);
  const what = preset ? `preset ${preset}` : `this model`;
  const fix = fits > 0
    ? `The largest batch that fits is ${fits}: set batch ${fits} with gradient accumulation ${Math.ceil((batch * gradAccum) / fits)} to keep an effective batch of about ${batch * gradAccum}.`
    : 'Even one example does not fit: choose a smaller preset.';
  throw new TooLargeForDeviceError(
    `Batch ${batch} on ${what} needs a ${mb(fp.largest.bytes)} buffer for the ${fp.largest.name}, but this GPU allows at most ${mb(cap)} per buffer ` +
      `(maxStorageBufferBindingSize). Nothing was allocated. ${fix}`,
  );
}

/** The advice after the GPU ran out of memory mid-run: half the micro-batch, twice the accumulation. */
export function outOfMemoryAdvice(c: GPT2Config, batch: number, gradAccum: number, preset: string): { batchSize: number; gradAccum: number; text: string } {
  const fp = trainFootprint(c, batch);
  if (batch <= 1) return { batchSize: 1, gradAccum, text: `Even batch 1 on preset ${preset} (about ${mb(fp.totalBytes)}) did not fit: choose a smaller preset, or close other tabs using the GPU.` };
  const b = Math.max(1, Math.floor(batch / 2));
  const ga = Math.ceil((batch * gradAccum) / b);
  return {
    batchSize: b, gradAccum: ga,
    text: `Batch ${batch} on preset ${preset} needs about ${mb(fp.totalBytes)} of GPU memory (${mb(fp.stateBytes)} of weights and optimizer state, ${mb(fp.activationBytes)} of activations). ` +
      `Resume with batch ${b} and gradient accumulation ${ga} (the same effective batch, about ${mb(trainFootprint(c, b).totalBytes)}), or close other tabs using the GPU.`,
  };
}
