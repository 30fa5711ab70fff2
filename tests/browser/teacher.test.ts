// Teacher mode on the Home page (wasm, shipped cipher model): the workshop plan adds up to 45 minutes, every step
// says what to look at, the handout fills in with the session's real numbers, and printed (headless Chromium's
// page.pdf) it is one page on A4 and on Letter, with the lab's header and buttons left out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { join } from 'node:path';
import { outside, overlaps } from './layout';
import { baseUrl, isViteClientNoise, launchChromium, screenshotDir } from './chromium';

let browser: Browser;
beforeAll(async () => { browser = await launchChromium(); });
afterAll(async () => { await browser?.close(); });

const pages = (pdf: Buffer) => (pdf.toString('latin1').match(/\/Type\s*\/Page(?!s)/g) ?? []).length;

describe('teacher mode', () => {
  it('shows the 45-minute plan, fills the handout with real numbers, and prints it on one page', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error' && !isViteClientNoise(m.text())) errors.push(m.text()); });
    await page.goto(`${baseUrl()}/?page=home&backend=wasm`, { timeout: 120_000 });
    await page.waitForSelector('[data-testid=guided-load]:not([disabled])', { timeout: 120_000 });
    expect(await page.locator('[data-testid=teacher-look]').count()).toBe(0);
    await page.click('[data-testid=teacher-toggle]');
    await page.waitForFunction(() => location.search.includes('teacher=1'));
    expect(await page.textContent('[data-testid=teacher-plan]')).toMatch(/a 45-minute workshop in six steps \(5 \+ 5 \+ 12 \+ 10 \+ 8 \+ 5 min\)/);
    const looks = await page.locator('[data-testid=teacher-look]').allTextContents();
    expect(looks).toHaveLength(6);
    for (const l of looks) expect(l).toMatch(/^What to look at \(\d+ min\): [A-Z].{20,}[.?]$/);
    expect(await page.locator('[data-testid=handout]').count()).toBe(0); // nothing to hand out before a model is loaded
    expect(await page.isDisabled('[data-testid=handout-print]')).toBe(true);

    await page.click('[data-testid=guided-load]');
    await page.waitForSelector('[data-testid=handout]', { timeout: 120_000 });
    expect(await page.textContent('[data-testid=handout-model]')).toMatch(/At the kept checkpoint \(step \d+\), its \d+ validation prompts were answered \d+ by the rule \(gen\), \d+ from memory \(mem\)/);
    expect(await page.textContent('[data-testid=handout-neurons]')).toContain('Not run in this session');
    await page.fill('[data-testid=guided-pairs]', '30');
    await page.click('[data-testid=guided-neurons]');
    await page.waitForSelector('[data-testid=guided-pairs-summary]', { timeout: 600_000 });
    const neurons = (await page.textContent('[data-testid=handout-neurons]'))!;
    expect(neurons).toMatch(/Kept 30 of \d+ contrastive pairs \(flip rate [\d.]+%\): 30 prompts answered from memory, 30 by the rule\./);
    expect(neurons).toMatch(/Best probe: layer \d+ .* [\d.]+% held-out accuracy \(chance [\d.]+%\)/);
    expect(await page.locator('[data-testid=handout-neurons] tbody tr').count()).toBe(5);
    expect(await page.textContent('[data-testid=handout-steering]')).toContain('Not run in this session (step 4');
    expect(await page.isDisabled('[data-testid=handout-print]')).toBe(false);

    // the layout check on this page at both sizes: no overlapping text, no text past a chart's edge
    for (const vp of [{ width: 1280, height: 800 }, { width: 1920, height: 1080 }]) {
      await page.setViewportSize(vp);
      await page.waitForTimeout(400);
      expect([...await overlaps(page), ...await outside(page)], `teacher mode @${vp.width}`).toEqual([]);
    }
    // printed: the handout alone, on one page of A4 and of Letter
    await page.emulateMedia({ media: 'print' });
    expect(await page.isVisible('header')).toBe(false);
    expect(await page.isVisible('[data-testid=guided]')).toBe(false);
    expect(await page.isVisible('[data-testid=handout]')).toBe(true);
    await page.screenshot({ path: join(screenshotDir(), 'handout-print.png'), fullPage: true });
    for (const format of ['A4', 'Letter'] as const) {
      const pdf = await page.pdf({ format, printBackground: true, path: join(screenshotDir(), `handout-${format}.pdf`) });
      expect(pages(pdf), format).toBe(1);
    }
    await page.emulateMedia({ media: 'screen' });
    expect(await page.isVisible('header')).toBe(true);
    expect(errors).toEqual([]);
  }, 900_000);
});
