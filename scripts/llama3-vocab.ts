// The real LLaMA-3 vocabulary (128,000 byte-level BPE tokens + 256 special tokens, 280,147 merges) from the
// `llama3-tokenizer-js` dev dependency, as GGUF's tokenizer.ggml.* arrays: for the full-size bench file
// (scripts/bench-llama-full.ts) and as the oracle of tests/unit/llama3-tokenizer.test.ts.
import llama3 from 'llama3-tokenizer-js';

export interface Llama3Vocab { tokens: string[]; types: number[]; merges: string[]; bos: number; eos: number; eot: number }

export function llama3Vocab(): Llama3Vocab {
  const tokens = [...llama3.vocabById];
  // the package keeps its merges as a Map from "left right" to priority, in priority order
  const merges = [...llama3.merges.keys()];
  const types = tokens.map((_, i) => (i >= 128000 ? 3 : 1)); // CONTROL for the special tokens, as llama.cpp writes them
  return { tokens, types, merges, bos: 128000, eos: 128001, eot: 128009 };
}

/** The package's own encoder (no BOS/EOS): the reference a test compares with. */
export function llama3Encode(text: string): number[] {
  return llama3.encode(text, { bos: false, eos: false });
}
