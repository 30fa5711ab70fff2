// In-context color task (METHOD.md section 2, data/color; bAbI-like). Each of 16 names has a memorized color.
// A prompt says which animal role the target name T has, that a clue name C has the same role R, and C's color;
// then asks T's color. In training the clue color is T's memorized color; in test it differs, so the answer
// tells whether the model read the context (gen) or recalled the name's color (mem).
import { COLOR_CONFIG } from './configs';
import { Rng, checkSeed, deriveSeed } from '../util/rng';
import { TaskTokenizer, buildVocab } from './tokenizer';
import type { ContrastivePair, EvalItem, Label, Task, TrainExample } from './types';

export const COLOR_NAMES: readonly string[] = Object.keys(COLOR_CONFIG.nameColorMap);
/** Role strings without the config's repeats (the config list is still what roles are drawn from). */
export const COLOR_ROLES: readonly string[] = [...new Set(COLOR_CONFIG.roles)];
const MIN_NAMES = 4;
const MAX_NAMES = 8;
const N_ROLES = 5;
const MAX_FILLER = 7;
const TRAIN_SIZE = 10000;
const TEST_SIZE = 500;
const QUESTION = ' what color is';

/** One drawn story, kept in parts so pairs can reorder it. */
export interface ColorStory {
  /** The drawn names (4..8): target first, clue second; some fillers may be cut from the text. */
  names: string[];
  target: string;
  clue: string;
  role: string;
  /** The clue's stated color: the rule's answer. */
  clueColor: string;
  /** The target's memorized color (config). */
  memColor: string;
  /** Context sentences in prompt order (key sentences and fillers, shuffled). */
  sentences: string[];
}

export function memorizedColors(name: string): readonly string[] {
  const c = COLOR_CONFIG.nameColorMap[name];
  if (!c) throw new Error(`Unknown color-task name ${JSON.stringify(name)}; the names are ${COLOR_NAMES.join(', ')}.`);
  return c;
}

export function colorPrompt(story: Pick<ColorStory, 'sentences' | 'target'>): string {
  return `${story.sentences.join(' ')}${QUESTION} ${story.target}?`;
}

/** The target text: the color with a leading space and nothing after it (as the authors' training text). */
export function colorTarget(color: string): string {
  return ` ${color}`;
}

/** Five distinct role strings, drawn from the config list as given (its repeated entries weigh double). */
function drawRoles(rng: Rng): string[] {
  const roles: string[] = [];
  while (roles.length < N_ROLES) {
    const r = rng.pick(COLOR_CONFIG.roles);
    if (!roles.includes(r)) roles.push(r);
  }
  return roles;
}

/** Draws one story. 'train': the clue color is T's memorized color; 'test': it is not (nor is any stated color). */
export function drawColorStory(rng: Rng, mode: 'train' | 'test'): ColorStory {
  const names = rng.sample(COLOR_NAMES, rng.int(MIN_NAMES, MAX_NAMES));
  const roles = drawRoles(rng);
  const [target, clue] = names as [string, string];
  const role = roles[0] as string;
  const memList = memorizedColors(target);
  const memColor = memList[0] as string;
  // One color per role, all distinct; roles[0] (= R) gets the clue color.
  const others = COLOR_CONFIG.allColors.filter((c) => !memList.includes(c));
  const colors = mode === 'train' ? [memColor, ...rng.sample(others, N_ROLES - 1)] : rng.sample(others, N_ROLES);
  const roleColor = new Map(roles.map((r, i) => [r, colors[i] as string]));
  const clueColor = colors[0] as string;

  // Fillers: every other name gets one of the five roles; for roles other than R its color is stated too.
  let filler: string[] = [];
  for (const name of names.slice(2)) {
    const r = rng.pick(roles);
    filler.push(`${name} is ${r}.`);
    if (r !== role) filler.push(`${name} is ${roleColor.get(r)}.`);
  }
  filler = rng.shuffle(filler).slice(0, MAX_FILLER);
  const key = [`${target} is ${role}.`, `${clue} is ${role}.`, `${clue} is ${clueColor}.`];
  const sentences = rng.shuffle([...key, ...filler]);
  return { names, target, clue, role, clueColor, memColor, sentences };
}

function evalItem(id: string, story: ColorStory): EvalItem {
  return { id, prompt: colorPrompt(story), memAnswer: story.memColor, genAnswer: story.clueColor, patternId: story.target };
}

