// Two tabs, one run: the tab that trains a run owns it (a Web Lock held by its worker). Opening the Train page
// in a second tab must not mark the live run "interrupted" nor offer to resume it (two trainers would write one
// run); the second tab lists it as live elsewhere and can watch its progress. A stopped run reads "stopped".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { baseUrl, launchChromium } from './chromium';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

const row = '[data-testid=runs-table] tbody tr';
const stepOf = async (page: Page) => Number(/step (\d+)/.exec((await page.textContent('[data-testid=train-watched]')) ?? '')?.[1] ?? NaN);

describe('two tabs', () => {
  it('the second tab sees the run live elsewhere, watches it, and is never offered to resume it', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 1000 } });
    const errors: string[] = [];
    const a = await ctx.newPage();
    a.on('pageerror', (e) => errors.push(`A: ${e}`));
    await a.goto(`${baseUrl()}/?page=train&backend=wasm&task=cipher&preset=tiny`);
    await a.waitForSelector('[data-testid=train-start]:not([disabled])', { timeout: 120_000 });
    await a.fill('[data-testid=train-steps]', '2000');
    await a.fill('[data-testid=train-eval-every]', '3');
    await a.fill('[data-testid=train-eval-limit]', '2');
    await a.click('[data-testid=train-start]');
    await a.waitForSelector('text=best so far', { timeout: 180_000 }); // a checkpoint is stored: resumable, were it not live

    const b = await ctx.newPage();
    b.on('pageerror', (e) => errors.push(`B: ${e}`));
    await b.goto(`${baseUrl()}/?page=train&backend=wasm&task=cipher&preset=tiny`);
    await b.waitForSelector(`${row}:has-text("live in another tab")`, { timeout: 120_000 });
    expect(await b.locator(`${row} button:has-text("Resume")`).count()).toBe(0);
    // the first tab still owns a running run
    await a.bringToFront();
    expect(await a.textContent(row)).not.toMatch(/interrupted/);
    expect(await a.textContent(row)).toMatch(/running/);

    // watching: the owner's progress arrives in the second tab
    await b.click('[data-testid=train-watch]');
    await b.waitForFunction(() => /step \d+, loss \d/.test(document.querySelector('[data-testid=train-watched]')?.textContent ?? ''), null, { timeout: 120_000 });
    const s1 = await stepOf(b);
    await b.waitForFunction((s) => Number(/step (\d+)/.exec(document.querySelector('[data-testid=train-watched]')?.textContent ?? '')?.[1]) > s, s1, { timeout: 120_000 });

    // the owner stops it: both tabs list it as "stopped" (not "paused"), and now either may resume it
    await a.click('[data-testid=train-cancel]');
    await a.waitForSelector(`${row}:has-text("stopped")`, { timeout: 120_000 });
    await b.waitForSelector(`${row}:has-text("stopped")`, { timeout: 60_000 });
    expect(await b.textContent(row)).not.toMatch(/paused|live in another tab/);
    await b.waitForSelector(`${row} button:has-text("Resume"):not([disabled])`, { timeout: 60_000 });
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('when the owning tab closes, the other tab lists the run as interrupted and offers to resume it', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 1000 } });
    const a = await ctx.newPage();
    await a.goto(`${baseUrl()}/?page=train&backend=wasm&task=cipher&preset=tiny`);
    await a.waitForSelector('[data-testid=train-start]:not([disabled])', { timeout: 120_000 });
    await a.fill('[data-testid=train-steps]', '2000');
    await a.fill('[data-testid=train-eval-every]', '3');
    await a.fill('[data-testid=train-eval-limit]', '2');
    await a.click('[data-testid=train-start]');
    await a.waitForSelector('text=best so far', { timeout: 180_000 });
    const b = await ctx.newPage();
    await b.goto(`${baseUrl()}/?page=train&backend=wasm&task=cipher&preset=tiny`);
    const live = `${row}:has-text("live in another tab")`;
    await b.waitForSelector(live, { timeout: 120_000 });
    const title = (await b.textContent(`${live} td`))!;
    await a.close();
    const mine = `${row}:has-text("${title}")`;
    await b.waitForSelector(`${mine}:has-text("interrupted")`, { timeout: 60_000 });
    await b.waitForSelector(`${mine} button:has-text("Resume")`, { timeout: 60_000 });
    await ctx.close();
  });
});
