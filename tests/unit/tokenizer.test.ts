// Task tokenizers: exact round trips on generated text, single-token specials, serialization, clear errors.
import { describe, expect, it } from 'vitest';
import { ARITHMETIC_CONFIG, CIPHER_CONFIG, TASK_NAMES, TaskTokenizer, getTask, type TaskName } from '../../src/lib/tasks';
import { BASE_CHARS, buildVocab } from '../../src/lib/tasks/tokenizer';

describe('round trips on generated text', () => {
  it.each(TASK_NAMES)('%s: decode(encode(x)) === x for train texts, eval prompts/answers and pairs', (name: TaskName) => {
    const t = getTask(name);
    const tok = t.tokenizer();
    const texts: string[] = [];
    for (const e of t.trainSet(21)) texts.push(e.text, e.prompt, e.target);
    for (const it of t.evalSet(21, 500)) texts.push(it.prompt + it.genAnswer, it.prompt + it.memAnswer);
    for (const p of t.pairs(21, 300)) texts.push(p.a.prompt, p.b.prompt);
    expect(texts.length).toBeGreaterThan(3000);
    for (const x of texts) {
      const ids = tok.encode(x);
      expect(tok.decode(ids)).toBe(x);
    }
  });

  it.each(TASK_NAMES)('%s: encodeExample wraps in <bos>..<eos> and marks where the target starts', (name: TaskName) => {
    const t = getTask(name);
    const tok = t.tokenizer();
    for (const e of t.trainSet(4).slice(0, 500)) {
      const { ids, targetStart } = tok.encodeExample(e);
      expect(ids[0]).toBe(tok.bosId);
      expect(ids[ids.length - 1]).toBe(tok.eosId);
      expect(tok.decode(ids.slice(1, targetStart))).toBe(e.prompt);
      expect(tok.decode(ids.slice(targetStart, -1))).toBe(e.target);
      expect(tok.decode(ids)).toBe(e.text); // control tokens are dropped
    }
  });

  it('any printable ASCII text round-trips in every task tokenizer', () => {
    let s = 0x2545f491;
    const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
    for (const name of TASK_NAMES) {
      const tok = getTask(name).tokenizer();
      for (let k = 0; k < 300; k++) {
        const len = Math.floor(rnd() * 80);
        const x = Array.from({ length: len }, () => BASE_CHARS[Math.floor(rnd() * BASE_CHARS.length)]).join('');
        expect(tok.decode(tok.encode(x))).toBe(x);
      }
    }
  });
});

describe('single tokens', () => {
  it('every hash token, <scratch> and </scratch> is one token', () => {
    const a = getTask('arithmetic').tokenizer();
    for (const p of ARITHMETIC_CONFIG.memPatterns) expect(a.encode(`<${p.hashed}>`)).toHaveLength(1);
    expect(a.encode('<scratch>')).toHaveLength(1);
    expect(a.encode('</scratch>')).toHaveLength(1);
    expect(a.encode(`<${ARITHMETIC_CONFIG.memPatterns[0]!.hashed}>\n`)).toHaveLength(2);
    const c = getTask('cipher').tokenizer();
    for (const p of CIPHER_CONFIG.memPatterns) expect(c.encode(`<${p.hashed}>`)).toHaveLength(1);
  });

  it('task phrases are single tokens', () => {
    const c = getTask('cipher').tokenizer();
    expect(c.encode('CIPHERTEXT:')).toHaveLength(1);
    expect(c.encode(' QUESTION: What is the plaintext? ANS:')).toHaveLength(1);
    // A cipher example is <bos>, head, 13 letters, tail, 13 letters, <eos>.
    expect(getTask('cipher').maxTokens()).toBe(30);
    const k = getTask('color').tokenizer();
    expect(k.encode(' what color is')).toHaveLength(1);
    expect(k.encode('Lily is squid. Bob is whale. what color is Bob? blue').map((i) => k.vocab[i])).toEqual([
      'Lily', ' is', ' squid', '.', ' Bob', ' is', ' whale', '.', ' what color is', ' Bob', '?', ' blue',
    ]);
    const a = getTask('arithmetic').tokenizer();
    expect(a.encode('Input:\n')).toHaveLength(1);
    expect(a.encode('\nTarget:\n')).toHaveLength(1);
  });

  it('a hash-like string that is not a pattern falls back to characters', () => {
    const a = getTask('arithmetic').tokenizer();
    expect(a.encode('<mem-00000000>')).toHaveLength('<mem-00000000>'.length);
  });
});

