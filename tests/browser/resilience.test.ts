// Resilience in a real headless Chromium: a real IndexedDB quota error (the origin's quota lowered through the
// DevTools protocol, so the browser itself refuses the write), and a link with bad parameters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { baseUrl, launchChromium, openHarness } from './chromium';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/**
 * Sets this origin's IndexedDB quota (null: back to the browser's default). Chromium applies it to databases
 * opened after the call, so the test sets it before its first write.
 */
async function setQuota(cdp: CDPSession, bytes: number | null): Promise<void> {
  const origin = new URL(baseUrl()).origin;
  await cdp.send('Storage.overrideQuotaForOrigin', bytes === null ? { origin } : { origin, quotaSize: bytes });
}

describe('a full disk in Chromium (real QuotaExceededError)', () => {
  it('saveArtifacts and ActivationStore report it, keep earlier data, and resume once space is back', async () => {
    const page = await openHarness(browser);
    const cdp = await page.context().newCDPSession(page);
    await setQuota(cdp, 3 * 2 ** 20); // 3 MB for this site

    // Before: one saved run with an artifact, one activation store with 8 durable rows.
    const before = await page.evaluate(async () => {
      const runs = await (window as any).labImport('/src/lib/store/runs.ts');
      const { ActivationStore } = await (window as any).labImport('/src/lib/store/index.ts');
      const old = runs.newRun('train', 'earlier run', {});
      await runs.saveArtifacts(old, { latest: new Uint8Array(200_000).fill(7).buffer });
      const hooks = [{ name: 'blocks.0.hook_resid_post', layer: 0, dim: 256 }];
      const store = await ActivationStore.create(
        { id: 'quota-browser', version: 1, model: 't', checkpoint: 'c', task: 'cipher', hooks, dtype: 'float32', createdAt: new Date().toISOString() },
        { chunkBytes: 64 * 1024 }, // 64 rows (64 KB) per chunk
      );
      await store.appendRows({ 'blocks.0.hook_resid_post': new Float32Array(64 * 256).fill(1) }, new Uint8Array(64), Array.from({ length: 64 }, (_, i) => `p${i}`));
      (window as any).quotaStore = store;
      return { oldId: old.id, rows: store.rowCount() };
    });
    expect(before.rows).toBe(64);

    // The disk fills: an 8 MB checkpoint is refused; a 4 MB recording commits chunks until it is refused.
    const full = await page.evaluate(async () => {
      const runs = await (window as any).labImport('/src/lib/store/runs.ts');
      const run = runs.newRun('train', 'new run', {});
      await runs.saveRun(run);
      const big = new Uint8Array(8 * 2 ** 20).map((_, i) => (i * 7) & 255).buffer;
      const e1 = await runs.saveArtifacts(run, { latest: big }).catch((e: any) => e);
      const store = (window as any).quotaStore;
      const many = new Float32Array(4096 * 256).map((_, i) => Math.sin(i)); // (4096, 256): 4 MB
      const e2 = await store
        .appendRows({ 'blocks.0.hook_resid_post': many }, new Uint8Array(4096), Array.from({ length: 4096 }, (_, i) => `q${i}`))
        .catch((e: any) => e);
      (window as any).pending = { run, big, many };
      const stored = await runs.getRun(run.id);
      return {
        e1: { name: e1?.name, message: String(e1?.message), bytes: e1?.bytesNeeded },
        e2: { name: e2?.name, message: String(e2?.message), durable: e2?.durableRows },
        runArtifacts: stored?.artifacts,
        durableRows: store.rowCount(),
        buffered: store.bufferedRows(),
      };
    });
    expect(full.e1.name).toBe('StorageFullError');
    expect(full.e1.bytes).toBe(8 * 2 ** 20);
    expect(full.e1.message).toMatch(/saving artifacts of "new run" needs about 8\.0 MB more\. Free space on the Runs page/);
    expect(full.runArtifacts).toEqual({}); // the record never points at bytes that are not there
    expect(full.e2.name).toBe('StoreQuotaError');
    expect(full.e2.message).toMatch(/Browser storage is full: writing 0\.1 MB of activations to store "quota-browser" was refused/);
    expect(full.e2.durable).toBe(full.durableRows);
    expect(full.durableRows).toBeGreaterThan(64); // some chunks fit before the disk was full
    expect(full.durableRows).toBeLessThan(64 + 4096);
    expect(full.buffered).toBe(64); // the refused chunk stays in memory

    // Earlier data is readable while the disk is still full.
    const intact = await page.evaluate(async (oldId) => {
      const runs = await (window as any).labImport('/src/lib/store/runs.ts');
      const { ActivationStore } = await (window as any).labImport('/src/lib/store/index.ts');
      const a = new Uint8Array((await runs.loadArtifact(`${oldId}/latest`)) ?? new ArrayBuffer(0));
      const all = await (await ActivationStore.open('quota-browser')).readAll('blocks.0.hook_resid_post');
      return { artifactBytes: a.length, allSevens: a.every((x: number) => x === 7), rows: all.rows, firstRows: all.data.subarray(0, 64 * 256).every((x: number) => x === 1) };
    }, before.oldId);
    expect(intact).toEqual({ artifactBytes: 200_000, allSevens: true, rows: full.durableRows, firstRows: true });

    // Space is back: the same save succeeds; the recording resumes after its durable and buffered rows.
    await setQuota(cdp, null);
    const resumed = await page.evaluate(async () => {
      const runs = await (window as any).labImport('/src/lib/store/runs.ts');
      const { ActivationStore } = await (window as any).labImport('/src/lib/store/index.ts');
      const { run, big, many } = (window as any).pending;
      await runs.saveArtifacts(run, { latest: big });
      const back = new Uint8Array((await runs.loadArtifact(`${run.id}/latest`)) ?? new ArrayBuffer(0));
      const want = new Uint8Array(big);
      const store = (window as any).quotaStore;
      const done = store.rowCount() + store.bufferedRows() - 64; // rows of `many` already taken
      const rest = (many as Float32Array).subarray(done * 256);
      await store.appendRows({ 'blocks.0.hook_resid_post': rest }, new Uint8Array(4096 - done), Array.from({ length: 4096 - done }, (_, i) => `q${done + i}`));
      await store.flush();
      const all = await (await ActivationStore.open('quota-browser')).readAll('blocks.0.hook_resid_post');
      const tail = all.data.subarray(64 * 256);
      return {
        same: back.length === want.length && back.every((x, i) => x === want[i]),
        rows: all.rows,
        recording: tail.length === many.length && tail.every((x: number, i: number) => x === many[i]),
        ids: all.promptIds[64] === 'q0' && all.promptIds[all.rows - 1] === 'q4095',
      };
    });
    expect(resumed).toEqual({ same: true, rows: 64 + 4096, recording: true, ids: true });
    // Console errors of the page, less the dev server's HMR socket (disabled in tests) complaining.
    const errors = ((page as Page & { errors?: string[] }).errors ?? []).filter((e) => !/WebSocket|\[vite\]/.test(e));
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('a link with bad parameters', () => {
  it('names each bad parameter, ignores it, and still renders the page', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    let dialogs = 0;
    page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    await page.goto(`${baseUrl()}/?page=train&task=<script>alert(1)</script>&seed=-1&bogus=1`);
    await page.waitForSelector('main h1', { timeout: 60_000 });
    const warnings = await page.locator('main p.warn[role=status]').allTextContents();
    expect(warnings).toHaveLength(3);
    expect(warnings.join('\n')).toMatch(/Link parameter task="<script>alert\(1\)<\/script>" is not valid and was ignored/);
    expect(warnings.join('\n')).toMatch(/Link parameter seed="-1" is not valid and was ignored/);
    expect(warnings.join('\n')).toMatch(/Unknown link parameter "bogus" was ignored/);
    // The page fell back to its defaults and drew as usual; the text was shown, never run.
    expect(await page.locator('main h1').textContent()).toMatch(/Train/);
    expect(await page.locator('main script').count()).toBe(0);
    expect(dialogs).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });
});
