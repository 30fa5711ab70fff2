// LLaMA-3 byte-level BPE tokenizer read from GGUF metadata (tokenizer.ggml.*), as llama.cpp's "gpt2" model
// with the "llama-bpe" pre-tokenizer: split text on special tokens, pre-tokenize with the Llama-3 regex,
// map bytes to GPT-2's printable characters, then apply merges by rank.
import type { TextTokenizer } from '../types';
import { GGUFError, type GGUFHeader } from '../../gguf/reader';

/** llama.cpp's names (tokenizer.ggml.pre) for the pre-tokenizer of LLAMA3_PRETOKENIZE. */
export const LLAMA3_PRE_NAMES = ['llama-bpe', 'llama3', 'llama-v3', 'falcon3'] as const;

/** The Llama-3 pre-tokenizer pattern; `(?i:'s|...)` written out because not every JS engine has inline flags. */
export const LLAMA3_PRETOKENIZE =
  /(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

/** GPT-2's reversible byte -> printable character map (bytes_to_unicode). */
export function byteToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const map: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) map[b] = keep.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  return map;
}

export enum TokenType {
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

const B2U = byteToUnicode();
const U2B = new Map(B2U.map((c, b) => [c, b]));

export class LlamaTokenizer implements TextTokenizer {
  readonly eosId: number;
  readonly bosId?: number;
  readonly vocabSize: number;
  private readonly ids = new Map<string, number>();
  private readonly ranks = new Map<string, number>();
  private readonly special: string[];
  private readonly specialRe: RegExp | null;
  private readonly cache = new Map<string, number[]>();
  private readonly enc = new TextEncoder();

  constructor(
    readonly tokens: string[],
    readonly types: ArrayLike<number>,
    merges: string[],
    ids: { bos?: number; eos: number; eot?: number },
  ) {
    if (types.length !== tokens.length) throw new GGUFError(`tokenizer: ${tokens.length} tokens but ${types.length} token types.`);
    tokens.forEach((t, i) => { if (!this.ids.has(t)) this.ids.set(t, i); });
    merges.forEach((m, i) => this.ranks.set(m, i));
    this.vocabSize = tokens.length;
    for (const [k, v] of Object.entries(ids)) {
      if (v !== undefined && (v < 0 || v >= tokens.length)) throw new GGUFError(`tokenizer: ${k} token id ${v} is outside the vocabulary (0..${tokens.length - 1}).`);
    }
    this.bosId = ids.bos;
    this.eosId = ids.eot ?? ids.eos;
    this.special = tokens.filter((_, i) => types[i] === TokenType.CONTROL || types[i] === TokenType.USER_DEFINED);
    // Longest first, so "<|eot_id|>" is not cut by a shorter special token that is its prefix.
    const esc = [...this.special].sort((a, b) => b.length - a.length).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    this.specialRe = esc.length ? new RegExp(`(${esc.join('|')})`) : null;
  }

  static fromGGUF(h: GGUFHeader): LlamaTokenizer {
    const md = h.metadata;
    const model = md['tokenizer.ggml.model'];
    if (model !== 'gpt2') throw new GGUFError(`tokenizer.ggml.model is "${String(model)}": only byte-level BPE ("gpt2", as LLaMA-3 uses) is supported.`);
    // The pre-tokenizer splits text before BPE; this tokenizer implements the LLaMA-3 split only. A file without
    // the key (converted before llama.cpp wrote it) is a LLaMA-3 file here, the only vocabulary the loader takes.
    const pre = md['tokenizer.ggml.pre'];
    if (pre !== undefined && !(LLAMA3_PRE_NAMES as readonly unknown[]).includes(pre)) {
      throw new GGUFError(`tokenizer.ggml.pre is "${String(pre)}": this tokenizer splits text as LLaMA-3 does (pre-tokenizers ${LLAMA3_PRE_NAMES.map((n) => `"${n}"`).join(', ')}), so it would tokenize this model's text wrongly.`);
    }
    const tokens = md['tokenizer.ggml.tokens'];
    if (!Array.isArray(tokens) || tokens.some((t) => typeof t !== 'string')) throw new GGUFError('tokenizer.ggml.tokens is missing or not a string array.');
    const merges = md['tokenizer.ggml.merges'];
    if (!Array.isArray(merges)) throw new GGUFError('tokenizer.ggml.merges is missing: a BPE vocabulary needs its merges.');
    const types = (md['tokenizer.ggml.token_type'] as ArrayLike<number> | undefined) ?? new Int32Array(tokens.length).fill(1);
    const num = (k: string) => (typeof md[k] === 'number' ? (md[k] as number) : undefined);
    const eos = num('tokenizer.ggml.eos_token_id');
    if (eos === undefined) throw new GGUFError('tokenizer.ggml.eos_token_id is missing.');
    const eotIdx = (tokens as string[]).indexOf('<|eot_id|>');
    return new LlamaTokenizer(tokens as string[], types, merges as string[], {
      bos: num('tokenizer.ggml.bos_token_id'),
      eos,
      eot: num('tokenizer.ggml.eot_token_id') ?? (eotIdx >= 0 ? eotIdx : undefined),
    });
  }

