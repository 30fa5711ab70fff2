// Launches the system Chromium (never a downloaded one) with WebGPU enabled, for tests, bench and reproduce.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export function chromePath(): string {
  const c = [process.env.CHROME_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  const p = c.find((x) => x && existsSync(x));
  if (!p) throw new Error('No Chromium found: run `sudo apt-get install -y chromium` or set CHROME_PATH.');
  return p;
}

export async function launchChromium(): Promise<Browser> {
  // playwright gives each launch a fresh temporary profile (its own --user-data-dir).
  const args = [
    '--enable-unsafe-webgpu',
    '--enable-features=Vulkan',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
    '--disable-dev-shm-usage',
  ];
  if (process.getuid?.() === 0) args.push('--no-sandbox');
  return chromium.launch({ executablePath: chromePath(), headless: true, args });
}

export function baseUrl(): string {
  const u = process.env.MEMGEN_BASE_URL;
  if (!u) throw new Error('MEMGEN_BASE_URL is not set: the browser global setup starts the server.');
  return u;
}

/** Opens the blank harness page (same origin as the lab, so modules import with `await import('/src/...')`). */
export async function openHarness(browser: Browser): Promise<Page> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && !isViteClientNoise(m.text())) errors.push(m.text());
    if (process.env.MEMGEN_DEBUG) console.log('[page]', m.text());
  });
  await page.goto(`${baseUrl()}/tests/harness/index.html`);
  await page.waitForFunction(() => (window as unknown as { harnessReady?: boolean }).harnessReady === true);
  (page as Page & { errors?: string[] }).errors = errors;
  return page;
}

/**
 * Loads lab modules as window globals with a module script tag: code passed to page.evaluate must not
 * contain a literal `import(` (vitest rewrites it).
 */
export async function loadModules(page: Page, mods: Record<string, string>): Promise<void> {
  const src = Object.entries(mods).map(([k, p]) => `import * as ${k} from '${p}'; window.${k} = ${k};`).join('\n');
  await page.addScriptTag({ type: 'module', content: `${src}\nwindow.__modsReady = true;` });
  await page.waitForFunction(() => (window as unknown as { __modsReady?: boolean }).__modsReady === true);
}

/** The dev server runs without HMR (a busy page must never reload), so Vite's client fails to open its socket. */
export function isViteClientNoise(text: string): boolean {
  return /\[vite\]|WebSocket connection to 'ws:|Connecting to 'ws:\/\/127\.0\.0\.1|vite\.dev\/config/.test(text);
}

export function screenshotDir(): string {
  const d = join(process.cwd(), 'test-output', 'screenshots');
  mkdirSync(d, { recursive: true });
  return d;
}

/**
 * What every chart under `root` shows, by its data-testid: SVG data marks (paths with geometry, bars with height)
 * and canvas pixels drawn. An empty chart has zeros everywhere.
 */
export async function figureInk(page: Page, root: string): Promise<Record<string, { paths: number; rects: number; canvasInk: number }>> {
  return page.evaluate((sel) => {
    const out: Record<string, { paths: number; rects: number; canvasInk: number }> = {};
    for (const fig of document.querySelectorAll<HTMLElement>(`${sel} figure.viz:not(.table)`)) {
      const svg = fig.querySelector('svg.chart-svg')!;
      const paths = [...svg.querySelectorAll('path[d]')].filter((p) => (p.getAttribute('d') ?? '').length > 12).length;
      const rects = [...svg.querySelectorAll('rect')].filter((r) => Number(r.getAttribute('height')) > 0 && r.getAttribute('fill') !== 'transparent' && !r.classList.contains('hit')).length;
      let canvasInk = 0;
      for (const c of fig.querySelectorAll('canvas')) {
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) canvasInk++;
      }
      out[fig.dataset.testid!] = { paths, rects, canvasInk };
    }
    return out;
  }, root);
}

/** The file name of the shipped checkpoint for `task` (static-models/index.json); throws if none is shipped. */
export function shippedModel(task: string): string {
  const index = JSON.parse(readFileSync('static-models/index.json', 'utf8')) as { models: Array<{ file: string; task: string }> };
  const m = index.models.find((x) => x.task === task);
  if (!m) throw new Error(`static-models/index.json lists no ${task} checkpoint: ship one with scripts/ship-model.ts.`);
  return m.file;
}

/** A production build of the lab into `outDir`, as `npm run build` makes it (service worker included). */
export async function buildSite(outDir: string): Promise<void> {
  // vitest sets NODE_ENV=test, which would make import.meta.env.PROD false in the build (no service worker).
  const env = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    const { build } = await import('vite'); // only the build tests need it, not bench or reproduce
    await build({ logLevel: 'error', mode: 'production', build: { outDir, emptyOutDir: true } });
  } finally {
    process.env.NODE_ENV = env;
  }
}
