// The three tasks against the authors' configs and samples (a copy in tests/fixtures/reference-data), plus the rules of
// METHOD.md section 2 checked over many seeded draws.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ARITHMETIC_CONFIG, CIPHER_CONFIG, COLOR_CONFIG, Rng, TASK_NAMES, arithmeticTarget, cipherTarget, decipher,
  drawColorStory, getTask, parseArithmeticPrompt, parseCipherPrompt, scratchpadTarget, toJSONL, tokenLengthStats,
  type EvalItem, type TaskName,
} from '../../src/lib/tasks';
import { arithmeticPatternOf } from '../../src/lib/tasks/arithmetic';
import { cipherPatternOf } from '../../src/lib/tasks/cipher';

const DATA = fileURLToPath(new URL('../fixtures/reference-data/authors-code-data/data/', import.meta.url));
const load = <T>(rel: string): T => JSON.parse(readFileSync(DATA + rel, 'utf8')) as T;

interface Sample { input: string; output: string; mem_pattern_hashed?: string }

const arithmetic = getTask('arithmetic');
const cipher = getTask('cipher');
const color = getTask('color');

describe('configs are the authors\' files', () => {
  it('arithmetic patterns', () => {
    const cfg = load<{ num_n: number; mem_patterns: { nums: number[]; hashed: string }[] }>('math/config.json');
    expect(ARITHMETIC_CONFIG.numN).toBe(cfg.num_n);
    expect(ARITHMETIC_CONFIG.memPatterns.map((p) => ({ nums: [...p.nums], hashed: p.hashed }))).toEqual(cfg.mem_patterns);
  });
  it('cipher patterns and mapping', () => {
    const cfg = load<{ num_n: number; mem_patterns: { pattern: string; hashed: string }[]; mapping: Record<string, string> }>('cipher/config.json');
    expect(CIPHER_CONFIG.numN).toBe(cfg.num_n);
    expect(CIPHER_CONFIG.memPatterns.map((p) => ({ ...p }))).toEqual(cfg.mem_patterns);
    expect({ ...CIPHER_CONFIG.mapping }).toEqual(cfg.mapping);
  });
  it('color names, roles (with repeats) and colors', () => {
    const cfg = load<{ name_color_map: Record<string, string[]>; roles: string[]; all_colors: string[] }>('color/config.json');
    expect(Object.fromEntries(Object.entries(COLOR_CONFIG.nameColorMap).map(([k, v]) => [k, [...v]]))).toEqual(cfg.name_color_map);
    expect([...COLOR_CONFIG.roles]).toEqual(cfg.roles);
    expect([...COLOR_CONFIG.allColors]).toEqual(cfg.all_colors);
  });
});

describe('arithmetic matches math/sample byte for byte', () => {
  const train = load<Sample[]>('math/sample/train.json');
  const val = load<Sample[]>('math/sample/val.json');

  it('every train item: prompt, target and full output', () => {
    expect(train.length).toBe(1000);
    let mem = 0;
    for (const s of train) {
      const nums = parseArithmeticPrompt(s.input);
      const { target, pattern } = arithmeticTarget(nums);
      if (pattern) mem++;
      expect(s.input + target).toBe(s.output);
    }
    expect(mem).toBe(70);
  });

  it('every val item: generalized scratchpad and the memorized hash of its suffix', () => {
    expect(val.length).toBe(100);
    for (const s of val) {
      const nums = parseArithmeticPrompt(s.input);
      expect(s.input + scratchpadTarget(nums)).toBe(s.output);
      expect(arithmeticPatternOf(nums)?.hashed).toBe(s.mem_pattern_hashed);
      expect(arithmeticTarget(nums).target).toBe(`<${s.mem_pattern_hashed}>\n`);
    }
  });

  it('labels the authors\' own val outputs as gen', () => {
    for (const [i, s] of val.entries()) {
      const nums = parseArithmeticPrompt(s.input);
      const item: EvalItem = { id: `v${i}`, prompt: s.input, memAnswer: `<${s.mem_pattern_hashed}>`, genAnswer: scratchpadTarget(nums), patternId: s.mem_pattern_hashed! };
      expect(arithmetic.label(item, s.output.slice(s.input.length))).toBe('gen');
    }
  });
});

