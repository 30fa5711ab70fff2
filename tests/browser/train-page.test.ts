// The Train page in headless Chromium on the wasm backend: a short run trains with live charts, keeps a
// checkpoint, survives a reload mid-run (offered for resume), resumes, and finishes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { join } from 'node:path';
import { baseUrl, launchChromium, screenshotDir } from './chromium';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

async function setNumber(page: Page, testid: string, v: number) {
  await page.fill(`[data-testid=${testid}]`, String(v));
}

describe('Train page', () => {
  it('trains, charts, checkpoints, survives a reload, resumes and finishes', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 1000 } });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${baseUrl()}/?page=train&backend=wasm&task=cipher&preset=tiny`);
    await page.waitForSelector('[data-testid=train-start]:not([disabled])', { timeout: 120_000 });
    await setNumber(page, 'train-steps', 40);
    await setNumber(page, 'train-eval-every', 4);
    await setNumber(page, 'train-eval-limit', 4);
    await page.click('[data-testid=train-start]');
    // live: the loss chart draws a line and the validation chart gets points
    await page.waitForFunction(() => {
      const p = document.querySelector('[data-testid=line-chart] path[d]');
      return p && (p.getAttribute('d') ?? '').length > 20;
    }, null, { timeout: 180_000 });
    // a flat line has an empty box, so wait for it to be attached rather than visible
    await page.waitForSelector('[data-testid=label-shares] path[d]', { timeout: 180_000, state: 'attached' });
    await page.screenshot({ path: join(screenshotDir(), 'train-live.png'), fullPage: true });
    // wait until at least one checkpoint is stored, then reload mid-run
    await page.waitForSelector('text=best so far', { timeout: 180_000 });
    await page.reload();
    await page.waitForSelector('[data-testid=runs-table] tr:has-text("interrupted")', { timeout: 120_000 });
    await page.waitForSelector('[data-testid=runs-table] button:has-text("Resume"):not([disabled])', { timeout: 120_000 });
    await page.click('[data-testid=runs-table] button:has-text("Resume")');
    await page.waitForSelector('text=Training finished', { timeout: 300_000 });
    await page.waitForSelector('[data-testid=runs-table] tr:has-text("done")');
    const stepCell = await page.textContent('[data-testid=runs-table] tbody tr');
    expect(stepCell).toContain('40 / 40');
    await page.screenshot({ path: join(screenshotDir(), 'train-done.png'), fullPage: true });
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('trains a mixed model: picks its tasks, charts each task, and names them in the run', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 1000 } });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${baseUrl()}/?page=train&backend=wasm&task=mixed&preset=tiny`);
    await page.waitForSelector('[data-testid=train-start]:not([disabled])', { timeout: 120_000 });
    // the tiny defaults: cipher + color (arithmetic's scratchpads are too slow for the CPU preset)
    expect(await page.isChecked('[data-testid=train-part-cipher]')).toBe(true);
    expect(await page.isChecked('[data-testid=train-part-color]')).toBe(true);
    expect(await page.isChecked('[data-testid=train-part-arithmetic]')).toBe(false);
    // one task is not a mix: the worker refuses with a message naming the problem
    await page.uncheck('[data-testid=train-part-color]');
    await page.click('[data-testid=train-start]');
    await page.waitForSelector('[data-testid=train-error]');
    expect(await page.textContent('[data-testid=train-error]')).toMatch(/at least two different tasks/);
    await page.check('[data-testid=train-part-color]');
    await setNumber(page, 'train-steps', 4);
    await setNumber(page, 'train-eval-every', 2);
    await setNumber(page, 'train-eval-limit', 3);
    await page.click('[data-testid=train-start]');
    await page.waitForSelector('text=Training finished', { timeout: 300_000 });
    const titles = await page.locator('[data-testid=train-live] figcaption, [data-testid=train-live] h3, [data-testid=train-live] .title').allTextContents();
    expect(titles.join(' | ')).toMatch(/Validation, cipher/);
    expect(titles.join(' | ')).toMatch(/Validation, color/);
    expect(await page.textContent('[data-testid=runs-table] tbody')).toMatch(/GPT-2 tiny on mixed cipher\+color/);
    expect(errors).toEqual([]);
    await ctx.close();
  });
});
