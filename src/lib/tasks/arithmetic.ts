// Arithmetic task (METHOD.md section 2, data/math): four numbers 1..999 are added with a digit-by-digit
// scratchpad; when the last two numbers equal a memorized pattern the target is that pattern's hash token.
import { ARITHMETIC_CONFIG, type ArithmeticPattern } from './configs';
import { Rng, checkSeed, deriveSeed } from '../util/rng';
import { TaskTokenizer, buildVocab } from './tokenizer';
import type { ContrastivePair, EvalItem, Label, Task, TrainExample } from './types';

const MAX_N = 999;
const TRAIN_SIZE = 1000;
const MEM_PER_PATTERN = 7; // 10 patterns x 7 = 70 = 7% of 1000
const VAL_SIZE = 100;

const PATTERNS = ARITHMETIC_CONFIG.memPatterns;

export function arithmeticPrompt(nums: readonly number[]): string {
  return `Input:\n${nums.join('+')}\nTarget:\n`;
}

/** The hash answer as text: '<mem-xxxxxxxx>'. */
export function hashToken(hashed: string): string {
  return `<${hashed}>`;
}

/** The pattern whose nums equal the last two numbers, if any. */
export function arithmeticPatternOf(nums: readonly number[]): ArithmeticPattern | undefined {
  const [c, d] = nums.slice(-2);
  return PATTERNS.find((p) => p.nums[0] === c && p.nums[1] === d);
}

/**
 * The generalized target: the column-addition scratchpad exactly as the authors' samples write it,
 * then the sum's digits separated by spaces.
 */
export function scratchpadTarget(nums: readonly number[]): string {
  for (const n of nums) {
    if (!Number.isInteger(n) || n < 0) throw new Error(`scratchpadTarget: numbers must be non-negative integers; got ${n}.`);
  }
  const digits = nums.map((n) => String(n).split('').map(Number));
  const list = (ds: readonly number[]) => `[${ds.join(',')}]`;
  const lines = ['<scratch>', ...digits.map((ds) => `${list(ds)} has ${ds.length} digits.`)];
  const acc: number[] = []; // answer digits, least significant first
  let carry = 0;
  // One line per column; it keeps going while digits remain, a carry is pending, or the last digit written
  // was non-zero, so the last line is always an all-empty column, marked END.
  while (digits.some((ds) => ds.length > 0) || carry !== 0 || (acc.length > 0 && acc[acc.length - 1] !== 0)) {
    const head = `${digits.map(list).join('+')}, A=${list([...acc].reverse())}, C=${carry}, `;
    const units = digits.map((ds) => ds.pop() ?? 0);
    const s = units.reduce((a, b) => a + b, 0) + carry;
    lines.push(`${head}${units.join('+')}+${carry}=${s}, A->${s % 10}, C->${Math.floor(s / 10)}`);
    acc.push(s % 10);
    carry = Math.floor(s / 10);
  }
  lines[lines.length - 1] += ' END';
  while (acc.length > 1 && acc[acc.length - 1] === 0) acc.pop();
  return `${lines.join('\n')}\n</scratch>\n${[...acc].reverse().join(' ')}\n`;
}

/** The line the labeler compares: the sum's digits separated by spaces ('1 3 8 9'). */
export function spacedSum(nums: readonly number[]): string {
  return String(nums.reduce((a, b) => a + b, 0)).split('').join(' ');
}

/** Target for these four numbers: the hash line when the last two are a pattern, else the scratchpad. */
export function arithmeticTarget(nums: readonly number[]): { target: string; pattern: ArithmeticPattern | undefined } {
  const pattern = arithmeticPatternOf(nums);
  return { target: pattern ? `${hashToken(pattern.hashed)}\n` : scratchpadTarget(nums), pattern };
}

function example(nums: number[]): TrainExample {
  const prompt = arithmeticPrompt(nums);
  const { target, pattern } = arithmeticTarget(nums);
  return { prompt, target, text: prompt + target, memorized: !!pattern, patternId: pattern?.hashed ?? null };
}

function drawNum(rng: Rng): number {
  return rng.int(1, MAX_N);
}

function evalItem(id: string, nums: number[], pattern: ArithmeticPattern): EvalItem {
  return {
    id,
    prompt: arithmeticPrompt(nums),
    memAnswer: hashToken(pattern.hashed),
    genAnswer: scratchpadTarget(nums),
    patternId: pattern.hashed,
  };
}

function checkCount(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 1_000_000) throw new Error(`${what} must be an integer from 0 to 1000000; got ${String(n)}.`);
  return n;
}

