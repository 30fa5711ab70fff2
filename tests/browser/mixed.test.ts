// Inter-task consistency on GPT-2, as a user gets it: the shipped mixed model (one network trained on cipher and
// color at once) is loaded on the Neurons page, cipher's neurons are found, then the Steer page runs color's
// pairs, recording and analysis on the same network and compares the two tasks: overlap and rank agreement
// beside random sets, and color's neurons steering cipher's prompts beside cipher's own and a random control.
// The task being analyzed switches on the model picker, and lives in the link (part=).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Download } from 'playwright-core';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { parseReport } from '../../src/lib/report/schema';
import { baseUrl, figureInk, isViteClientNoise, launchChromium, screenshotDir, shippedModel } from './chromium';

const mixed = shippedModel('mixed');

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe('a mixed-task model', () => {
  it('finds each task’s neurons on one network and compares the tasks, with cross-steering and charts', async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error' && !isViteClientNoise(m.text())) errors.push(m.text()); });
    await page.goto(`${baseUrl()}/?page=neurons&backend=wasm&checkpoint=${mixed}`);
    await page.waitForSelector('[data-testid=model-load]:not([disabled])', { timeout: 120_000 });
    await page.click('[data-testid=model-load]');
    await page.waitForSelector('[data-testid=active-model]');
    expect(await page.textContent('[data-testid=active-model]')).toMatch(/mixed cipher\+color, analyzing cipher/);
    expect(await page.locator('[data-testid=model-part] option').allTextContents()).toEqual(['cipher', 'color']);

    // cipher's neurons
    await page.fill('[data-testid=pairs-target]', '30');
    await page.click('[data-testid=neurons-run-all]');
    await page.waitForSelector('[data-testid=analysis-summary]', { timeout: 600_000 });
    expect(await page.textContent('[data-testid=pairs-summary]')).toMatch(/kept 30 \(flip rate/);

    // the Steer page: color against cipher on the same network
    await page.click('nav >> text=Steer');
    await page.waitForSelector('[data-testid=inter-task]:not([disabled])', { timeout: 60_000 });
    expect(await page.locator('[data-testid=inter-task-choice] option').allTextContents()).toEqual(['color']);
    await page.locator('label:has-text("Pairs for the second analysis") input').fill('20');
    await page.locator('label:has-text("Control seeds") input').fill('2');
    await page.locator('label:has-text("Prompts per table") input').fill('8');
    await page.click('[data-testid=inter-task]');
    await page.waitForSelector('[data-testid=cross-steer-table] tbody tr', { timeout: 900_000 });
    expect(await page.locator('[data-testid=steer-error]').count()).toBe(0);
    const summary = await page.textContent('[data-testid=consistency]');
    const [, jac, rnd, rho] = /Jaccard ([\d.]+) \(random sets: ([\d.]+)\); Spearman of \|r\|: (-?[\d.]+)/.exec(summary ?? '') ?? [];
    expect(Number(jac)).toBeGreaterThanOrEqual(0);
    expect(Number(jac)).toBeLessThanOrEqual(1);
    expect(Number(rnd)).toBeGreaterThan(0);
    expect(Math.abs(Number(rho))).toBeLessThanOrEqual(1);
    const rows = await page.locator('[data-testid=cross-steer-table] tbody tr').allTextContents();
    expect(rows.length).toBeGreaterThanOrEqual(1);
    await page.waitForTimeout(300);
    const figs = await figureInk(page, 'main');
    expect(figs['consistency-bars'].rects).toBeGreaterThanOrEqual(3);
    expect(figs['cross-steer-bars'].rects).toBeGreaterThanOrEqual(3);
    await page.screenshot({ path: join(screenshotDir(), 'mixed-consistency.png'), fullPage: true });

    // the analyses of both tasks are kept for later comparisons
    const keys = await page.locator('label:has-text("A") select option').allTextContents();
    expect(keys.some((k) => k.startsWith('cipher ·')) && keys.some((k) => k.startsWith('color ·'))).toBe(true);

    // the session's report (Report page, same tab): both tasks named, the comparison inter-task, per-task charts
    await page.click('nav >> text=Report');
    await page.click('[data-testid=report-from-session]');
    await page.waitForSelector('[data-testid=report-summary]');
    expect(await page.textContent('[data-testid=report-summary]')).toMatch(/cipher \(analyzed\), of a model trained on cipher \+ color mixed/);
    const reportFigs = await figureInk(page, '[data-testid=report]');
    for (const id of ['report-evals-cipher', 'report-evals-color', 'report-consistency', 'report-cross-steering'])
      expect(reportFigs[id]?.paths + reportFigs[id]?.rects, `${id} has data`).toBeGreaterThan(0);
    const [d] = await Promise.all([page.waitForEvent('download') as Promise<Download>, page.click('[data-testid=report-save-json]')]);
    const path = join(screenshotDir(), d.suggestedFilename());
    await d.saveAs(path);
    const report = parseReport(readFileSync(path, 'utf8'));
    expect(report.task).toBe('cipher');
    expect(report.model.mixed).toEqual(['cipher', 'color']);
    expect(report.training?.chosen?.byTask?.color.total).toBe(100);
    const inter = report.consistency.find((c) => c.kind === 'inter')!;
    expect(inter.label).toBe('cipher vs color (one model)');
    expect(inter.positions).toBe(3 * 64);
    expect(inter.crossSteer!.length).toBeGreaterThanOrEqual(1);
    for (const x of inter.crossSteer!) for (const k of ['own', 'cross', 'control'] as const) expect(x[k].gen + x[k].mem + x[k].other).toBeCloseTo(100, 5);

    // back on the Neurons page, the picker switches the analyzed task; the link keeps it
    await page.click('nav >> text=Neurons');
    await page.waitForSelector('[data-testid=model-part]');
    await page.selectOption('[data-testid=model-part]', 'color');
    await page.waitForFunction(() => document.querySelector('[data-testid=active-model]')?.textContent?.includes('analyzing color'));
    await page.waitForFunction(() => location.search.includes('part=color'));
    expect(errors).toEqual([]);
    await page.close();
  });

  it('is offered on the guided path, with examples of each of its tasks, and loads', async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${baseUrl()}/?backend=wasm&checkpoint=${mixed}`);
    await page.waitForSelector('[data-testid=guided-examples] tbody tr');
    const rows = await page.locator('[data-testid=guided-examples] tbody tr').allTextContents();
    expect(rows.length).toBe(4);
    expect(rows.filter((r) => r.startsWith('CIPHERTEXT:')).length).toBe(2); // two cipher prompts, two color stories
    await page.waitForSelector('[data-testid=guided-load]:not([disabled])', { timeout: 120_000 });
    await page.click('[data-testid=guided-load]');
    await page.waitForSelector('[data-testid=guided-evals]', { timeout: 120_000 });
    expect(errors).toEqual([]);
    await page.close();
  });
});
