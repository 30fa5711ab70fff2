// LLaMA configuration read from GGUF metadata (keys as llama.cpp's converter writes them, prefix "llama.").
import { GGUFError, findTensor, metaNumber, metaString, type GGUFHeader } from '../../gguf/reader';
import { checkLlamaConfig } from './validate';

export interface LlamaConfig {
  /** Blocks (llama.block_count). */
  nLayer: number;
  /** Residual width C (llama.embedding_length). */
  dModel: number;
  /** SwiGLU hidden width (llama.feed_forward_length). */
  dMlp: number;
  /** Query heads NH (llama.attention.head_count). */
  nHead: number;
  /** Key/value heads (GQA; llama.attention.head_count_kv, defaults to nHead). */
  nHeadKv: number;
  /** Head size HS = C / NH unless llama.attention.key_length says otherwise. */
  headDim: number;
  vocabSize: number;
  /** Longest context (llama.context_length). */
  nCtx: number;
  /** RoPE base theta (llama.rope.freq_base; LLaMA-3 uses 500000). */
  ropeBase: number;
  /** RMSNorm epsilon (llama.attention.layer_norm_rms_epsilon). */
  normEps: number;
  /** True when there is no output.weight: the output projection reuses token_embd. */
  tiedOutput: boolean;
  /** True when a rope_freqs tensor (LLaMA-3.1/3.2 frequency scaling) divides the rotation frequencies. */
  hasRopeFreqs: boolean;
  /** Rotated dimensions of each head (llama.rope.dimension_count, default the head size); the rest pass through. */
  ropeDims: number;
  /** Position scale of the rotation (1 / llama.rope.scaling.factor; 1 without scaling), as llama.cpp's freq_scale. */
  ropeFreqScale: number;
}

/** RoPE scaling types this loader computes as llama.cpp does. */
export const SUPPORTED_ROPE_SCALING = ['none', 'linear'] as const;

/**
 * llama.rope.* as llama.cpp reads it: the type defaults to linear, the factor comes from rope.scaling.factor
 * (or the older rope.scale_linear) and scales positions by 1/factor for none and linear alike; rope_freqs
 * (LLaMA-3.1/3.2) divides the frequencies on top. Other types (yarn, longrope...) are refused by name.
 */
function ropeFromGGUF(h: GGUFHeader, headDim: number): { ropeDims: number; ropeFreqScale: number } {
  const ropeDims = metaNumber(h, 'llama.rope.dimension_count', headDim);
  if (!Number.isInteger(ropeDims) || ropeDims < 2 || ropeDims % 2 !== 0 || ropeDims > headDim) {
    throw new GGUFError(`llama.rope.dimension_count ${ropeDims} must be an even whole number from 2 to the head size ${headDim}.`);
  }
  const type = metaString(h, 'llama.rope.scaling.type', 'linear');
  if (!(SUPPORTED_ROPE_SCALING as readonly string[]).includes(type)) {
    throw new GGUFError(`llama.rope.scaling.type is "${type}": this loader computes RoPE scaling ${SUPPORTED_ROPE_SCALING.map((t) => `"${t}"`).join(' and ')} (plus LLaMA-3.x rope_freqs) only, so it would give wrong logits for this file. Use a file converted without "${type}" scaling.`);
  }
  const key = h.metadata['llama.rope.scaling.factor'] !== undefined ? 'llama.rope.scaling.factor' : 'llama.rope.scale_linear';
  const factor = metaNumber(h, key, 0);
  if (!Number.isFinite(factor) || factor < 0) throw new GGUFError(`${key} ${factor} must be a positive number (or 0 for none).`);
  return { ropeDims, ropeFreqScale: factor === 0 ? 1 : 1 / factor };
}

export function configFromGGUF(h: GGUFHeader): LlamaConfig {
  const arch = metaString(h, 'general.architecture');
  if (arch !== 'llama') throw new GGUFError(`general.architecture is "${arch}": this loader handles "llama" (LLaMA-2/3, 3.1, 3.2) only.`);
  const nHead = metaNumber(h, 'llama.attention.head_count');
  const dModel = metaNumber(h, 'llama.embedding_length');
  const c: LlamaConfig = {
    nLayer: metaNumber(h, 'llama.block_count'),
    dModel,
    dMlp: metaNumber(h, 'llama.feed_forward_length'),
    nHead,
    nHeadKv: metaNumber(h, 'llama.attention.head_count_kv', nHead),
    headDim: metaNumber(h, 'llama.attention.key_length', dModel / nHead),
    vocabSize: findTensor(h, 'token_embd.weight').dims[1],
    nCtx: metaNumber(h, 'llama.context_length'),
    ropeBase: metaNumber(h, 'llama.rope.freq_base', 10000),
    normEps: metaNumber(h, 'llama.attention.layer_norm_rms_epsilon', 1e-5),
    tiedOutput: !h.tensors.some((t) => t.name === 'output.weight'),
    hasRopeFreqs: h.tensors.some((t) => t.name === 'rope_freqs.weight'),
    ropeDims: 0,
    ropeFreqScale: 1,
  };
  if (!Number.isInteger(c.headDim) || c.headDim % 2 !== 0) throw new GGUFError(`head size ${c.headDim} must be an even integer (embedding_length / head_count).`);
  Object.assign(c, ropeFromGGUF(h, c.headDim));
  if (c.nHead % c.nHeadKv !== 0) throw new GGUFError(`head_count ${c.nHead} is not a multiple of head_count_kv ${c.nHeadKv}.`);
  const v = metaNumber(h, 'llama.vocab_size', c.vocabSize);
  if (v !== c.vocabSize) throw new GGUFError(`llama.vocab_size ${v} differs from token_embd rows ${c.vocabSize}.`);
  checkLlamaConfig(h, c); // bounds and block count before anything is sized from them
  return c;
}

export interface Llama3RopeScaling {
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalContext: number;
}

/**
 * LLaMA-3.1 frequency factors, one per rotated pair (HS/2), as llama.cpp's converter writes rope_freqs:
 * long wavelengths are slowed by `factor`, short ones kept, and the band between is interpolated.
 */
export function llama3RopeFactors(headDim: number, base: number, s: Llama3RopeScaling): Float32Array {
  const lowWave = s.originalContext / s.lowFreqFactor;
  const highWave = s.originalContext / s.highFreqFactor;
  const out = new Float32Array(headDim / 2);
  for (let i = 0; i < headDim / 2; i++) {
    const freq = 1 / Math.pow(base, (2 * i) / headDim);
    const wave = (2 * Math.PI) / freq;
    if (wave < highWave) out[i] = 1;
    else if (wave > lowWave) out[i] = s.factor;
    else {
      const smooth = (s.originalContext / wave - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / s.factor + smooth);
    }
  }
  return out;
}