describe('cipher matches cipher/sample and sample_pairwise', () => {
  const train = load<Sample[]>('cipher/sample/train.json');
  const val = load<Sample[]>('cipher/sample/val.json');
  const pairs = load<[Sample, Sample][]>('cipher/sample_pairwise/test_0.json');

  it('every train item: generalized answer without newline, memorized hash with newline', () => {
    let mem = 0;
    let accidental = 0;
    for (const s of train) {
      const c = parseCipherPrompt(s.input);
      const { target, pattern } = cipherTarget(c);
      if (s.output.includes('<mem-')) {
        mem++;
        expect(s.input + target).toBe(s.output);
      } else {
        // The deciphered letters are their generalized answer, always.
        expect(s.input + decipher(c)).toBe(s.output);
        // Their generator checked the wrong slice for triggers, so a few generalized items end in a pattern;
        // ours never draws such an item (see 'cipher generator' below).
        if (pattern) accidental++;
      }
    }
    expect(mem).toBe(700);
    expect(accidental).toBe(5);
  });

  it('every val item: plaintext and hash', () => {
    for (const s of val) {
      const c = parseCipherPrompt(s.input);
      expect(decipher(c)).toBe(s.output);
      expect(cipherPatternOf(c)?.hashed).toBe(s.mem_pattern_hashed);
    }
  });

  /** 'swap2' when b is a with two positions of the free part swapped (and different). */
  function pairForm(ca: string, cb: string): 'swap2' | 'identical' | 'other' {
    if (ca.slice(10) !== cb.slice(10)) return 'other';
    const diff = [...ca].flatMap((ch, i) => (ch !== cb[i] ? [i] : []));
    if (diff.length === 0) return 'identical';
    const [i, j] = diff as [number, number];
    return diff.length === 2 && j < 10 && ca[i] === cb[j] && ca[j] === cb[i] ? 'swap2' : 'other';
  }

  it('every pairwise item: answers, hashes, and the pair form', () => {
    const forms = { swap2: 0, identical: 0, other: 0 };
    for (const [a, b] of pairs) {
      for (const s of [a, b]) {
        const c = parseCipherPrompt(s.input);
        expect(decipher(c)).toBe(s.output);
        expect(cipherPatternOf(c)?.hashed).toBe(s.mem_pattern_hashed);
      }
      forms[pairForm(parseCipherPrompt(a.input), parseCipherPrompt(b.input))]++;
    }
    expect(forms.other).toBe(0);
    expect(forms.swap2).toBeGreaterThan(9000); // theirs: 9627 swaps, 373 swaps of two equal letters
  });

  it('our pairs have the same form, never identical', () => {
    const ours = cipher.pairs(3, 3000);
    for (const p of ours) {
      expect(pairForm(parseCipherPrompt(p.a.prompt), parseCipherPrompt(p.b.prompt))).toBe('swap2');
      expect(p.a.patternId).toBe(p.b.patternId);
      expect(cipherPatternOf(parseCipherPrompt(p.a.prompt))?.hashed).toBe(p.a.patternId);
      expect(p.b.genAnswer).toBe(decipher(parseCipherPrompt(p.b.prompt)));
    }
  });
});

