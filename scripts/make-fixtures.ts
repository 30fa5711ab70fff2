// Writes the tiny LLaMA GGUF fixtures (random weights, a small byte-level BPE vocabulary) to tests/fixtures/.
// Run: npx tsx scripts/make-fixtures.ts. Deterministic (seeded), so re-running gives identical files.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeGGUF, type GGUFWriteTensor, type GGUFWriteValue } from '../src/lib/gguf/writer';
import { quantize } from '../src/lib/gguf/quant';
import type { QuantType } from '../src/lib/gguf/types';
import { byteToUnicode } from '../src/lib/models/llama/tokenizer';
import { llama3RopeFactors } from '../src/lib/models/llama/config';
import { mulberry32, normalSampler } from '../src/lib/util/rng';

/** 256 byte tokens, a few merges, then the Llama-3 special tokens. */
export function tinyVocab(): { tokens: string[]; types: number[]; merges: string[]; bos: number; eos: number } {
  const tokens = byteToUnicode();
  const merges = ['Ġ t', 'h e', 'Ġt he', 'i n', 'e r', 'a n', 'Ġ a', 'o n', 'r e', 'Ġ s', 'Ċ Ċ', '1 2', 'Ġ =', 'a s', 'Ġa n', 'Ġan d', 'u s', 'e r', 'Ġ 1'];
  const uniq = [...new Set(merges)];
  for (const m of uniq) tokens.push(m.replace(' ', ''));
  const types = tokens.map(() => 1);
  const specials = ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'];
  const bos = tokens.length;
  for (const s of specials) { tokens.push(s); types.push(3); }
  return { tokens, types, merges: uniq, bos, eos: bos + 1 };
}

export interface FixtureSpec {
  file: string;
  C: number; FF: number; NH: number; NKV: number; L: number;
  /** Type of each weight by its GGUF role. */
  typeOf: (name: string) => QuantType;
  tied: boolean;
}

/** Variants for tests: extra or replaced metadata, fewer rotated dims, or other rope_freqs values. */
export interface BuildOptions {
  metadata?: Record<string, GGUFWriteValue>;
  /** llama.rope.dimension_count (default the head size); rope_freqs gets ropeDims / 2 values. */
  ropeDims?: number;
  ropeFreqs?: (f: Float32Array) => Float32Array;
}

