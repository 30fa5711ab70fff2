// Links that reproduce: "Copy link" on every page copies an address that carries the page's settings (a fresh
// browser opened on it shows the same Train settings), parameters stay with their page, ?task= opens a model of
// that task, and the Neurons page says what comes first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { baseUrl, launchChromium, shippedModel } from './chromium';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe('links', () => {
  it('Train settings travel in a copied link and come back in a fresh browser', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, permissions: ['clipboard-read', 'clipboard-write'] });
    const page = await ctx.newPage();
    await page.goto(`${baseUrl()}/?page=train&backend=wasm&task=color&steps=500`, { timeout: 120_000 });
    await page.waitForSelector('[data-testid=train-steps]', { timeout: 120_000 });
    expect(await page.inputValue('[data-testid=train-steps]')).toBe('500');
    await page.fill('[data-testid=train-eval-every]', '25');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('every') === '25');
    for (const p of ['home', 'tasks', 'train', 'neurons', 'steer', 'llama', 'runs', 'report', 'device']) {
      await page.click(`nav a[href="?page=${p}"]`);
      expect(await page.isVisible('[data-testid=copy-link]')).toBe(true);
      // before any analysis, Home does not open empty neuron or steering pages
      if (p === 'home') expect(await page.isDisabled('[data-testid=guided-open-map]')).toBe(true);
      // Train's settings belong to Train: not in the other pages' links, back when Train is
      expect(new URL(page.url()).searchParams.get('steps')).toBe(p === 'train' ? '500' : null);
    }
    await page.click('nav a[href="?page=train"]');
    await page.waitForSelector('[data-testid=train-steps]');
    await page.click('[data-testid=copy-link]');
    await page.waitForSelector('[data-testid=copy-link]:has-text("Link copied")');
    const link = await page.evaluate(() => navigator.clipboard.readText());
    await ctx.close();

    const fresh = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const p2 = await fresh.newPage();
    await p2.goto(link, { timeout: 120_000 });
    await p2.waitForSelector('[data-testid=train-steps]', { timeout: 120_000 });
    expect(await p2.inputValue('[data-testid=train-task]')).toBe('color');
    expect(await p2.inputValue('[data-testid=train-steps]')).toBe('500');
    expect(await p2.inputValue('[data-testid=train-eval-every]')).toBe('25');
    await fresh.close();
  });

  it("Steer's parameters stay on Steer; ?task=color opens the color model; Neurons says to pick a model first", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${baseUrl()}/?page=steer&backend=wasm&alpha=2&top=0.1&dir=toMem&task=color`, { timeout: 120_000 });
    await page.waitForSelector('main h1');
    await page.click('nav a[href="?page=neurons"]');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('page') === 'neurons');
    const q = new URL(page.url()).searchParams;
    expect([q.get('alpha'), q.get('top'), q.get('dir')]).toEqual([null, null, null]);
    expect(q.get('task')).toBe('color');
    await page.waitForFunction((f) => (document.querySelector('[data-testid=model-choice]') as HTMLSelectElement | null)?.value.endsWith(f) ?? false, shippedModel('color'), { timeout: 60_000 });
    await page.waitForSelector('[data-testid=neurons-need-model]', { timeout: 120_000 });
    expect(await page.textContent('[data-testid=neurons-need-model]')).toMatch(/Use this model/);
    expect(await page.inputValue('[data-testid=pairs-target]')).toBe('300');
    await page.close();
  });
});
