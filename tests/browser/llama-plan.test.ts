// The LLaMA page's plan before a download (issue 18): the known-good Llama-3.2 links are listed with the memory
// memory-plan.ts predicts (the formulas the full-size bench checks), choosing one fills the address without
// fetching anything, and a random-weight file is called untrained as soon as its header is read.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { resolve } from 'node:path';
import { baseUrl, launchChromium } from './chromium';
import { LLAMA_32_LINKS, LLAMA_32_SHAPES, memoryPlan, q4kmWeightBytes } from '../../src/lib/models/llama/memory-plan';

let browser: Browser;
beforeAll(async () => { browser = await launchChromium(); });
afterAll(async () => { await browser?.close(); });

describe('LLaMA page plan', () => {
  it('lists known-good files with predicted memory, fetches none unasked, and names a random-weight file untrained', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 1000 } });
    const page = await ctx.newPage();
    const fetched: string[] = [];
    await ctx.route('https://huggingface.co/**', (r) => { fetched.push(r.request().url()); return r.abort(); });
    await page.goto(`${baseUrl()}/?page=llama&backend=wasm`, { timeout: 120_000 });
    await page.waitForSelector('[data-testid=llama-file]:not([disabled])', { timeout: 120_000 });

    await page.click('[data-testid=llama-links] summary');
    const rows = page.locator('[data-testid=llama-link]');
    expect(await rows.count()).toBe(LLAMA_32_LINKS.length);
    for (let i = 0; i < LLAMA_32_LINKS.length; i++) {
      const l = LLAMA_32_LINKS[i], s = LLAMA_32_SHAPES[l.shape];
      const p = memoryPlan(s, q4kmWeightBytes(s));
      const text = await rows.nth(i).textContent();
      expect(text).toContain(l.label);
      expect(await rows.nth(i).locator('[data-testid=llama-link-lora]').textContent()).toContain(`${(p.lora.totalBytes / 2 ** 20).toFixed(0)} MB`); // the page's MB
    }
    // the 3B file: its LoRA step is over what the wasm heap holds, and the row says so
    const i3 = LLAMA_32_LINKS.findIndex((l) => l.shape === '3B');
    const p3 = memoryPlan(LLAMA_32_SHAPES['3B'], q4kmWeightBytes(LLAMA_32_SHAPES['3B']));
    expect(await rows.nth(i3).locator('[data-testid=llama-link-lora]').textContent()).toContain(p3.loraFitsWasm ? '' : 'over the wasm heap');
    await rows.nth(i3).locator('[data-testid=llama-link-use]').click();
    expect(await page.inputValue('[data-testid=llama-url]')).toBe(LLAMA_32_LINKS[i3].url);
    await page.waitForTimeout(500);
    expect(fetched).toEqual([]); // shown, never fetched unasked

    // a random-weight fixture: untrained, said with the header, before any chat
    await page.setInputFiles('[data-testid=llama-file]', resolve('tests/fixtures/tiny-llama-q8_0.gguf'));
    await page.waitForSelector('[data-testid=random-weights-plan]', { timeout: 120_000 });
    expect(await page.textContent('[data-testid=random-weights-plan]')).toMatch(/Untrained.*random weights.*noise/);
    expect(await page.textContent('[data-testid=llama-estimate]')).toMatch(/MB to chat .* MB for a LoRA step/);
    await ctx.close();
  }, 240_000);
});
