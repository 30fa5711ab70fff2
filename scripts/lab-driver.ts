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