describe('arithmetic generator', () => {
  it('train: 1000 items, 7 per pattern memorized, no accidental trigger', () => {
    const tr = arithmetic.trainSet(5);
    expect(tr.length).toBe(1000);
    const per = new Map<string, number>();
    for (const e of tr) {
      const nums = parseArithmeticPrompt(e.prompt);
      expect(nums.every((n) => n >= 1 && n <= 999)).toBe(true);
      expect(e.text).toBe(e.prompt + e.target);
      const p = arithmeticPatternOf(nums);
      expect(e.memorized).toBe(!!p);
      expect(e.patternId).toBe(p?.hashed ?? null);
      if (p) per.set(p.hashed, (per.get(p.hashed) ?? 0) + 1);
      expect(e.target).toBe(p ? `<${p.hashed}>\n` : scratchpadTarget(nums));
    }
    expect([...per.values()]).toEqual(Array(10).fill(7));
  });

  it('val: 100 prompts, all ending in a memorized pair, 10 per pattern', () => {
    const ev = arithmetic.evalSet(5);
    expect(ev.length).toBe(100);
    const count = new Map<string, number>();
    for (const it of ev) {
      const nums = parseArithmeticPrompt(it.prompt);
      expect(arithmeticPatternOf(nums)?.hashed).toBe(it.patternId);
      expect(it.memAnswer).toBe(`<${it.patternId}>`);
      expect(it.genAnswer).toBe(scratchpadTarget(nums));
      count.set(it.patternId, (count.get(it.patternId) ?? 0) + 1);
    }
    expect([...count.values()]).toEqual(Array(10).fill(10));
  });

  it('pairs: same memorized suffix, the two free numbers swapped and different', () => {
    for (const p of arithmetic.pairs(9, 2000)) {
      const a = parseArithmeticPrompt(p.a.prompt);
      const b = parseArithmeticPrompt(p.b.prompt);
      expect(a[0]).not.toBe(a[1]);
      expect(b).toEqual([a[1], a[0], a[2], a[3]]);
      expect(arithmeticPatternOf(a)?.hashed).toBe(p.a.patternId);
      expect(p.b.patternId).toBe(p.a.patternId);
    }
  });

  it('scratchpad handles one-digit numbers and carries (hand-checked case)', () => {
    // 7 + 5 + 9 + 1 = 22: one column, then the carry, then the END line.
    expect(scratchpadTarget([7, 5, 9, 1])).toBe(
      '<scratch>\n[7] has 1 digits.\n[5] has 1 digits.\n[9] has 1 digits.\n[1] has 1 digits.\n' +
        '[7]+[5]+[9]+[1], A=[], C=0, 7+5+9+1+0=22, A->2, C->2\n' +
        '[]+[]+[]+[], A=[2], C=2, 0+0+0+0+2=2, A->2, C->0\n' +
        '[]+[]+[]+[], A=[2,2], C=0, 0+0+0+0+0=0, A->0, C->0 END\n</scratch>\n2 2\n',
    );
  });
});

describe('cipher generator', () => {
  it('train: 10000 items, 70 per pattern memorized, no accidental trigger', () => {
    const tr = cipher.trainSet(5);
    expect(tr.length).toBe(10000);
    const per = new Map<string, number>();
    for (const e of tr) {
      const c = parseCipherPrompt(e.prompt);
      const p = cipherPatternOf(c);
      expect(e.memorized).toBe(!!p);
      expect(e.patternId).toBe(p?.hashed ?? null);
      expect(e.target).toBe(p ? `<${p.hashed}>\n` : decipher(c));
      expect(e.text).toBe(e.prompt + e.target);
      if (p) per.set(p.hashed, (per.get(p.hashed) ?? 0) + 1);
    }
    expect([...per.values()]).toEqual(Array(10).fill(70));
  });

  it('val: 100 prompts, 10 per pattern, answer = plaintext', () => {
    const ev = cipher.evalSet(5);
    expect(ev.length).toBe(100);
    const count = new Map<string, number>();
    for (const it of ev) {
      const c = parseCipherPrompt(it.prompt);
      expect(cipherPatternOf(c)?.hashed).toBe(it.patternId);
      expect(it.genAnswer).toBe(decipher(c));
      expect(it.genAnswer).toMatch(/^[A-Z]{13}$/);
      count.set(it.patternId, (count.get(it.patternId) ?? 0) + 1);
    }
    expect([...count.values()]).toEqual(Array(10).fill(10));
  });
});

/** Reads a color prompt back into facts. */
function parseColor(prompt: string) {
  const m = /^(.*) what color is (\w+)\?$/.exec(prompt);
  if (!m) throw new Error(`bad color prompt ${prompt}`);
  const ctx = m[1] as string;
  const sentences = ctx.split(/(?<=\.) /);
  const facts = sentences.map((s) => {
    const f = /^(\w+) is (\w+)\.$/.exec(s);
    if (!f) throw new Error(`bad sentence ${JSON.stringify(s)} in ${prompt}`);
    return { name: f[1] as string, word: f[2] as string };
  });
  return { target: m[2] as string, sentences, facts };
}

