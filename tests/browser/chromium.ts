// Launches the system Chromium (never a downloaded one) with WebGPU enabled, for tests, bench and reproduce.
import { existsSync, mkdirSync } from 'node:fs';
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
  return /\[vite\]|WebSocket connection to 'ws:|vite\.dev\/config/.test(text);
}

export function screenshotDir(): string {
  const d = join(process.cwd(), 'test-output', 'screenshots');
  mkdirSync(d, { recursive: true });
  return d;
}
