// GPT-2 configuration and presets. A config is plain data: it travels in checkpoints and URLs.

export interface GPT2Config {
  /** Transformer blocks (L). */
  nLayer: number;
  /** Attention heads (NH); dModel / nHead is the head size HS. */
  nHead: number;
  /** Residual width (C). The MLP is 4C wide, as in GPT-2. */
  dModel: number;
  /** Longest sequence (learned positions). Set from the task's longest example. */
  nCtx: number;
  /** Vocabulary (V), from the task tokenizer. */
  vocabSize: number;
  /** LayerNorm epsilon; GPT-2 uses 1e-5. */
  eps: number;
}

export type PresetName = 'tiny' | 'classroom' | 'gpt2-small';

/** Shapes only; nCtx and vocabSize come from the task. How long a preset takes is measured on the device (Train page). */
export const PRESETS: Record<PresetName, Pick<GPT2Config, 'nLayer' | 'nHead' | 'dModel'> & { about: string }> = {
  // 2 x 64 learns the cipher task on a 2-core CPU (wasm) in about ten minutes and shows both behaviors.
  tiny: { nLayer: 2, nHead: 2, dModel: 64, about: '2 layers x 64 wide, ~0.1M parameters' },
  // ~10.7M parameters in the blocks: minutes on a laptop GPU.
  classroom: { nLayer: 6, nHead: 6, dModel: 384, about: '6 layers x 384 wide, ~10.7M parameters' },
  // GPT-2 small's shape (124M with GPT-2's 50,257-token vocabulary; fewer with a task tokenizer).
  'gpt2-small': { nLayer: 12, nHead: 12, dModel: 768, about: '12 layers x 768 wide, the paper scale' },
};

export function presetConfig(name: PresetName, vocabSize: number, nCtx: number): GPT2Config {
  const p = PRESETS[name];
  if (!p) throw new Error(`Unknown preset "${name}": choose one of ${Object.keys(PRESETS).join(', ')}.`);
  return validateConfig({ nLayer: p.nLayer, nHead: p.nHead, dModel: p.dModel, nCtx, vocabSize, eps: 1e-5 });
}

/** Refuses configs that cannot work, saying why. Returns the config unchanged when it is fine. */
export function validateConfig(c: GPT2Config): GPT2Config {
  const problems: string[] = [];
  const posInt = (k: keyof GPT2Config, max: number) => {
    const v = c[k];
    if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > max)
      problems.push(`${k} must be a whole number from 1 to ${max} (got ${String(v)})`);
  };
  posInt('nLayer', 96);
  posInt('nHead', 128);
  posInt('dModel', 16384);
  posInt('nCtx', 8192);
  posInt('vocabSize', 1_000_000);
  if (Number.isInteger(c.dModel) && Number.isInteger(c.nHead) && c.nHead > 0 && c.dModel % c.nHead !== 0)
    problems.push(`dModel (${c.dModel}) must be divisible by nHead (${c.nHead}) so every head has the same size`);
  if (!(c.eps > 0 && c.eps < 1)) problems.push(`eps must be between 0 and 1 (got ${c.eps})`);
  if (problems.length) throw new Error(`Invalid GPT-2 config: ${problems.join('; ')}.`);
  return c;
}

/** Parameter count (weights + biases + embeddings; tied output). */
export function countParams(c: GPT2Config): number {
  const C = c.dModel;
  const block = 2 * 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * 4 * C + 4 * C) + (4 * C * C + C);
  return c.vocabSize * C + c.nCtx * C + c.nLayer * block + 2 * C;
}

/** Forward FLOPs per token (matmuls only, 2 per multiply-add), with attention over T tokens. */
export function flopsPerToken(c: GPT2Config, T: number): number {
  const C = c.dModel;
  const perLayer = 2 * (C * 3 * C + C * C + 8 * C * C) + 2 * 2 * T * C; // projections + QK^T and AV
  return c.nLayer * perLayer + 2 * C * c.vocabSize;
}
