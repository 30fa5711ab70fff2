// The Neurons and Steer pages on the shipped cipher checkpoint, as a user drives them (wasm backend, small
// settings): pairs to the neuron map with progress shown, a neuron's details from the top-neuron table (and its
// link), then one prompt steered beside its random control, and a sweep.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { join } from 'node:path';
import { baseUrl, figureInk, isViteClientNoise, launchChromium, screenshotDir, shippedModel } from './chromium';

const cipher = { file: shippedModel('cipher') };

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe('Neurons and Steer pages', () => {
  it('go from pairs to the neuron map with progress, open a neuron, and steer beside a random control', async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error' && !isViteClientNoise(m.text())) errors.push(m.text()); });
    await page.goto(`${baseUrl()}/?page=neurons&backend=wasm&checkpoint=${cipher.file}`);
    await page.waitForSelector('[data-testid=model-load]:not([disabled])', { timeout: 120_000 });
    await page.click('[data-testid=model-load]');
    await page.waitForSelector('[data-testid=active-model]');
    expect(await page.textContent('[data-testid=active-model]')).toContain(cipher.file);

    await page.fill('[data-testid=pairs-target]', '30');
    await page.click('[data-testid=neurons-run-all]');
    // progress is shown while the pairs are decoded (phase, counts and ETA)
    await page.waitForSelector('[data-testid=progress] .meta', { timeout: 60_000 });
    expect(await page.textContent('[data-testid=progress] .meta')).toMatch(/ETA/);
    await page.waitForSelector('[data-testid=analysis-summary]', { timeout: 600_000 });
    expect(await page.locator('[data-testid=neurons-error]').count()).toBe(0);
    expect(await page.textContent('[data-testid=pairs-summary]')).toMatch(/kept 30 \(flip rate/);
    expect(await page.textContent('[data-testid=record-summary]')).toMatch(/Stored 60 rows/);
    await page.waitForTimeout(300);
    const figs = await figureInk(page, 'main');
    expect(figs['neuron-map'].canvasInk).toBeGreaterThan(1000); // 3 hooks x 64 neurons, painted
    expect(figs['layer-distribution'].rects).toBeGreaterThan(0);
    expect(figs['probe-accuracy'].rects).toBeGreaterThanOrEqual(3);

    // a neuron from the table: its details and histogram, and its link
    await page.click('[data-testid=top-neurons] tbody tr:first-child');
    await page.waitForSelector('[data-testid=neuron-detail] figure.viz');
    const title = await page.textContent('[data-testid=neuron-detail] h3');
    await page.waitForFunction(() => location.search.includes('neuron='));
    expect(page.url()).toMatch(/hook=blocks\.\d\.hook_resid_(post|pre)|hook=hook_embed/);
    await page.screenshot({ path: join(screenshotDir(), 'neurons.png'), fullPage: true });

    // Steer (same tab: the worker keeps the analysis)
    await page.click('nav >> text=Steer');
    await page.waitForSelector('[data-testid=steer-try]:not([disabled])', { timeout: 60_000 });
    await page.locator('[data-testid=steer-alpha]').fill('3');
    await page.click('[data-testid=steer-try]');
    await page.waitForSelector('[data-testid=steer-try-result] tbody tr');
    const tryRows = await page.locator('[data-testid=steer-try-result] tbody tr').allTextContents();
    expect(tryRows.length).toBe(5);
    expect(tryRows[0]).toMatch(/^baseline/);
    expect(tryRows[1]).toMatch(/^steered \(\d+ neurons\)/);
    expect(tryRows[2]).toMatch(/^paper control/);
    expect(tryRows[3]).toMatch(/^matched control/);
    expect(tryRows[4]).toMatch(/^direction control/);
    for (const r of tryRows) expect(r).toMatch(/(mem|gen|other)(< )?\d/); // a label, then P(mem) as a percentage
    for (const r of tryRows) expect(r).not.toMatch(/\de-\d/); // "< 0.01%", never "5.87e-37%"

    await page.fill('input[type=text][size="16"]', '1, 3');
    await page.locator('label:has-text("Control seeds") input').fill('2');
    await page.locator('label:has-text("Prompts per table") input').fill('8');
    await page.click('[data-testid=steer-sweep]');
    await page.waitForSelector('[data-testid=steer-table-memToGen] tbody tr', { timeout: 600_000 });
    expect(await page.locator('[data-testid=steer-table-memToGen] tbody tr').count()).toBe(4); // 2 alphas x 2 fractions
    // every control is named, with a verdict per control, and the pool of fresh prompts is counted
    const head = await page.locator('[data-testid=steer-table-memToGen] thead').textContent();
    for (const k of ['paper', 'matched', 'direction']) expect(head).toContain(`vs ${k}`);
    expect(await page.textContent('[data-testid=steer-pool]')).toMatch(/fresh prompts/);
    expect(await page.locator('[data-testid=steer-error]').count()).toBe(0);

    expect(title).toMatch(/neuron \d+/);
    expect(errors).toEqual([]);
    await page.close();
  });
});
