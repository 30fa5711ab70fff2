// The guided path end to end, as a new user meets it: open the lab, run every step on the shipped cipher checkpoint
// (wasm backend, a small pair target), and check that every figure has data, that the steering tables with their
// random controls are there, that a copied link restores the same view in a fresh tab, and that the report saved
// as JSON opens back identically (from the file, and from the stored run through its link).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Download, Page } from 'playwright-core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseUrl, figureInk, isViteClientNoise, launchChromium, screenshotDir, shippedModel } from './chromium';
import { parseReport } from '../../src/lib/report/schema';

const cipher = { file: shippedModel('cipher') };

let browser: Browser;
let dir = '';
beforeAll(async () => {
  browser = await launchChromium();
  dir = mkdtempSync(join(tmpdir(), 'memgen-guided-'));
});
afterAll(async () => {
  await browser?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function watch(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error' && !isViteClientNoise(m.text())) errors.push(m.text()); });
  return errors;
}

async function saveDownload(page: Page, testid: string): Promise<string> {
  const [d] = await Promise.all([page.waitForEvent('download') as Promise<Download>, page.click(`[data-testid=${testid}]`)]);
  const path = join(dir, d.suggestedFilename());
  await d.saveAs(path);
  return path;
}

describe('guided path on the shipped cipher checkpoint', () => {
  it('runs every step, draws every figure, restores a copied link, and round-trips the report', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 900 }, acceptDownloads: true });
    const page = await ctx.newPage();
    const errors = watch(page);
    await page.goto(`${baseUrl()}/?backend=wasm&pairs=40&checkpoint=${cipher.file}`);
    await page.waitForSelector('[data-testid=guided-run]:not([disabled])', { timeout: 120_000 });
    expect(await page.inputValue('[data-testid=guided-model]')).toBe(cipher.file);
    expect(await page.inputValue('[data-testid=guided-pairs]')).toBe('40');
    expect(await page.locator('[data-testid=guided-examples] tbody tr').count()).toBe(3);

    await page.click('[data-testid=guided-run]');
    await page.waitForSelector('[data-testid=guided-done], [data-testid=guided-error]', { timeout: 900_000 });
    expect(await page.locator('[data-testid=guided-error]').count(), await page.locator('[data-testid=guided-error]').textContent().catch(() => '') ?? '').toBe(0);
    await page.waitForTimeout(500); // last charts draw

    const figs = await figureInk(page, 'main');
    const want = ['guided-evals', 'guided-loss', 'guided-layers', 'guided-probes', 'guided-steer-memToGen', 'guided-consistency-bars', 'guided-cross'];
    for (const id of want) expect(Object.keys(figs), id).toContain(id);
    for (const [id, f] of Object.entries(figs)) expect(f.paths + f.rects + f.canvasInk, `${id} has data`).toBeGreaterThan(0);
    expect(figs['guided-evals'].paths).toBeGreaterThanOrEqual(3); // mem, gen, other
    expect(figs['guided-steer-memToGen'].rects).toBeGreaterThanOrEqual(6); // 3 alphas x 2 fractions, targeted (control may be 0%)
    // the steering table: 3 alphas x 2 top fractions, each row with its controls and 95% intervals and a verdict
    const rows = page.locator('[data-testid=guided-table-steering-memToGen] tbody tr');
    expect(await rows.count()).toBe(6);
    expect(await rows.first().textContent()).toMatch(/\[\d+\.\d, \d+\.\d\].*(holds|not shown)/);
    const pairsText = await page.textContent('[data-testid=guided-pairs-summary]');
    expect(Number(/Kept (\d+)/.exec(pairsText ?? '')![1])).toBeGreaterThanOrEqual(4);
    await page.screenshot({ path: join(screenshotDir(), 'guided.png'), fullPage: true });

    // The Steer page shows the session's tables; its settings go into the link
    await page.goto(`${baseUrl()}/?page=steer&backend=wasm&checkpoint=${cipher.file}`);
    await page.waitForSelector('[data-testid=model-load]:not([disabled])', { timeout: 120_000 });
    await page.locator('[data-testid=steer-alpha]').fill('2.5');
    await page.selectOption('[data-testid=steer-direction]', 'toMem');
    await page.selectOption('[data-testid=steer-top]', { label: '10%' });
    await page.waitForFunction(() => location.search.includes('dir=toMem') && location.search.includes('alpha=2.5'));
    const link = page.url();
    const other = await ctx.newPage();
    const otherErrors = watch(other);
    await other.goto(link);
    await other.waitForSelector('[data-testid=model-load]:not([disabled])', { timeout: 120_000 });
    expect(await other.inputValue('[data-testid=steer-alpha]')).toBe('2.5');
    expect(await other.inputValue('[data-testid=steer-direction]')).toBe('toMem');
    expect(await other.locator('[data-testid=steer-top] option:checked').textContent()).toBe('10%');
    expect(await other.inputValue('[data-testid=model-choice]')).toBe(`url:static-models/${cipher.file}`);
    expect(await other.textContent('h1')).toBe('Steer the behavior');

    // The report: from the stored steering run (kept in IndexedDB), through its own link in another tab
    await page.goto(`${baseUrl()}/?page=report&backend=wasm`);
    await page.waitForSelector('[data-testid=report-run-choice]');
    const runId = await page.evaluate(() => [...document.querySelectorAll<HTMLOptionElement>('[data-testid=report-run-choice] option')].map((o) => o.value).find((v) => v.startsWith('steer-')) ?? '');
    expect(runId).toMatch(/^steer-/);
    await page.selectOption('[data-testid=report-run-choice]', runId);
    await page.click('[data-testid=report-from-run]');
    await page.waitForSelector('[data-testid=report] [data-testid=report-steer-memToGen]');
    expect(page.url()).toContain(`run=${runId}`);
    await page.waitForTimeout(500); // canvases draw
    const reportFigs = await figureInk(page, '[data-testid=report]');
    for (const id of ['report-loss', 'report-evals', 'report-neuron-map', 'report-volcano', 'report-layer-distribution', 'report-probes', 'report-steer-memToGen', 'report-consistency', 'report-cross-steering'])
      expect(reportFigs[id]?.paths + reportFigs[id]?.rects + reportFigs[id]?.canvasInk, `${id} has data`).toBeGreaterThan(0);
    const savedPath = await saveDownload(page, 'report-save-json');
    const saved = readFileSync(savedPath, 'utf8');
    const report = parseReport(saved);
    expect(report.task).toBe('cipher');
    expect(report.steering!.cells.length).toBeGreaterThanOrEqual(6);
    expect(report.consistency[0].crossSteer!.length).toBeGreaterThanOrEqual(1);

    await other.goto(page.url());
    await other.waitForSelector('[data-testid=report] [data-testid=report-steer-memToGen]');
    expect(await other.textContent('[data-testid=report-summary]')).toBe(await page.textContent('[data-testid=report-summary]'));

    // The saved JSON opens back identically
    await other.setInputFiles('[data-testid=report-file]', savedPath);
    await other.waitForFunction((name) => document.querySelector('[data-testid=report-source]')?.textContent?.includes(name), savedPath.split('/').pop()!);
    await other.waitForTimeout(500); // canvases draw
    expect(other.url()).not.toContain('run=');
    const again = readFileSync(await saveDownload(other, 'report-save-json'), 'utf8');
    expect(JSON.parse(again)).toEqual(JSON.parse(saved));
    expect(await figureInk(other, '[data-testid=report]')).toEqual(reportFigs);
    expect(errors).toEqual([]);
    expect(otherErrors).toEqual([]);
    await ctx.close();
  });
});