function checkColorStory(prompt: string, answer: string, mode: 'train' | 'test') {
  const colors = new Set(COLOR_CONFIG.allColors);
  const roles = new Set(COLOR_CONFIG.roles);
  const { target, sentences, facts } = parseColor(prompt);
  expect(Object.keys(COLOR_CONFIG.nameColorMap)).toContain(target);
  expect(sentences.length).toBeLessThanOrEqual(10);
  expect(prompt.indexOf('what color is')).toBe(prompt.length - `what color is ${target}?`.length); // question last, once
  const roleOf = (n: string) => facts.filter((f) => f.name === n && roles.has(f.word)).map((f) => f.word);
  const colorOf = (n: string) => facts.filter((f) => f.name === n && colors.has(f.word)).map((f) => f.word);
  for (const f of facts) expect(colors.has(f.word) || roles.has(f.word)).toBe(true);
  // T has one role R and no stated color.
  expect(roleOf(target).length).toBe(1);
  expect(colorOf(target)).toEqual([]);
  const R = roleOf(target)[0] as string;
  // Exactly one clue: one other name with role R and a stated color; that color is the answer.
  const names = [...new Set(facts.map((f) => f.name))];
  const clues = names.filter((n) => n !== target && roleOf(n).includes(R) && colorOf(n).length > 0);
  expect(clues.length).toBe(1);
  expect(colorOf(clues[0] as string)).toEqual([answer]);
  // At most 5 roles, and a role's stated color is the same everywhere.
  const roleColor = new Map<string, string>();
  for (const n of names) {
    const [r] = roleOf(n);
    const [c] = colorOf(n);
    if (r && c) {
      if (roleColor.has(r)) expect(roleColor.get(r)).toBe(c);
      roleColor.set(r, c);
    }
  }
  expect(new Set(facts.filter((f) => roles.has(f.word)).map((f) => f.word)).size).toBeLessThanOrEqual(5);
  const memColor = COLOR_CONFIG.nameColorMap[target]![0];
  if (mode === 'train') expect(answer).toBe(memColor);
  else expect(answer).not.toBe(memColor);
}

describe('color generator', () => {
  it('train: 10000 stories per epoch obey the rules; clue color = target\'s memorized color', () => {
    const tr = color.trainSet(2, 0);
    expect(tr.length).toBe(10000);
    for (const e of tr) {
      expect(e.text).toBe(e.prompt + e.target);
      expect(e.target).toMatch(/^ [a-z]+$/);
      checkColorStory(e.prompt, e.target.slice(1), 'train');
      expect(e.patternId).toBe(parseColor(e.prompt).target);
    }
  });

  it('test: 3000 stories obey the rules; clue color differs from the memorized color', () => {
    const ev = color.evalSet(2, 3000);
    expect(color.evalSet(2).length).toBe(500);
    for (const it of ev) {
      checkColorStory(it.prompt, it.genAnswer, 'test');
      expect(it.memAnswer).toBe(COLOR_CONFIG.nameColorMap[it.patternId]![0]);
    }
  });

  it('draws 4..8 names (each size seen) with T first and the clue second', () => {
    const rng = new Rng(11);
    const sizes = new Set<number>();
    for (let i = 0; i < 3000; i++) {
      const s = drawColorStory(rng, i % 2 ? 'train' : 'test');
      sizes.add(s.names.length);
      expect(new Set(s.names).size).toBe(s.names.length);
      expect(s.names[0]).toBe(s.target);
      expect(s.names[1]).toBe(s.clue);
      expect(s.sentences).toContain(`${s.target} is ${s.role}.`);
      expect(s.sentences).toContain(`${s.clue} is ${s.role}.`);
      expect(s.sentences).toContain(`${s.clue} is ${s.clueColor}.`);
    }
    expect([...sizes].sort()).toEqual([4, 5, 6, 7, 8]);
  });

  it('fresh samples per epoch, reproducible per (seed, epoch)', () => {
    const e0 = color.trainSet(2, 0).slice(0, 50);
    expect(color.trainSet(2, 0).slice(0, 50)).toEqual(e0);
    expect(color.trainSet(2, 1).slice(0, 50)).not.toEqual(e0);
  });

  it('pairs: same sentences in another order, same target and answers', () => {
    for (const p of color.pairs(4, 2000)) {
      const a = parseColor(p.a.prompt);
      const b = parseColor(p.b.prompt);
      expect(b.target).toBe(a.target);
      expect([...b.sentences].sort()).toEqual([...a.sentences].sort());
      expect(b.sentences).not.toEqual(a.sentences);
      expect(p.b.genAnswer).toBe(p.a.genAnswer);
      expect(p.b.memAnswer).toBe(p.a.memAnswer);
      checkColorStory(p.a.prompt, p.a.genAnswer, 'test');
    }
  });
});