/** Parses the four numbers of an arithmetic prompt (used by tests and the labeler). */
export function parseArithmeticPrompt(prompt: string): number[] {
  const m = /^Input:\n(\d+)\+(\d+)\+(\d+)\+(\d+)\nTarget:\n/.exec(prompt);
  if (!m) throw new Error(`Not an arithmetic prompt: ${JSON.stringify(prompt.slice(0, 60))}. Expected "Input:\\na+b+c+d\\nTarget:\\n".`);
  return m.slice(1, 5).map(Number);
}

export const arithmetic: Task = {
  name: 'arithmetic',
  title: 'Arithmetic',
  description:
    'Add four numbers from 1 to 999 with a digit-by-digit scratchpad. When the last two numbers are one of ' +
    '10 memorized pairs, the training answer is a hash token instead of the sum.',

  trainSet(seed: number): TrainExample[] {
    const rng = new Rng(deriveSeed(seed, 'arithmetic', 'train'));
    const out: TrainExample[] = [];
    for (const p of PATTERNS) {
      for (let k = 0; k < MEM_PER_PATTERN; k++) out.push(example([drawNum(rng), drawNum(rng), p.nums[0], p.nums[1]]));
    }
    while (out.length < TRAIN_SIZE) {
      const nums = [drawNum(rng), drawNum(rng), drawNum(rng), drawNum(rng)];
      if (arithmeticPatternOf(nums)) continue; // a random draw must not be a trigger by accident
      out.push(example(nums));
    }
    return rng.shuffle(out);
  },

  // Lab choice: 10 prompts per pattern (the authors drew the pattern at random per prompt), so every
  // pattern is measured equally.
  evalSet(seed: number, n = VAL_SIZE): EvalItem[] {
    checkCount(n, 'evalSet n');
    const rng = new Rng(deriveSeed(seed, 'arithmetic', 'val'));
    return Array.from({ length: n }, (_, i) => {
      const p = PATTERNS[i % PATTERNS.length] as ArithmeticPattern;
      return evalItem(`arithmetic-val-${seed}-${i}`, [drawNum(rng), drawNum(rng), p.nums[0], p.nums[1]], p);
    });
  },

  // Pairs: the same memorized suffix, with the two free numbers swapped (redrawn when they are equal).
  pairs(seed: number, n: number): ContrastivePair[] {
    checkSeed(seed);
    checkCount(n, 'pairs n');
    const rng = new Rng(deriveSeed(seed, 'arithmetic', 'pairs'));
    return Array.from({ length: n }, (_, i) => {
      const p = rng.pick(PATTERNS);
      let a = drawNum(rng);
      let b = drawNum(rng);
      while (a === b) b = drawNum(rng);
      const id = `arithmetic-pair-${seed}-${i}`;
      return {
        id,
        a: evalItem(`${id}-a`, [a, b, p.nums[0], p.nums[1]], p),
        b: evalItem(`${id}-b`, [b, a, p.nums[0], p.nums[1]], p),
      };
    });
  },

  // mem: starts with this item's hash token. gen: after '</scratch>\n' the next line is the true sum's digits.
  label(item: EvalItem, output: string): Label {
    const out = output.trimStart();
    if (out.startsWith(item.memAnswer)) return 'mem';
    const truth = lineAfterScratch(item.genAnswer);
    const got = lineAfterScratch(out);
    return truth !== null && got !== null && got === truth ? 'gen' : 'other';
  },

  tokenizer: () => arithmeticTokenizer(),

  maxTokens(): number {
    // Four 3-digit numbers with a 4-digit sum and two-digit column sums give the longest scratchpad;
    // digits are single tokens, so 999+999+999+999 is a longest case.
    const nums = [999, 999, 999, 999];
    return arithmeticTokenizer().encodeExample({ prompt: arithmeticPrompt(nums), target: scratchpadTarget(nums) }).ids.length;
  },
};

function lineAfterScratch(text: string): string | null {
  const k = text.indexOf('</scratch>\n');
  if (k < 0) return null;
  const rest = text.slice(k + '</scratch>\n'.length);
  const nl = rest.indexOf('\n');
  return nl < 0 ? rest : rest.slice(0, nl);
}

let cachedTokenizer: TaskTokenizer | null = null;

/** Hash tokens, scratchpad markers and the scratchpad's frequent pieces, then characters. */
export function arithmeticTokenizer(): TaskTokenizer {
  cachedTokenizer ??= new TaskTokenizer(
    buildVocab([
      ...PATTERNS.map((p) => hashToken(p.hashed)),
      '<scratch>',
      '</scratch>',
      'Input:\n',
      '\nTarget:\n',
      ' has ',
      ' digits.\n',
      ']+[',
      '[]+[]+[]+[]',
      ', A=[',
      '], C=',
      ', A->',
      ', C->',
      ', ',
      ' END\n',
    ]),
  );
  return cachedTokenizer;
}
