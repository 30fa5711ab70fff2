// The lab's LLaMA tokenizer on the real LLaMA-3 vocabulary and merges (from the llama3-tokenizer-js package,
// a dev dependency), against that package's encoder: the same ids on varied text (words, contractions, digits
// in groups of three, punctuation runs, whitespace, accents, CJK, emoji, code, special tokens), and decode back.
import { describe, expect, it } from 'vitest';
import { LlamaTokenizer } from '../../src/lib/models/llama/tokenizer';
import { llama3Encode, llama3Vocab } from '../../scripts/llama3-vocab';

const TEXTS = [
  'Hello world', ' the cat and the dog', "I'm sure they'll say it's theirs, we've seen it, you'd agree, I'd've", "DON'T SHOUT, he SAID'S",
  '12 + 345 = 357; 1234567 and 3.14159, 1,000,000', '2024-06-01T12:00:00Z', 'Price: $19.99 (20% off!!!)',
  'Tabs\tand\nnewlines\n\n\nand    spaces   ', '   leading and trailing   ', '\n', ' ',
  'naïve café résumé Zürich Ångström', 'Москва и Санкт-Петербург', '東京は日本の首都です。', '🙂 emoji 👍🏽 and ZWJ 👨‍👩‍👧',
  'function f(x) { return x ** 2; } // comment', '<div class="a">x&amp;y</div>', 'def f(a, b):\n    return a+b\n',
  'A cipher: xli uymgo fvsar jsb nyqtw', 'Translate "red" to the color code: #FF0000', '...?!?!...---___',
  '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>', 'ÀÁÂÃÄÅ àáâãäå', 'x'.repeat(300),
  "The quick brown fox jumps over the lazy dog's back 17 times.", 'supercalifragilisticexpialidocious antidisestablishmentarianism',
];

describe('LLaMA-3 tokenizer (real vocabulary)', () => {
  const v = llama3Vocab();
  const tok = new LlamaTokenizer(v.tokens, v.types, v.merges, { bos: v.bos, eos: v.eos, eot: v.eot });

  it('has the real vocabulary: 128,256 tokens, 280,147 merges, the special ids', () => {
    expect(tok.vocabSize).toBe(128256);
    expect(v.merges.length).toBe(280147);
    expect(tok.tokenId('<|begin_of_text|>')).toBe(128000);
    expect(tok.tokenId('<|eot_id|>')).toBe(128009);
  });

  it('encodes every text as llama3-tokenizer-js does, and decodes it back', () => {
    for (const t of TEXTS) {
      const ours = tok.encode(t), theirs = llama3Encode(t);
      expect(ours, JSON.stringify(t)).toEqual(theirs);
      expect(tok.decode(ours)).toBe(t);
    }
  });
});