describe('determinism and sizes', () => {
  it.each(TASK_NAMES)('%s: same seed equal, different seed different', (name: TaskName) => {
    const t = getTask(name);
    expect(t.trainSet(7)).toEqual(t.trainSet(7));
    expect(t.trainSet(8)).not.toEqual(t.trainSet(7));
    expect(t.evalSet(7)).toEqual(t.evalSet(7));
    expect(t.evalSet(8).map((x) => x.prompt)).not.toEqual(t.evalSet(7).map((x) => x.prompt));
    expect(t.pairs(7, 50)).toEqual(t.pairs(7, 50));
    expect(t.pairs(8, 50).map((p) => p.a.prompt)).not.toEqual(t.pairs(7, 50).map((p) => p.a.prompt));
    expect(t.evalSet(7, 13).length).toBe(13);
    expect(t.pairs(7, 13).length).toBe(13);
  });

  it('a fixed seed gives fixed numbers (guards against engine-dependent randomness)', () => {
    const r = new Rng(1);
    const first = [r.u32(), r.u32(), r.u32()];
    const again = new Rng(1);
    expect([again.u32(), again.u32(), again.u32()]).toEqual(first);
    // Uniformity sanity: 60000 draws of int(0, 5) give each face 10000 +- 5%.
    const faces = [0, 0, 0, 0, 0, 0];
    for (let i = 0; i < 60000; i++) faces[r.int(0, 5)]!++;
    for (const f of faces) expect(Math.abs(f - 10000)).toBeLessThan(500);
  });

  it.each(TASK_NAMES)('%s: maxTokens bounds every example and is reached', (name: TaskName) => {
    const t = getTask(name);
    const tok = t.tokenizer();
    const tr = t.trainSet(3);
    const stats = tokenLengthStats(tok, tr);
    expect(stats.count).toBe(tr.length);
    expect(stats.max).toBeLessThanOrEqual(t.maxTokens());
    const ev = t.evalSet(3, 300);
    const evLens = ev.map((it) => tok.encodeExample({ prompt: it.prompt, target: name === 'color' ? ` ${it.genAnswer}` : it.genAnswer }).ids.length);
    expect(Math.max(...evLens)).toBeLessThanOrEqual(t.maxTokens());
    expect(Math.max(stats.max, ...evLens)).toBeGreaterThan(t.maxTokens() - 3);
  });
});

