// Bounds on a LLaMA config read from GGUF metadata, checked before anything is sized from it: a 445 KB file
// claiming llama.block_count = 1e8 must be refused here, not after 9 x 1e8 load-plan entries are made.
// Every count must be a whole number within the bounds below, and the block count must match the blk.N tensors
// the file holds exactly (no fewer, no more). Epsilon and RoPE base must be finite and positive (base > 1).
// Every message names the key, what it holds and what to do.
import { GGUFError, type GGUFHeader } from '../../gguf/reader';
import type { LlamaConfig } from './config';

/** Upper bounds, generous beyond any LLaMA release (Llama-3.1-405B: 126 blocks, 16384 wide, 53248 MLP, 128k context). */
export const LLAMA_BOUNDS = {
  nLayer: 1024, dModel: 65536, dMlp: 262144, nHead: 1024, nHeadKv: 1024, headDim: 1024, vocabSize: 1 << 22, nCtx: 1 << 24,
} as const;

const KEYS: Record<keyof typeof LLAMA_BOUNDS, string> = {
  nLayer: 'llama.block_count', dModel: 'llama.embedding_length', dMlp: 'llama.feed_forward_length',
  nHead: 'llama.attention.head_count', nHeadKv: 'llama.attention.head_count_kv', headDim: 'llama.attention.key_length',
  vocabSize: 'token_embd.weight rows', nCtx: 'llama.context_length',
};

const FIX = 'The file is damaged or was written by a broken converter: re-convert the model with llama.cpp.';

export function checkLlamaConfig(h: GGUFHeader, c: LlamaConfig): void {
  for (const k of Object.keys(LLAMA_BOUNDS) as (keyof typeof LLAMA_BOUNDS)[]) {
    const v = c[k];
    if (!Number.isInteger(v) || v < 1 || v > LLAMA_BOUNDS[k]) {
      throw new GGUFError(`${KEYS[k]} is ${String(v)}: it must be a whole number from 1 to ${LLAMA_BOUNDS[k]}. ${FIX}`);
    }
  }
  // The blocks the file holds: blk.0 ... blk.(n-1), each needs its tensors. Counted from names, so no
  // allocation grows with the metadata's claim.
  let maxBlock = -1;
  const blocks = new Set<number>();
  for (const t of h.tensors) {
    const m = /^blk\.(\d{1,9})\./.exec(t.name);
    if (!m) continue;
    const i = Number(m[1]);
    blocks.add(i);
    if (i > maxBlock) maxBlock = i;
  }
  if (c.nLayer > blocks.size) {
    throw new GGUFError(`llama.block_count is ${c.nLayer} but the file holds tensors for ${blocks.size} block(s). ${FIX}`);
  }
  if (maxBlock >= c.nLayer) {
    throw new GGUFError(`llama.block_count is ${c.nLayer} but the file holds tensors for block ${maxBlock} (blocks 0..${maxBlock}): it says fewer blocks than the file holds. ${FIX}`);
  }
  if (!(Number.isFinite(c.normEps) && c.normEps > 0 && c.normEps < 1)) {
    throw new GGUFError(`llama.attention.layer_norm_rms_epsilon is ${c.normEps}: it must be between 0 and 1 (LLaMA uses 1e-5). ${FIX}`);
  }
  if (!(Number.isFinite(c.ropeBase) && c.ropeBase > 1)) {
    throw new GGUFError(`llama.rope.freq_base is ${c.ropeBase}: it must be a finite number above 1 (LLaMA-3 uses 500000). ${FIX}`);
  }
}
