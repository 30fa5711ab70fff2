// Fresh evaluation prompts: disjoint from training, validation and pair prompts, deterministic, no repeats.
import { describe, expect, it } from 'vitest';
import { getTask } from '../../src/lib/tasks';
import { excludedPrompts, freshItems } from '../../src/lib/steer/fresh';

describe('fresh evaluation prompts', () => {
  for (const name of ['cipher', 'arithmetic', 'color'] as const) {
    it(`${name}: 300 prompts outside the training, validation and pair sets, the same for the same seed`, () => {
      const task = getTask(name);
      const ex = { trainSeed: 1, valSeeds: [1], pairs: [{ seed: 1, n: 400 }] };
      const exclude = excludedPrompts(task, ex);
      expect(exclude.size).toBeGreaterThan(400);
      const { items } = freshItems(task, 1, 300, exclude);
      expect(items.length).toBe(300);
      expect(new Set(items.map((x) => x.prompt)).size).toBe(300);
      for (const it of items) expect(exclude.has(it.prompt)).toBe(false);
      expect(items[0].id).toMatch(/-fresh-/);
      expect(freshItems(task, 1, 300, exclude).items).toEqual(items);
      expect(freshItems(task, 2, 300, exclude).items[0].prompt).not.toBe(items[0].prompt);
    });
  }

  it('drops a planted excluded prompt and tops up to the count asked', () => {
    const task = getTask('cipher');
    const first = freshItems(task, 4, 20, new Set()).items;
    const again = freshItems(task, 4, 20, new Set([first[3].prompt, first[7].prompt]));
    expect(again.removed).toBe(2);
    expect(again.items.length).toBe(20);
    expect(again.items.map((x) => x.prompt)).not.toContain(first[3].prompt);
    expect(again.items.slice(0, 3)).toEqual(first.slice(0, 3));
    expect(() => freshItems(task, 1, 0, new Set())).toThrow(/n must be a whole number >= 1/);
  });
});