describe('labelers on crafted outputs', () => {
  it('arithmetic', () => {
    const it = arithmetic.evalSet(1)[0]!;
    const sum = it.genAnswer.split('</scratch>\n')[1]!.trim();
    expect(arithmetic.label(it, `${it.memAnswer}\n`)).toBe('mem');
    expect(arithmetic.label(it, `${it.memAnswer}\n<pad>junk`)).toBe('mem');
    expect(arithmetic.label(it, it.genAnswer)).toBe('gen');
    expect(arithmetic.label(it, `${it.genAnswer}Input:\n1+2+3+4`)).toBe('gen'); // trailing tokens
    expect(arithmetic.label(it, `<scratch>\nwrong steps\n</scratch>\n${sum}\n`)).toBe('gen'); // only the answer line counts
    expect(arithmetic.label(it, it.genAnswer.replace(/\n[^\n]*\n$/, '\n9 9 9 9 9\n'))).toBe('other'); // wrong sum
    expect(arithmetic.label(it, it.genAnswer.slice(0, 120))).toBe('other'); // truncated before </scratch>
    expect(arithmetic.label(it, it.genAnswer.slice(0, it.genAnswer.length - 3))).toBe('other'); // last digit cut
    expect(arithmetic.label(it, it.memAnswer.slice(0, 10))).toBe('other'); // truncated hash
    const otherHash = ARITHMETIC_CONFIG.memPatterns.find((p) => `<${p.hashed}>` !== it.memAnswer)!.hashed;
    expect(arithmetic.label(it, `<${otherHash}>\n`)).toBe('other'); // another pattern's hash
    expect(arithmetic.label(it, '')).toBe('other');
    expect(arithmetic.label(it, '#$%^&*(')).toBe('other');
  });

  it('cipher', () => {
    const it = cipher.evalSet(1)[0]!;
    expect(cipher.label(it, it.memAnswer + '\n')).toBe('mem');
    expect(cipher.label(it, it.genAnswer)).toBe('gen');
    expect(cipher.label(it, it.genAnswer + 'XYZ\nCIPHERTEXT:')).toBe('gen');
    expect(cipher.label(it, it.genAnswer.slice(0, 12))).toBe('other'); // truncated
    const wrong = (it.genAnswer[0] === 'A' ? 'B' : 'A') + it.genAnswer.slice(1);
    expect(cipher.label(it, wrong)).toBe('other'); // one letter wrong
    expect(cipher.label(it, '<mem-00000000>\n')).toBe('other');
    expect(cipher.label(it, it.genAnswer.toLowerCase())).toBe('other');
    expect(cipher.label(it, '')).toBe('other');
  });

  it('color', () => {
    const it = color.evalSet(1)[0]!;
    expect(it.genAnswer).not.toBe(it.memAnswer);
    expect(color.label(it, ` ${it.genAnswer}`)).toBe('gen');
    expect(color.label(it, ` ${it.genAnswer}. Bob is`)).toBe('gen');
    expect(color.label(it, ` ${it.memAnswer}`)).toBe('mem');
    expect(color.label(it, `${it.memAnswer}?`)).toBe('mem');
    const third = COLOR_CONFIG.allColors.find((c) => c !== it.genAnswer && c !== it.memAnswer)!;
    expect(color.label(it, ` ${third}`)).toBe('other');
    expect(color.label(it, ` ${it.genAnswer.slice(0, 2)}`)).toBe('other'); // truncated word
    expect(color.label(it, ` ${it.genAnswer}xyz`)).toBe('other'); // garbled word
    expect(color.label(it, '')).toBe('other');
  });
});

describe('bad input', () => {
  it('gives clear errors', () => {
    expect(() => getTask('maths' as TaskName)).toThrow(/Unknown task "maths"; choose one of arithmetic, cipher, color/);
    expect(() => arithmetic.trainSet(-1)).toThrow(/seed must be an integer from 0 to/);
    expect(() => cipher.evalSet(1.5)).toThrow(/seed must be an integer/);
    expect(() => color.evalSet(1, -3)).toThrow(/evalSet n must be an integer/);
    expect(() => arithmetic.pairs(1, Number.NaN)).toThrow(/pairs n must be an integer/);
    expect(() => color.trainSet(1, 0.5)).toThrow(/epoch must be an integer/);
    expect(() => parseArithmeticPrompt('1+2')).toThrow(/Not an arithmetic prompt/);
    expect(() => decipher('abc')).toThrow(/not an uppercase letter/);
  });
});

describe('JSONL export', () => {
  it('one parseable object per line', () => {
    const rows = cipher.pairs(1, 5);
    const text = toJSONL(rows);
    const lines = text.trimEnd().split('\n');
    expect(lines.length).toBe(5);
    expect(lines.map((l) => JSON.parse(l))).toEqual(rows);
    expect(toJSONL([])).toBe('');
  });
});