export function build(spec: FixtureSpec, seed: number, opts: BuildOptions = {}): Uint8Array {
  const rand = mulberry32(seed);
  const normal = normalSampler(rand);
  const v = tinyVocab();
  const V = v.tokens.length, { C, FF, NH, NKV, L } = spec, HS = C / NH;
  const ropeBase = 500000;
  const tensors: GGUFWriteTensor[] = [];
  const add = (name: string, dims: number[], std: number, mean = 0) => {
    const n = dims.reduce((a, b) => a * b, 1);
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = mean + std * normal();
    if (name === 'token_embd.weight' || name === 'output.weight') {
      // Token rows of the bytes 0x80..0xFF (partial UTF-8) are shrunk so a random model never ranks them on top:
      // llama.cpp's server refuses to put invalid UTF-8 into its JSON log-prob answers.
      for (let t = 128; t < 256; t++) for (let c = 0; c < C; c++) x[t * C + c] *= 0.05;
    }
    const type = dims.length === 1 ? 'F32' : spec.typeOf(name); // norms stay F32, as llama.cpp writes them
    tensors.push({ name, dims, type, data: quantize(type, x) });
  };
  // Tied output: a small embedding keeps the logits in a range where several tokens compete (a better test).
  add('token_embd.weight', [C, V], spec.tied ? 0.08 : 1);
  const nRot = opts.ropeDims ?? HS;
  let f = llama3RopeFactors(nRot, ropeBase, { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 });
  if (opts.ropeFreqs) f = opts.ropeFreqs(f);
  tensors.push({ name: 'rope_freqs.weight', dims: [nRot / 2], type: 'F32', data: quantize('F32', f) });
  for (let i = 0; i < L; i++) {
    const b = `blk.${i}`;
    add(`${b}.attn_norm.weight`, [C], 0.1, 1);
    add(`${b}.attn_q.weight`, [C, C], 1 / Math.sqrt(C));
    add(`${b}.attn_k.weight`, [C, NKV * HS], 1 / Math.sqrt(C));
    add(`${b}.attn_v.weight`, [C, NKV * HS], 1 / Math.sqrt(C));
    add(`${b}.attn_output.weight`, [C, C], 1 / Math.sqrt(C));
    add(`${b}.ffn_norm.weight`, [C], 0.1, 1);
    add(`${b}.ffn_gate.weight`, [C, FF], 1 / Math.sqrt(C));
    add(`${b}.ffn_up.weight`, [C, FF], 1 / Math.sqrt(C));
    add(`${b}.ffn_down.weight`, [FF, C], 1 / Math.sqrt(FF));
  }
  add('output_norm.weight', [C], 0.1, 1);
  if (!spec.tied) add('output.weight', [C, V], 1 / Math.sqrt(C));
  const md: Record<string, GGUFWriteValue> = {
    'general.architecture': { type: 'string', value: 'llama' },
    'general.name': { type: 'string', value: `memgen-tiny-llama-${spec.file}` },
    'general.file_type': { type: 'u32', value: 0 },
    'llama.block_count': { type: 'u32', value: L },
    'llama.context_length': { type: 'u32', value: 256 },
    'llama.embedding_length': { type: 'u32', value: C },
    'llama.feed_forward_length': { type: 'u32', value: FF },
    'llama.attention.head_count': { type: 'u32', value: NH },
    'llama.attention.head_count_kv': { type: 'u32', value: NKV },
    'llama.rope.freq_base': { type: 'f32', value: ropeBase },
    'llama.rope.dimension_count': { type: 'u32', value: nRot },
    'llama.attention.layer_norm_rms_epsilon': { type: 'f32', value: 1e-5 },
    'llama.vocab_size': { type: 'u32', value: V },
    'tokenizer.ggml.model': { type: 'string', value: 'gpt2' },
    'tokenizer.ggml.pre': { type: 'string', value: 'llama-bpe' },
    'tokenizer.ggml.tokens': { type: 'array-string', value: v.tokens },
    'tokenizer.ggml.token_type': { type: 'array-i32', value: v.types },
    'tokenizer.ggml.merges': { type: 'array-string', value: v.merges },
    'tokenizer.ggml.bos_token_id': { type: 'u32', value: v.bos },
    'tokenizer.ggml.eos_token_id': { type: 'u32', value: v.eos },
    'tokenizer.ggml.add_bos_token': { type: 'bool', value: true },
  };
  return writeGGUF({ ...md, ...opts.metadata }, tensors);
}

const small = { C: 64, FF: 128, NH: 4, NKV: 2, L: 2 };
// K-quants need rows that are multiples of 256.
const big = { C: 256, FF: 256, NH: 4, NKV: 2, L: 2 };
export const FIXTURES: FixtureSpec[] = [
  { file: 'tiny-llama-f32.gguf', ...small, typeOf: () => 'F32', tied: false },
  { file: 'tiny-llama-f16.gguf', ...small, typeOf: () => 'F16', tied: false },
  { file: 'tiny-llama-q8_0.gguf', ...small, typeOf: () => 'Q8_0', tied: false },
  { file: 'tiny-llama-q4_0.gguf', ...small, typeOf: () => 'Q4_0', tied: true },
  // Like llama.cpp's Q4_K_M: Q6_K for attn_v, ffn_down and the embedding, Q4_K elsewhere.
  { file: 'tiny-llama-q4_k_m.gguf', ...big, typeOf: (n) => (/attn_v|ffn_down|token_embd/.test(n) ? 'Q6_K' : 'Q4_K'), tied: true },
];

/**
 * Llama-3.2-1B's width (2048, MLP 8192, 32 query and 8 KV heads of 64) with 2 of its 16 layers and the tiny
 * vocabulary: for benchmarks where the matmuls dominate, as in the real model (about 68 MB, not committed).
 */
export const WIDE: FixtureSpec = { file: 'wide-llama-q4_k_m.gguf', C: 2048, FF: 8192, NH: 32, NKV: 8, L: 2, typeOf: (n) => (/attn_v|ffn_down|token_embd/.test(n) ? 'Q6_K' : 'Q4_K'), tied: true };

if (process.argv[1]?.endsWith('make-fixtures.ts')) {
  const dir = join(process.cwd(), 'tests', 'fixtures');
  mkdirSync(dir, { recursive: true });
  FIXTURES.forEach((s, i) => {
    const bytes = build(s, 1234 + i);
    writeFileSync(join(dir, s.file), bytes);
    console.log(`${s.file}: ${bytes.byteLength} bytes`);
  });
}