  tokenId(text: string): number | undefined {
    return this.ids.get(text);
  }

  private bpe(word: string): number[] {
    const hit = this.cache.get(word);
    if (hit) return hit;
    // Llama-3 sets ignore_merges (HF tokenizer.json; llama.cpp does the same for "llama-bpe"):
    // a pre-token that is itself in the vocabulary is one token, whatever the merge order would give.
    const whole = this.ids.get(word);
    if (whole !== undefined) return [whole];
    let parts = Array.from(word);
    for (;;) {
      let best = -1, bestRank = Infinity;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = this.ranks.get(`${parts[i]} ${parts[i + 1]}`);
        if (r !== undefined && r < bestRank) { bestRank = r; best = i; }
      }
      if (best < 0) break;
      const a = parts[best], b = parts[best + 1];
      const next: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        if (i + 1 < parts.length && parts[i] === a && parts[i + 1] === b) { next.push(a + b); i++; }
        else next.push(parts[i]);
      }
      parts = next;
    }
    const out: number[] = [];
    for (const p of parts) {
      const id = this.ids.get(p);
      if (id !== undefined) { out.push(id); continue; }
      for (const ch of p) { // fall back to single byte tokens
        const bid = this.ids.get(ch);
        if (bid === undefined) throw new Error(`tokenizer: the vocabulary has no token for byte "${ch}"; it is not a byte-level vocabulary.`);
        out.push(bid);
      }
    }
    if (this.cache.size < 50_000) this.cache.set(word, out);
    return out;
  }

  /** Text -> ids. Special tokens written in the text (e.g. "<|eot_id|>") become their ids unless parseSpecial is false. */
  encode(text: string, opts: { addBos?: boolean; parseSpecial?: boolean } = {}): number[] {
    const out: number[] = [];
    if (opts.addBos && this.bosId !== undefined) out.push(this.bosId);
    const pieces = opts.parseSpecial === false || !this.specialRe ? [text] : text.split(this.specialRe);
    pieces.forEach((piece, i) => {
      if (piece === '') return;
      if (i % 2 === 1 && opts.parseSpecial !== false && this.specialRe) { out.push(this.ids.get(piece)!); return; }
      for (const m of piece.matchAll(LLAMA3_PRETOKENIZE)) {
        const mapped = Array.from(this.enc.encode(m[0]), (b) => B2U[b]).join('');
        out.push(...this.bpe(mapped));
      }
    });
    return out;
  }

  decode(ids: number[], opts: { skipSpecial?: boolean } = {}): string {
    const bytes: number[] = [];
    let text = '';
    const flush = () => { text += new TextDecoder().decode(new Uint8Array(bytes)); bytes.length = 0; };
    for (const id of ids) {
      const t = this.tokens[id];
      if (t === undefined) throw new Error(`decode: token id ${id} is outside the vocabulary (size ${this.vocabSize}).`);
      const ty = this.types[id];
      if (ty === TokenType.CONTROL || ty === TokenType.USER_DEFINED) {
        if (!opts.skipSpecial) { flush(); text += t; }
        continue;
      }
      for (const ch of t) {
        const b = U2B.get(ch);
        if (b === undefined) { flush(); text += ch; } else bytes.push(b);
      }
    }
    flush();
    return text;
  }

  /** The Llama-3 chat format: header tokens around each role, <|eot_id|> after each turn, then the assistant header. */
  formatChat(messages: ChatMessage[], addGenerationPrompt = true): string {
    for (const t of ['<|begin_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>']) {
      if (!this.ids.has(t)) throw new Error(`chat: the vocabulary lacks "${t}", so this model has no Llama-3 chat format. Use chat: false.`);
    }
    let s = '<|begin_of_text|>';
    for (const m of messages) s += `<|start_header_id|>${m.role}<|end_header_id|>\n\n${m.content.trim()}<|eot_id|>`;
    if (addGenerationPrompt) s += '<|start_header_id|>assistant<|end_header_id|>\n\n';
    return s;
  }
}