function checkCount(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 1_000_000) throw new Error(`${what} must be an integer from 0 to 1000000; got ${String(n)}.`);
  return n;
}

/** The first word of a continuation, as the authors read it: up to whitespace or '.', outer punctuation removed. */
export function firstColorWord(output: string): string {
  const word = output.trim().split(/\s+/)[0] ?? '';
  return (word.split('.')[0] ?? '').replace(/^[^A-Za-z]+|[^A-Za-z]+$/g, '');
}

export const color: Task = {
  name: 'color',
  title: 'Color (in-context)',
  description:
    'Read short stories ("Lily is squid. Lily is blue. Bob is squid.") and answer "what color is Bob?". ' +
    'Each of 16 names also has a memorized color; in training the story agrees with it, in test it does not.',

  trainSet(seed: number, epoch = 0): TrainExample[] {
    checkCount(epoch, 'epoch');
    // Fresh samples every epoch, reproducible from (seed, epoch).
    const rng = new Rng(deriveSeed(seed, 'color', 'train', epoch));
    return Array.from({ length: TRAIN_SIZE }, () => {
      const s = drawColorStory(rng, 'train');
      const prompt = colorPrompt(s);
      const target = colorTarget(s.clueColor);
      return { prompt, target, text: prompt + target, memorized: false, patternId: s.target };
    });
  },

  evalSet(seed: number, n = TEST_SIZE): EvalItem[] {
    checkCount(n, 'evalSet n');
    const rng = new Rng(deriveSeed(seed, 'color', 'test'));
    return Array.from({ length: n }, (_, i) => evalItem(`color-val-${seed}-${i}`, drawColorStory(rng, 'test')));
  },

  // Pairs, as the authors' color get_NMD.py builds them: one test story, and the same sentences in another
  // random order (the question stays last). Same T, R, C and answers; only the order of facts differs.
  pairs(seed: number, n: number): ContrastivePair[] {
    checkSeed(seed);
    checkCount(n, 'pairs n');
    const rng = new Rng(deriveSeed(seed, 'color', 'pairs'));
    return Array.from({ length: n }, (_, i) => {
      const a = drawColorStory(rng, 'test');
      let order = rng.shuffle([...a.sentences]);
      while (order.every((s, k) => s === a.sentences[k])) order = rng.shuffle(order);
      const id = `color-pair-${seed}-${i}`;
      return { id, a: evalItem(`${id}-a`, a), b: evalItem(`${id}-b`, { ...a, sentences: order }) };
    });
  },

  // gen: the first word is the clue color; mem: it is one of T's memorized colors; else other.
  label(item: EvalItem, output: string): Label {
    const word = firstColorWord(output);
    if (word === item.genAnswer) return 'gen';
    const mem = COLOR_CONFIG.nameColorMap[item.patternId] ?? [item.memAnswer];
    return word === item.memAnswer || mem.includes(word) ? 'mem' : 'other';
  },

  tokenizer: () => colorTokenizer(),

  maxTokens(): number {
    // Every sentence is 4 tokens (name, ' is', word, '.'), so the longest prompt has 3 key + 7 filler sentences.
    const longest = (ws: readonly string[]) => ws.reduce((a, b) => (b.length > a.length ? b : a));
    const n = longest(COLOR_NAMES);
    const sentences = Array.from({ length: 3 + MAX_FILLER }, (_, k) => `${n} is ${k % 2 ? longest(COLOR_ROLES) : longest(COLOR_CONFIG.allColors)}.`);
    return colorTokenizer().encodeExample({
      prompt: colorPrompt({ sentences, target: n }),
      target: colorTarget(longest(COLOR_CONFIG.allColors)),
    }).ids.length;
  },
};

let cachedTokenizer: TaskTokenizer | null = null;

/** Whole words (bare for the first sentence, with a leading space elsewhere), ' is', ' what color is', then characters. */
export function colorTokenizer(): TaskTokenizer {
  const words = [...COLOR_NAMES, ...COLOR_ROLES, ...COLOR_CONFIG.allColors];
  cachedTokenizer ??= new TaskTokenizer(buildVocab([QUESTION, ' is', ...words, ...words.map((w) => ` ${w}`)]));
  return cachedTokenizer;
}
