// The Report page in headless Chromium: a report file (3 hooks x 64 neurons) opened through the file input
// renders every figure with data; Save HTML gives one self-contained file which, opened again, renders the same
// report (Save JSON afterwards gives the same JSON); CSV export and bad files are checked too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Download, Page } from 'playwright-core';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { csvParseRows } from 'd3';
import { baseUrl, figureInk, launchChromium, screenshotDir } from './chromium';
import { parseReport } from '../../src/lib/report/schema';
import { makeReport } from '../unit/report-fixture';

let browser: Browser;
let dir = '';
beforeAll(async () => {
  browser = await launchChromium();
  dir = mkdtempSync(join(tmpdir(), 'memgen-report-'));
});
afterAll(async () => {
  await browser?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function download(page: Page, testid: string): Promise<{ name: string; text: string }> {
  const [d] = await Promise.all([page.waitForEvent('download') as Promise<Download>, page.click(`[data-testid=${testid}]`)]);
  const path = join(dir, d.suggestedFilename());
  await d.saveAs(path);
  return { name: d.suggestedFilename(), text: readFileSync(path, 'utf8') };
}

describe('Report page', () => {
  it('renders every figure from a file, saves one HTML file that opens back to the same report', async () => {
    const report = makeReport();
    const jsonPath = join(dir, 'report.json');
    writeFileSync(jsonPath, JSON.stringify(report));
    const ctx = await browser.newContext({ viewport: { width: 1300, height: 1000 }, acceptDownloads: true });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${baseUrl()}/?page=report&backend=wasm`);
    // The session source asks the worker; with no model loaded its error is shown as is.
    await page.click('[data-testid=report-from-session]:not([disabled])', { timeout: 120_000 });
    await page.waitForSelector('[data-testid=report-error]');
    expect(await page.textContent('[data-testid=report-error]')).toMatch(/this session: No model is loaded/);
    await page.setInputFiles('[data-testid=report-file]', jsonPath);
    await page.waitForSelector('[data-testid=report] [data-testid=report-neuron-map] canvas');
    expect(await page.locator('[data-testid=report-error]').count()).toBe(0);
    // let the canvas effects draw
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=report] figure.viz:not(.table)').length === 10);

    const figs = await figureInk(page, '[data-testid=report]');
    expect(Object.keys(figs).sort()).toEqual(['report-consistency', 'report-cross-steering', 'report-evals', 'report-layer-distribution', 'report-loss', 'report-neuron-map',
      'report-probes', 'report-steer-genToMem', 'report-steer-memToGen', 'report-volcano']);
    // loss line + chosen mark; mem/gen/other lines + chosen mark
    expect(figs['report-loss'].paths).toBeGreaterThanOrEqual(2);
    expect(figs['report-evals'].paths).toBeGreaterThanOrEqual(4);
    // bars: 3 layers x 2 fractions; 3 layers x (held-out, train); 4 settings x (targeted, control); 2 x 3
    expect(figs['report-layer-distribution'].rects).toBeGreaterThanOrEqual(layerBarsWithCount(report));
    expect(figs['report-probes'].rects).toBeGreaterThanOrEqual(6);
    expect(figs['report-steer-memToGen'].rects).toBeGreaterThanOrEqual(8);
    expect(figs['report-steer-genToMem'].rects).toBeGreaterThanOrEqual(8);
    expect(figs['report-consistency'].rects).toBeGreaterThanOrEqual(6);
    // one comparison with cross-steering x 2 tables x (own, cross, control)
    expect(figs['report-cross-steering'].rects).toBeGreaterThanOrEqual(6);
    // canvas charts: most of the neuron map is painted (3 x 64 cells), the volcano has its 192 dots
    expect(figs['report-neuron-map'].canvasInk).toBeGreaterThan(1000);
    expect(figs['report-volcano'].canvasInk).toBeGreaterThan(192);

    // tables: as many rows as the report has
    const rows = (id: string) => page.locator(`[data-testid=report-table-${id}] tbody tr`).count();
    expect(await rows('training-evals')).toBe(report.training!.evals.length);
    expect(await rows('probes')).toBe(3);
    expect(await rows('steering-memToGen')).toBe(4);
    expect(await rows('consistency')).toBe(2);
    expect(await page.locator('[data-testid=report-top-neurons] tbody tr').count()).toBe(report.analysis!.top.length);
    expect(await page.textContent('[data-testid=report-table-steering-genToMem]')).toContain('8.8% ± 1.9');
    await page.screenshot({ path: join(screenshotDir(), 'report.png'), fullPage: true });

    // CSV of the probes: raw numbers
    const csv = await download(page, 'report-csv-probes');
    expect(csv.name).toMatch(/probes\.csv$/);
    expect(csvParseRows(csv.text).slice(1).map((r) => Number(r[3]))).toEqual(report.analysis!.probes.map((p) => p.testAcc));

    // Save HTML: one file, charts inline (SVG, canvas charts as PNG), the report embedded
    const html = await download(page, 'report-save-html');
    expect(html.name).toMatch(/\.html$/);
    expect(html.text.match(/<figure class="chart"/g)!.length).toBe(10);
    expect(html.text.match(/<img src="data:image\/png;base64,/g)!.length).toBe(2);
    expect(html.text.match(/<svg[\s>]/g)!.length).toBeGreaterThanOrEqual(8);
    expect(html.text).not.toMatch(/<link\b|<script(?![^>]*application\/json)/);
    expect(parseReport(html.text)).toEqual(parseReport(JSON.stringify(report)));

    // A bad file is refused with a clear message, and the shown report stays
    const badPath = join(dir, 'broken.json');
    writeFileSync(badPath, '{"kind": "memgen-report", "version": 1');
    await page.setInputFiles('[data-testid=report-file]', badPath);
    await page.waitForSelector('[data-testid=report-error]');
    expect(await page.textContent('[data-testid=report-error]')).toMatch(/broken\.json.*not valid JSON/);
    expect(await page.locator('[data-testid=report] figure.viz:not(.table)').count()).toBe(10);

    // Open the saved HTML: the same report renders, and its JSON is the original's
    const htmlPath = join(dir, 'saved.html');
    writeFileSync(htmlPath, html.text);
    writeFileSync(join(screenshotDir(), '..', 'report-saved.html'), html.text); // kept for a look by eye
    // The saved file renders with scripts off (nothing in it needs them)
    const viewer = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1100, height: 900 } });
    const view = await viewer.newPage();
    await view.goto(`file://${htmlPath}`);
    expect(await view.locator('figure.chart svg, figure.chart img').count()).toBe(10);
    expect(await view.evaluate(() => [...document.images].every((i) => i.complete && i.naturalWidth > 0))).toBe(true);
    await view.screenshot({ path: join(screenshotDir(), 'report-saved-html.png'), fullPage: true });
    await viewer.close();
    await page.setInputFiles('[data-testid=report-file]', htmlPath);
    await page.waitForFunction(() => document.querySelector('[data-testid=report-source]')?.textContent?.includes('saved.html'));
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=report] figure.viz:not(.table)').length === 10);
    expect(await page.locator('[data-testid=report-error]').count()).toBe(0);
    const again = await figureInk(page, '[data-testid=report]');
    expect(again).toEqual(figs);
    const json = await download(page, 'report-save-json');
    expect(parseReport(json.text)).toEqual(parseReport(JSON.stringify(report)));
    expect(JSON.parse(json.text)).toEqual(JSON.parse(JSON.stringify(report)));

    // A top-neuron row opens that neuron's own page; the link carries the report's pair count for a recompute
    const best = [...report.analysis!.top].sort((a, b) => a.rank - b.rank)[0];
    await page.click('[data-testid=report-top-neurons] tbody tr:first-child');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('page') === 'neuron');
    const link = new URL(page.url()).searchParams;
    expect([link.get('hook'), Number(link.get('neuron')), Number(link.get('pairs'))]).toEqual([best.hook, best.index, Math.max(10, report.pairs!.kept)]);
    expect(await page.locator('h1').textContent()).toContain(`${best.hook} · #${best.index}`);
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('parses a large report off the page thread (a worker), and refuses a 250 KB hostile HTML at once', async () => {
    // A report of ~300 KB: the steering examples padded (as a long pair list would make it).
    const report = makeReport();
    report.pairs!.examples = Array.from({ length: 1500 }, (_, i) => ({ mem: `encode: trigger ${i} ${'x'.repeat(80)} ->`, gen: `encode: other ${i} ${'y'.repeat(80)} ->` }));
    const bigPath = join(dir, 'big.json');
    writeFileSync(bigPath, JSON.stringify(report));
    expect(readFileSync(bigPath).length).toBeGreaterThan(200_000);
    // The pattern that made the old regex quadratic: many "<script" with no ">" after them.
    const hostilePath = join(dir, 'hostile.html');
    writeFileSync(hostilePath, '<html>' + '<script id='.repeat(23_000));
    const ctx = await browser.newContext({ viewport: { width: 1300, height: 1000 } });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const workers: string[] = [];
    page.on('worker', (w) => workers.push(w.url()));
    await page.goto(`${baseUrl()}/?page=report&backend=wasm`);
    await page.waitForSelector('[data-testid=report-file]');
    await page.setInputFiles('[data-testid=report-file]', bigPath);
    await page.waitForSelector('[data-testid=report] [data-testid=report-neuron-map] canvas');
    expect(await page.locator('[data-testid=report-error]').count()).toBe(0);
    expect(workers.filter((u) => /parse\.worker/.test(u))).toHaveLength(1);
    await page.setInputFiles('[data-testid=report-file]', hostilePath);
    await page.waitForSelector('[data-testid=report-error]');
    expect(await page.textContent('[data-testid=report-error]')).toMatch(/hostile\.html.*no embedded MemGen report/);
    expect(workers.filter((u) => /parse\.worker/.test(u))).toHaveLength(2);
    expect(errors).toEqual([]);
    await ctx.close();
  });
});

function layerBarsWithCount(r: ReturnType<typeof makeReport>): number {
  return Object.values(r.analysis!.layerDistribution).flat().filter((d) => d.count > 0).length;
}
