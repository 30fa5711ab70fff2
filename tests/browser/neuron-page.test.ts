// A page per neuron, on the shipped cipher checkpoint (wasm): opened from the top-neuron table and from a volcano
// point, it shows r, NMD and q (the same as the table), the mem/gen histogram, the prompts that drive the neuron
// most and least with their labels, and steering it alone beside the matched control. Steer's first try moves
// something. A copied neuron link opened in a fresh browser offers a recompute with an ETA and then shows the
// same numbers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { join } from 'node:path';
import { outside, overlaps } from './layout';
import { baseUrl, isViteClientNoise, launchChromium, screenshotDir, shippedModel } from './chromium';

const file = shippedModel('cipher');
let browser: Browser;
beforeAll(async () => { browser = await launchChromium(); });
afterAll(async () => { await browser?.close(); });

function watch(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error' && !isViteClientNoise(m.text())) errors.push(m.text()); });
  return errors;
}

/** The table prints 3 significant digits; the page 4 decimals. */
const near = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(0.006 * Math.abs(b) + 1e-3);
const text = (page: Page, id: string) => page.locator(`[data-testid=${id}]`).first().textContent().then((t) => (t ?? '').replace(/\s+/g, ' ').trim());

describe('neuron page', () => {
  it('opens from a table and a chart point with real content, steers one neuron, and a copied link recomputes the same numbers', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 900 }, permissions: ['clipboard-read', 'clipboard-write'] });
    const page = await ctx.newPage();
    const errors = watch(page);
    await page.goto(`${baseUrl()}/?page=neurons&backend=wasm&checkpoint=${file}`, { timeout: 120_000 });
    await page.waitForSelector('[data-testid=model-load]:not([disabled])', { timeout: 120_000 });
    expect(await page.locator('[data-testid=recompute]').count()).toBe(0); // no pairs in the link: nothing to recompute
    await page.click('[data-testid=model-load]');
    await page.waitForSelector('[data-testid=active-model]');
    await page.fill('[data-testid=pairs-target]', '30');
    await page.click('[data-testid=neurons-run-all]');
    await page.waitForSelector('[data-testid=analysis-summary]', { timeout: 600_000 });
    const summary = await text(page, 'analysis-summary');
    expect(page.url()).toContain('pairs=30');

    // from the table: the first (strongest) neuron
    const first = (await page.locator('[data-testid=top-neurons] tbody tr:first-child td').allTextContents()).map((t) => t.trim());
    const [, hook, , neuron, r, nmd, q] = first;
    await page.click('[data-testid=top-neurons] tbody tr:first-child');
    await page.click('[data-testid=neuron-page-link]');
    await page.waitForSelector('[data-testid=neuron-stats]', { timeout: 60_000 });
    expect(page.url()).toContain('page=neuron&');
    expect(await page.locator('h1').textContent()).toContain(`${hook} · #${neuron}`);
    near(Number(await text(page, 'neuron-r')), Number(r));
    near(Number(await text(page, 'neuron-nmd')), Number(nmd));
    expect(await text(page, 'neuron-q')).toBe(q);
    const shown = { r: await text(page, 'neuron-r'), nmd: await text(page, 'neuron-nmd') };
    expect(await text(page, 'neuron-rank')).toMatch(/^1 of [\d,]+ informative positions/);
    expect(await page.locator('[data-testid=neuron-histogram] svg rect').count()).toBeGreaterThan(4);
    const most = await page.locator('[data-testid=neuron-most] tbody tr').allTextContents();
    const least = await page.locator('[data-testid=neuron-least] tbody tr').allTextContents();
    expect(most.length).toBe(8);
    expect(least.length).toBe(8);
    for (const row of [...most, ...least]) expect(row).toMatch(/(mem|gen)-?\d/); // prompt text, label, activation
    // the strongest neuron separates the labels: its most-activating prompts lean to one label, its least to the other
    const memShare = (rows: string[]) => rows.filter((x) => /mem-?\d/.test(x)).length;
    expect(Number(r) > 0 ? memShare(most) > memShare(least) : memShare(most) < memShare(least)).toBe(true);

    // steering this neuron alone, beside the matched control
    await page.fill('[data-testid=neuron-alphas]', '0, 20');
    await page.fill('[data-testid=neuron-prompts]', '6');
    await page.fill('[data-testid=neuron-seeds]', '2');
    await page.click('[data-testid=neuron-steer]');
    await page.waitForSelector('[data-testid=neuron-steer-table] tbody tr', { timeout: 600_000 });
    const steer = await page.locator('[data-testid=neuron-steer-table] tbody tr').allTextContents();
    expect(steer.length).toBe(4);
    expect(steer[0]).toMatch(/^Mem → Gen \(% gen\)0\d+0\.0%0\.0%/); // α = 0 moves nothing, neither does its control
    expect(steer[2]).toMatch(/^Gen → Mem \(% mem\)0\d+0\.0%0\.0%/);
    for (const row of steer) expect(row).toMatch(/(holds|not shown)/);
    expect(await page.locator('[data-testid=neuron-steer-memToGen] svg rect').count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(screenshotDir(), 'neuron-page.png'), fullPage: true });
    // the layout check on this page at both sizes: no overlapping text, no text past a chart's edge
    for (const vp of [{ width: 1280, height: 800 }, { width: 1920, height: 1080 }]) {
      await page.setViewportSize(vp);
      await page.waitForTimeout(400);
      expect([...await overlaps(page), ...await outside(page)], `neuron page @${vp.width}`).toEqual([]);
    }

    // the link of this page, as Copy link gives it
    await page.click('[data-testid=copy-link]');
    await page.waitForSelector('[data-testid=copy-link]:has-text("Link copied")');
    const link = await page.evaluate(() => navigator.clipboard.readText());
    expect(link).toMatch(/checkpoint=.*pairs=30|pairs=30.*checkpoint=/);

    // from a chart point: the volcano's strongest highlighted point, chosen with the keys
    await page.click('[data-testid=neuron-back]');
    await page.waitForSelector('[data-testid=volcano] svg.chart-svg');
    await page.focus('[data-testid=volcano] svg.chart-svg');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid=neuron-detail]');
    const second = (await page.locator('[data-testid=neuron-detail] h3').textContent())!;
    await page.click('[data-testid=neuron-page-link]');
    await page.waitForSelector('[data-testid=neuron-stats]', { timeout: 60_000 });
    const [h2, n2] = second.split(' · neuron ');
    expect(await page.locator('h1').textContent()).toContain(`${h2} · #${n2}`);
    expect(await text(page, 'neuron-rank')).toMatch(/^2 of /);
    expect(await page.locator('[data-testid=neuron-most] tbody tr').count()).toBe(8);

    // Steer's first try: a prompt answered from memory, steered toward generalization, and something moves
    await page.click('nav >> text=Steer');
    await page.waitForSelector('[data-testid=steer-try]:not([disabled])', { timeout: 120_000 });
    expect(await page.locator('[data-testid=steer-direction]').inputValue()).toBe('toGen');
    await page.click('[data-testid=steer-try]');
    await page.waitForSelector('[data-testid=steer-try-result] tbody tr', { timeout: 120_000 });
    const rows = await page.locator('[data-testid=steer-try-result] tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent ?? '')));
    const [base, steered] = rows;
    expect(base[2]).toBe('mem');
    // the steered row differs from the baseline: another output or label, or another P(gen answer)
    expect(steered[1] !== base[1] || steered[2] !== base[2] || steered[4] !== base[4]).toBe(true);
    await page.click('[data-testid=copy-link]');
    await page.waitForSelector('[data-testid=copy-link]:has-text("Link copied")');
    const steerLink = await page.evaluate(() => navigator.clipboard.readText());
    expect(steerLink).toMatch(/page=steer/);
    expect(steerLink).toMatch(/item=\d+/);
    expect(errors).toEqual([]);
    await ctx.close();

    // the copied link in a fresh browser (no IndexedDB, no session): recompute with an ETA, then the same numbers
    const fresh = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const p2 = await fresh.newPage();
    const errors2 = watch(p2);
    await p2.goto(link.includes('backend=') ? link : `${link}&backend=wasm`, { timeout: 120_000 });
    await p2.waitForSelector('[data-testid=recompute-eta]', { timeout: 180_000 });
    expect(await text(p2, 'recompute-eta')).toMatch(/Measured here: [\d.]+ pairs\/s decoded, \d+% of 64 kept, [\d.]+ rows\/s recorded\. .*(About|about) \d+ (s|min)/);
    expect(await text(p2, 'recompute-run')).toMatch(/^Recompute \(about \d+ (s|min)\)$/);
    await p2.click('[data-testid=recompute-run]');
    await p2.waitForSelector('[data-testid=neuron-stats]', { timeout: 600_000 });
    expect(await p2.locator('h1').textContent()).toContain(`${hook} · #${neuron}`);
    expect(await text(p2, 'neuron-r')).toBe(shown.r);
    expect(await text(p2, 'neuron-nmd')).toBe(shown.nmd);
    expect(await text(p2, 'neuron-q')).toBe(q);
    expect(await p2.locator('[data-testid=neuron-most] tbody tr').allTextContents()).toEqual(most);
    // and the Neurons page of that browser shows the same analysis
    await p2.click('[data-testid=neuron-back]');
    await p2.waitForSelector('[data-testid=analysis-summary]');
    expect(await text(p2, 'analysis-summary')).toBe(summary);
    expect(errors2).toEqual([]);
    await fresh.close();

    // the Steer link in another fresh browser: recompute, then the same try, row for row
    const fresh3 = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const p3 = await fresh3.newPage();
    const errors3 = watch(p3);
    await p3.goto(steerLink.includes('backend=') ? steerLink : `${steerLink}&backend=wasm`, { timeout: 120_000 });
    await p3.waitForSelector('[data-testid=recompute-run]', { timeout: 180_000 });
    await p3.click('[data-testid=recompute-run]');
    await p3.waitForSelector('[data-testid=steer-try-result] tbody tr', { timeout: 600_000 });
    const rows3 = await p3.locator('[data-testid=steer-try-result] tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent ?? '')));
    expect(rows3).toEqual(rows);
    expect(errors3).toEqual([]);
    await fresh3.close();
  }, 1_800_000);
});
