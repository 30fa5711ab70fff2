// Drives the lab headless: a Vite dev server + the system Chromium, and the lab's own worker API
// (the same code the pages use). Shared by `npm run reproduce` and `npm run bench`.
import { createServer, type ViteDevServer } from 'vite';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../tests/browser/chromium';

export interface Driver {
  server: ViteDevServer;
  browser: Browser;
  page: Page;
  base: string;
  close(): Promise<void>;
}

export async function startDriver(opts: { quiet?: boolean } = {}): Promise<Driver> {
  const server = await createServer({ server: { port: 0, host: '127.0.0.1', hmr: false, ws: false }, logLevel: 'error' });
  await server.listen();
  const addr = server.httpServer?.address();
  if (!addr || typeof addr === 'string') throw new Error('Vite server did not start');
  const base = `http://127.0.0.1:${addr.port}`;
  const browser = await launchChromium();
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('[page error]', e));
  page.on('console', (m) => {
    const t = m.text();
    if (/\[vite\]|WebSocket|vite\.dev\/config/.test(t)) return; // the dev client's HMR socket is off on purpose
    if (!opts.quiet && (m.type() === 'error' || m.type() === 'warning')) console.error(`[page ${m.type()}]`, t);
  });
  await page.goto(`${base}/tests/harness/index.html`);
  await page.waitForFunction(() => (window as unknown as { harnessReady?: boolean }).harnessReady === true);
  return {
    server, browser, page, base,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

export function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const [k, v] = a.slice(2).split('=');
    if (v !== undefined) out[k] = v;
    else if (argv[i + 1] && !argv[i + 1].startsWith('--')) out[k] = argv[++i];
    else out[k] = 'true';
  }
  return out;
}

/**
 * The HTML report is the Report page's own export: open the JSON report there, let it draw, and save it beside
 * the JSON (same name, .html). Returns the HTML's path.
 */
export async function saveReportHtml(d: Driver, jsonPath: string): Promise<string> {
  const page = await d.browser.newPage({ viewport: { width: 1366, height: 1000 }, acceptDownloads: true });
  try {
    await page.goto(`${d.base}/?page=report`);
    await page.setInputFiles('[data-testid=report-file]', jsonPath);
    await page.waitForSelector('[data-testid=report-summary], [data-testid=report-error]', { timeout: 300_000 });
    if (await page.locator('[data-testid=report-error]').count()) throw new Error(`The Report page refused ${jsonPath}: ${await page.textContent('[data-testid=report-error]')}`);
    await page.waitForTimeout(1500); // let canvases draw
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), page.click('[data-testid=report-save-html]')]);
    const htmlOut = jsonPath.replace(/\.json$/, '') + '.html';
    await download.saveAs(htmlOut);
    return htmlOut;
  } finally {
    await page.close();
  }
}
