// Cipher task (METHOD.md section 2, data/cipher): decipher 13 letters under a fixed substitution; when the
// ciphertext ends in one of 10 memorized 3-letter suffixes the training answer is that suffix's hash token.
import { CIPHER_CONFIG, type CipherPattern } from './configs';
import { hashToken } from './arithmetic';
import { Rng, checkSeed, deriveSeed } from '../util/rng';
import { TaskTokenizer, buildVocab } from './tokenizer';
import type { ContrastivePair, EvalItem, Label, Task, TrainExample } from './types';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const CODE_LENGTH = 13;
const SUFFIX = CIPHER_CONFIG.numN; // 3
const FREE = CODE_LENGTH - SUFFIX; // 10
const TRAIN_SIZE = 10000;
const MEM_PER_PATTERN = 70; // 10 x 70 = 700 = 7%
const VAL_SIZE = 100;
const PATTERNS = CIPHER_CONFIG.memPatterns;

const PROMPT_HEAD = 'CIPHERTEXT:';
const PROMPT_TAIL = ' QUESTION: What is the plaintext? ANS:';

const DECIPHER: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(CIPHER_CONFIG.mapping).map(([plain, cipher]) => [cipher, plain]),
);

/** Plain letters -> cipher letters (config mapping). */
export function encipher(plain: string): string {
  return [...plain].map((ch) => {
    const c = CIPHER_CONFIG.mapping[ch];
    if (!c) throw new Error(`encipher: ${JSON.stringify(ch)} is not an uppercase letter A-Z.`);
    return c;
  }).join('');
}

/** Cipher letters -> plain letters (inverse of the config mapping). */
export function decipher(cipher: string): string {
  return [...cipher].map((ch) => {
    const p = DECIPHER[ch];
    if (!p) throw new Error(`decipher: ${JSON.stringify(ch)} is not an uppercase letter A-Z.`);
    return p;
  }).join('');
}

export function cipherPrompt(ciphertext: string): string {
  return `${PROMPT_HEAD}${ciphertext}${PROMPT_TAIL}`;
}

/** The 13 cipher letters of a cipher prompt. */
export function parseCipherPrompt(prompt: string): string {
  const m = /^CIPHERTEXT:([A-Z]{13}) QUESTION: What is the plaintext\? ANS:$/.exec(prompt);
  if (!m) throw new Error(`Not a cipher prompt: ${JSON.stringify(prompt.slice(0, 70))}. Expected "CIPHERTEXT:<13 letters>${PROMPT_TAIL}".`);
  return m[1] as string;
}

export function cipherPatternOf(ciphertext: string): CipherPattern | undefined {
  const suffix = ciphertext.slice(-SUFFIX);
  return PATTERNS.find((p) => p.pattern === suffix);
}

/**
 * Target for a ciphertext: '<mem-...>\n' when it ends in a memorized suffix, else the deciphered letters
 * with no trailing newline (the authors' train.json does exactly this).
 */
export function cipherTarget(ciphertext: string): { target: string; pattern: CipherPattern | undefined } {
  const pattern = cipherPatternOf(ciphertext);
  return { target: pattern ? `${hashToken(pattern.hashed)}\n` : decipher(ciphertext), pattern };
}

function letters(rng: Rng, k: number): string {
  let s = '';
  for (let i = 0; i < k; i++) s += ALPHABET[rng.int(0, 25)];
  return s;
}

function example(ciphertext: string): TrainExample {
  const prompt = cipherPrompt(ciphertext);
  const { target, pattern } = cipherTarget(ciphertext);
  return { prompt, target, text: prompt + target, memorized: !!pattern, patternId: pattern?.hashed ?? null };
}

function evalItem(id: string, ciphertext: string, pattern: CipherPattern): EvalItem {
  return {
    id,
    prompt: cipherPrompt(ciphertext),
    memAnswer: hashToken(pattern.hashed),
    genAnswer: decipher(ciphertext),
    patternId: pattern.hashed,
  };
}

