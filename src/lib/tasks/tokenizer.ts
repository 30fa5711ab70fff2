// Task-level tokenizer for models trained from scratch: greedy longest match over a fixed vocabulary of
// special tokens (hash answers, <scratch>...), task phrases that keep sequences short, then single characters.
// decode(encode(text)) === text for every text made of vocabulary characters, because every piece is a
// substring of the text and the pieces tile it.
import type { TextTokenizer } from '../models/types';

const PAD = '<pad>';
const BOS = '<bos>';
const EOS = '<eos>';
/** Control tokens: only placed by encodeExample, never matched inside text, dropped by decode. */
export const CONTROL_TOKENS = [PAD, BOS, EOS] as const;

/** Every printable ASCII character plus newline: any text of these can be encoded by every task tokenizer. */
export const BASE_CHARS: readonly string[] = [
  '\n',
  ...Array.from({ length: 0x7e - 0x20 + 1 }, (_, i) => String.fromCharCode(0x20 + i)),
];

const JSON_KIND = 'memgen-task-tokenizer';

interface TrieNode {
  next: Map<string, TrieNode>;
  /** Token id ending here, or -1. */
  id: number;
}

/**
 * Builds the vocabulary in a fixed order: control tokens, then `pieces` (in the order given), then BASE_CHARS;
 * duplicates keep their first place.
 */
export function buildVocab(pieces: readonly string[]): string[] {
  const seen = new Set<string>();
  const vocab: string[] = [];
  for (const t of [...CONTROL_TOKENS, ...pieces, ...BASE_CHARS]) {
    if (!seen.has(t)) {
      seen.add(t);
      vocab.push(t);
    }
  }
  return vocab;
}

export class TaskTokenizer implements TextTokenizer {
  readonly vocab: string[];
  readonly padId: number;
  readonly bosId: number;
  readonly eosId: number;
  private readonly root: TrieNode = { next: new Map(), id: -1 };

  constructor(vocab: readonly string[]) {
    if (!Array.isArray(vocab) || vocab.length === 0) throw new Error('TaskTokenizer: vocab must be a non-empty array of strings.');
    const seen = new Set<string>();
    vocab.forEach((t, i) => {
      if (typeof t !== 'string' || t.length === 0)
        throw new Error(`TaskTokenizer: vocab[${i}] must be a non-empty string; got ${String(JSON.stringify(t)).slice(0, 40)}.`);
      if (seen.has(t)) throw new Error(`TaskTokenizer: vocab has "${t}" twice (at ${vocab.indexOf(t)} and ${i}); each token must be unique.`);
      seen.add(t);
    });
    this.vocab = [...vocab];
    const idOf = (t: string): number => {
      const i = this.vocab.indexOf(t);
      if (i < 0) throw new Error(`TaskTokenizer: vocab lacks the control token ${t}; add "${PAD}", "${BOS}" and "${EOS}".`);
      return i;
    };
    this.padId = idOf(PAD);
    this.bosId = idOf(BOS);
    this.eosId = idOf(EOS);
    this.vocab.forEach((t, id) => {
      if ((CONTROL_TOKENS as readonly string[]).includes(t)) return;
      let node = this.root;
      for (const ch of t) {
        let child = node.next.get(ch);
        if (!child) {
          child = { next: new Map(), id: -1 };
          node.next.set(ch, child);
        }
        node = child;
      }
      node.id = id;
    });
  }

  get size(): number {
    return this.vocab.length;
  }

  /** Greedy longest match. Throws, naming the character, when a character is not in the vocabulary. */
  encode(text: string): number[] {
    if (typeof text !== 'string') throw new Error(`TaskTokenizer.encode needs a string; got ${typeof text}.`);
    const ids: number[] = [];
    let i = 0;
    while (i < text.length) {
      let node: TrieNode | undefined = this.root;
      let bestId = -1;
      let bestEnd = i;
      for (let j = i; j < text.length; j++) {
        node = node.next.get(text[j] as string);
        if (!node) break;
        if (node.id >= 0) {
          bestId = node.id;
          bestEnd = j + 1;
        }
      }
      if (bestId < 0) {
        const ch = text[i] as string;
        throw new Error(
          `TaskTokenizer.encode: character ${JSON.stringify(ch)} (U+${ch.charCodeAt(0).toString(16).padStart(4, '0')}) at position ${i} ` +
            `is not in this task's vocabulary; only printable ASCII and newline can be encoded.`,
        );
      }
      ids.push(bestId);
      i = bestEnd;
    }
    return ids;
  }

  /** Concatenates token texts; control tokens (<pad>, <bos>, <eos>) are dropped. Throws on ids outside the vocabulary. */
  decode(ids: readonly number[] | ArrayLike<number>): string {
    let out = '';
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k] as number;
      if (!Number.isInteger(id) || id < 0 || id >= this.vocab.length) {
        throw new Error(`TaskTokenizer.decode: token id ${id} at index ${k} is outside the vocabulary (size ${this.vocab.length}).`);
      }
      if (id === this.padId || id === this.bosId || id === this.eosId) continue;
      out += this.vocab[id];
    }
    return out;
  }

  /** <bos> + prompt + target + <eos>, and where the target starts (index into ids of its first token). */
  encodeExample(ex: { prompt: string; target: string }): { ids: number[]; targetStart: number } {
    // Prompt and target are encoded apart, so no token straddles the boundary and targetStart is exact.
    const p = this.encode(ex.prompt);
    const t = this.encode(ex.target);
    return { ids: [this.bosId, ...p, ...t, this.eosId], targetStart: 1 + p.length };
  }

  toJSON(): object {
    return { kind: JSON_KIND, version: 1, vocab: [...this.vocab] };
  }

  static fromJSON(o: unknown): TaskTokenizer {
    if (typeof o !== 'object' || o === null) throw new Error('TaskTokenizer.fromJSON: expected an object saved by TaskTokenizer.toJSON().');
    const r = o as Record<string, unknown>;
    if (r.kind !== JSON_KIND) throw new Error(`TaskTokenizer.fromJSON: "kind" must be "${JSON_KIND}"; got ${JSON.stringify(r.kind)}. Is this a tokenizer file?`);
    if (r.version !== 1) throw new Error(`TaskTokenizer.fromJSON: unsupported version ${JSON.stringify(r.version)}; this lab reads version 1.`);
    const fix = 'The saved tokenizer is damaged: load one saved by TaskTokenizer.toJSON() (a checkpoint from the lab).';
    if (!Array.isArray(r.vocab)) throw new Error(`TaskTokenizer.fromJSON: "vocab" must be an array of strings. ${fix}`);
    try {
      return new TaskTokenizer(r.vocab as string[]);
    } catch (e) {
      throw new Error(`TaskTokenizer.fromJSON: ${(e as Error).message} ${fix}`);
    }
  }
}
