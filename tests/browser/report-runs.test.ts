// Runs page export/import in headless Chromium: runs with checkpoints stored in IndexedDB go out as one file
// (all, or the selected ones), come back byte for byte after deletion, are never overwritten by a second import,
// and a foreign file is refused with a clear message and no change.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Download, Page } from 'playwright-core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseUrl, launchChromium } from './chromium';
import type * as RunsStore from '../../src/lib/store/runs';
import { tinyCheckpoint } from '../unit/hostile-files';

let browser: Browser;
let dir = '';
beforeAll(async () => {
  browser = await launchChromium();
  dir = mkdtempSync(join(tmpdir(), 'memgen-runs-'));
});
afterAll(async () => {
  await browser?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type W = { labImport: (p: string) => Promise<typeof RunsStore> };

async function save(page: Page, testid: string, name: string): Promise<string> {
  const [d] = await Promise.all([page.waitForEvent('download') as Promise<Download>, page.click(`[data-testid=${testid}]`)]);
  expect(d.suggestedFilename()).toMatch(/\.memgen-runs$/);
  const path = join(dir, name);
  await d.saveAs(path);
  return path;
}

describe('Runs export and import', () => {
  it('moves runs with their checkpoints through one file, and refuses bad files', async () => {
    const ctx = await browser.newContext({ acceptDownloads: true });
    const harness = await ctx.newPage();
    await harness.goto(`${baseUrl()}/tests/harness/index.html`);
    await harness.waitForFunction(() => (window as unknown as { harnessReady?: boolean }).harnessReady === true);
    // Two runs: a training run with two real checkpoints (import decodes them) and an analysis made from it.
    const b64 = (b: ArrayBuffer) => Buffer.from(b).toString('base64');
    const ck = { best: b64(tinyCheckpoint(1)), latest: b64(tinyCheckpoint(2)) };
    const ids = await harness.evaluate(async (ck) => {
      const s = await (window as unknown as W).labImport('/src/lib/store/runs.ts');
      const bytes = (b: string) => Uint8Array.from(atob(b), (c) => c.charCodeAt(0)).buffer;
      const a = s.newRun('train', 'cipher tiny', { task: 'cipher', steps: 40 });
      a.status = 'done';
      await s.saveArtifacts(a, { best: bytes(ck.best), latest: bytes(ck.latest) });
      const b = s.newRun('analyze', 'neurons of cipher tiny', { top: 0.05 }, a.id);
      b.status = 'done';
      await s.saveRun(b);
      return { a: a.id, b: b.id };
    }, ck);

    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${baseUrl()}/?page=runs`);
    await page.waitForSelector('[data-testid=all-runs] tbody tr >> nth=1');
    await page.check('input[aria-label="Select neurons of cipher tiny"]');
    await save(page, 'runs-export-selected', 'one.memgen-runs');
    expect(await page.textContent('[data-testid=runs-transfer]')).toMatch(/Exported 1 run\(s\) with 0 stored file/);
    const all = await save(page, 'runs-export-all', 'all.memgen-runs');
    expect(await page.textContent('[data-testid=runs-transfer]')).toMatch(/Exported 2 run\(s\) with 2 stored file/);

    // Delete both, then import the file: both come back with identical checkpoints.
    await harness.evaluate(async (x) => {
      const s = await (window as unknown as W).labImport('/src/lib/store/runs.ts');
      await s.deleteRun(x.a);
      await s.deleteRun(x.b);
    }, ids);
    await page.reload();
    await page.waitForSelector('text=No runs stored yet.');
    await page.setInputFiles('[data-testid=runs-import]', all);
    await page.waitForSelector('[data-testid=runs-transfer]:has-text("Imported 2 run(s)")');
    expect(await page.locator('[data-testid=all-runs] tbody tr').count()).toBe(2);
    const back = await harness.evaluate(async (x) => {
      const s = await (window as unknown as W).labImport('/src/lib/store/runs.ts');
      const a = (await s.getRun(x.a))!;
      const check = async (name: string, want: string) => {
        const d = new Uint8Array((await s.loadArtifact(a.artifacts[name]))!);
        let bin = '';
        for (const v of d) bin += String.fromCharCode(v);
        return btoa(bin) === want;
      };
      return { best: await check('best', x.ck.best), latest: await check('latest', x.ck.latest), parent: (await s.getRun(x.b))?.parent, status: a.status };
    }, { ...ids, ck });
    expect(back).toEqual({ best: true, latest: true, parent: ids.a, status: 'done' });

    // The same file again: nothing is replaced.
    await page.setInputFiles('[data-testid=runs-import]', all);
    await page.waitForSelector('[data-testid=runs-transfer]:has-text("Skipped 2 already stored")');

    // A foreign file: refused, named, nothing changes.
    const bad = join(dir, 'report.json');
    writeFileSync(bad, '{"kind":"memgen-report"}');
    await page.setInputFiles('[data-testid=runs-import]', bad);
    await page.waitForSelector('[data-testid=runs-transfer].error');
    expect(await page.textContent('[data-testid=runs-transfer]')).toMatch(/Nothing was imported from "report\.json": This is not a MemGen runs file/);
    expect(await page.locator('[data-testid=all-runs] tbody tr').count()).toBe(2);
    expect(errors).toEqual([]);
    await ctx.close();
  });
});