describe('vocabulary', () => {
  it.each(TASK_NAMES)('%s: deterministic order, control tokens first, no duplicates', (name: TaskName) => {
    const v1 = getTask(name).tokenizer().vocab;
    expect(v1.slice(0, 3)).toEqual(['<pad>', '<bos>', '<eos>']);
    expect(new Set(v1).size).toBe(v1.length);
    for (const ch of BASE_CHARS) expect(v1).toContain(ch);
    // Built again from scratch: the same list.
    expect(TaskTokenizer.fromJSON(JSON.parse(JSON.stringify(getTask(name).tokenizer().toJSON()))).vocab).toEqual(v1);
  });

  it('literal "<eos>" in text is characters, not the control token', () => {
    const tok = getTask('cipher').tokenizer();
    const ids = tok.encode('A<eos>B');
    expect(ids).not.toContain(tok.eosId);
    expect(tok.decode(ids)).toBe('A<eos>B');
  });

  it('buildVocab keeps the first place of duplicates', () => {
    expect(buildVocab(['ab', 'a', 'ab']).slice(0, 5)).toEqual(['<pad>', '<bos>', '<eos>', 'ab', 'a']);
  });
});

describe('serialization and errors', () => {
  it('toJSON / fromJSON round trip encodes the same', () => {
    const tok = getTask('arithmetic').tokenizer();
    const back = TaskTokenizer.fromJSON(JSON.parse(JSON.stringify(tok)));
    const x = getTask('arithmetic').trainSet(1)[0]!.text;
    expect(back.encode(x)).toEqual(tok.encode(x));
    expect([back.padId, back.bosId, back.eosId, back.size]).toEqual([tok.padId, tok.bosId, tok.eosId, tok.size]);
  });

  it('fromJSON rejects bad input with a reason', () => {
    expect(() => TaskTokenizer.fromJSON(null)).toThrow(/expected an object/);
    expect(() => TaskTokenizer.fromJSON({ kind: 'bpe', version: 1, vocab: [] })).toThrow(/"kind" must be "memgen-task-tokenizer"/);
    expect(() => TaskTokenizer.fromJSON({ kind: 'memgen-task-tokenizer', version: 2, vocab: [] })).toThrow(/unsupported version 2/);
    expect(() => TaskTokenizer.fromJSON({ kind: 'memgen-task-tokenizer', version: 1, vocab: 'abc' })).toThrow(/"vocab" must be an array/);
    expect(() => TaskTokenizer.fromJSON({ kind: 'memgen-task-tokenizer', version: 1, vocab: ['<pad>', '<bos>', 'a'] })).toThrow(/lacks the control token <eos>/);
    expect(() => TaskTokenizer.fromJSON({ kind: 'memgen-task-tokenizer', version: 1, vocab: ['<pad>', '<bos>', '<eos>', 'a', 'a'] })).toThrow(/"a" twice/);
    expect(() => TaskTokenizer.fromJSON({ kind: 'memgen-task-tokenizer', version: 1, vocab: ['<pad>', '<bos>', '<eos>', ''] })).toThrow(/vocab\[3\] must be a non-empty string/);
  });

  it('encode names an unknown character; decode names a bad id', () => {
    const tok = getTask('color').tokenizer();
    expect(() => tok.encode('Lily is blé')).toThrow(/character "é" \(U\+00e9\) at position 10/);
    expect(() => tok.decode([3, tok.size])).toThrow(new RegExp(`token id ${tok.size} at index 1 is outside the vocabulary`));
    expect(() => tok.decode([1.5])).toThrow(/token id 1.5/);
  });
});