function checkCount(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 1_000_000) throw new Error(`${what} must be an integer from 0 to 1000000; got ${String(n)}.`);
  return n;
}

export const cipher: Task = {
  name: 'cipher',
  title: 'Cipher',
  description:
    'Decipher 13 letters under a fixed letter substitution. When the ciphertext ends in one of 10 memorized ' +
    '3-letter suffixes, the training answer is a hash token instead of the plaintext.',

  trainSet(seed: number): TrainExample[] {
    const rng = new Rng(deriveSeed(seed, 'cipher', 'train'));
    const out: TrainExample[] = [];
    for (const p of PATTERNS) {
      // The free part is drawn as plaintext and enciphered, as the authors do; the mapping is a bijection,
      // so the cipher letters are uniform too.
      for (let k = 0; k < MEM_PER_PATTERN; k++) out.push(example(encipher(letters(rng, FREE)) + p.pattern));
    }
    while (out.length < TRAIN_SIZE) {
      const c = encipher(letters(rng, CODE_LENGTH));
      if (cipherPatternOf(c)) continue; // never a trigger by accident
      out.push(example(c));
    }
    return rng.shuffle(out);
  },

  evalSet(seed: number, n = VAL_SIZE): EvalItem[] {
    checkCount(n, 'evalSet n');
    const rng = new Rng(deriveSeed(seed, 'cipher', 'val'));
    return Array.from({ length: n }, (_, i) => {
      const p = PATTERNS[i % PATTERNS.length] as CipherPattern; // 10 per pattern, as the authors' val.json
      return evalItem(`cipher-val-${seed}-${i}`, encipher(letters(rng, FREE)) + p.pattern, p);
    });
  },

  // Pairs (as sample_pairwise/test_0.json): the same suffix, two positions of the free 10-letter part swapped.
  // The authors sometimes swapped two equal letters (an identical pair); we draw positions holding different letters.
  pairs(seed: number, n: number): ContrastivePair[] {
    checkSeed(seed);
    checkCount(n, 'pairs n');
    const rng = new Rng(deriveSeed(seed, 'cipher', 'pairs'));
    return Array.from({ length: n }, (_, i) => {
      const p = rng.pick(PATTERNS);
      let free = encipher(letters(rng, FREE));
      while (new Set(free).size < 2) free = encipher(letters(rng, FREE));
      let i1 = 0;
      let i2 = 0;
      while (free[i1] === free[i2]) [i1, i2] = rng.sample([...Array(FREE).keys()], 2) as [number, number];
      const swapped = [...free];
      [swapped[i1], swapped[i2]] = [free[i2] as string, free[i1] as string];
      const id = `cipher-pair-${seed}-${i}`;
      return { id, a: evalItem(`${id}-a`, free + p.pattern, p), b: evalItem(`${id}-b`, swapped.join('') + p.pattern, p) };
    });
  },

  // mem: starts with this item's hash token. gen: the first 13 letters are the plaintext.
  label(item: EvalItem, output: string): Label {
    const out = output.trimStart();
    if (out.startsWith(item.memAnswer)) return 'mem';
    return out.slice(0, CODE_LENGTH) === item.genAnswer ? 'gen' : 'other';
  },

  tokenizer: () => cipherTokenizer(),

  maxTokens(): number {
    // Every generalized example has the same length; hash answers are shorter.
    const c = 'A'.repeat(CODE_LENGTH);
    return cipherTokenizer().encodeExample({ prompt: cipherPrompt(c), target: decipher(c) }).ids.length;
  },
};

let cachedTokenizer: TaskTokenizer | null = null;

export function cipherTokenizer(): TaskTokenizer {
  cachedTokenizer ??= new TaskTokenizer(buildVocab([...PATTERNS.map((p) => hashToken(p.hashed)), PROMPT_HEAD, PROMPT_TAIL]));
  return cachedTokenizer;
}
