// Offline support end to end: a production build served by `vite preview`, visited once so the service worker
// precaches it; then the server is stopped and the browser set offline, and the lab still loads (cross-origin
// isolated, from the cache) with a working Tasks page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { preview, type PreviewServer } from 'vite';
import type { Browser } from 'playwright-core';
import type { Server as HttpServer } from 'node:http';
import { buildSite, launchChromium } from './chromium';

let browser: Browser;
let server: PreviewServer | undefined;
let outDir = '';

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'memgen-offline-'));
  await buildSite(outDir);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await stopServer();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

/** `vite preview` of the build; `headers` override the config's (COOP/COEP) ones. */
async function startServer(headers?: Record<string, string>): Promise<string> {
  server = await preview({ logLevel: 'error', build: { outDir }, preview: { port: 0, host: '127.0.0.1', strictPort: false, headers } });
  return server.resolvedUrls!.local[0].replace(/\/$/, '');
}

async function stopServer() {
  if (!server) return;
  const s = server;
  server = undefined;
  // drop keep-alive connections so the port really stops answering
  (s.httpServer as HttpServer).closeAllConnections?.();
  await s.close();
}

describe('offline', () => {
  it('precaches the build with its wasm files', () => {
    const sw = readFileSync(join(outDir, 'sw.js'), 'utf8');
    const m = /const PRECACHE = (\{.*?\});/.exec(sw);
    expect(m, 'the build should fill the precache list into sw.js').not.toBeNull();
    const pre = JSON.parse(m![1]) as { version: string; files: string[] };
    expect(pre.files).toContain('index.html');
    expect(pre.files.filter((f) => f.endsWith('.wasm')).length).toBe(3);
    expect(pre.files.some((f) => /^assets\/gpu\.worker-.*\.js$/.test(f))).toBe(true);
    expect(pre.files).not.toContain('sw.js');
    expect(pre.version).toMatch(/^[0-9a-f]{16}$/);
  });

  it('serves the lab offline after one visit, cross-origin isolated, with a working Tasks page', async () => {
    const base = await startServer();
    const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${base}/`);
    await page.waitForSelector('nav >> text=Tasks');
    // The worker installs (precaching everything), activates and claims this page.
    await page.waitForFunction(async () => {
      const reg = await navigator.serviceWorker.ready;
      return reg.active?.state === 'activated' && navigator.serviceWorker.controller !== null;
    }, null, { timeout: 60_000 });
    const cached = await page.evaluate(async () => {
      const names = await caches.keys();
      const c = await caches.open(names.find((n) => n.startsWith('memgen-offline-'))!);
      return (await c.keys()).map((r) => new URL(r.url).pathname);
    });
    expect(cached).toContain('/index.html');
    expect(cached.filter((p) => p.endsWith('.wasm')).length).toBe(3);

    // Really offline: no server at all, and the browser's network off.
    await stopServer();
    await ctx.setOffline(true);
    await page.reload();
    await page.waitForSelector('nav >> text=Tasks', { timeout: 30_000 });
    expect(await page.textContent('h1')).toBeTruthy();
    // Cached responses carry COOP/COEP, so the page is still cross-origin isolated (SharedArrayBuffer works).
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);

    await page.click('nav >> text=Tasks');
    await page.waitForSelector('[data-testid=samples] tbody tr');
    await page.selectOption('select', 'cipher');
    await page.click('button[role=tab]:has-text("Contrastive pairs")');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=samples] tbody tr').length > 0 && location.search.includes('split=pairs'));
    const stats = await page.textContent('[data-testid=task-stats]');
    expect(stats).toMatch(/Contrastive pairs\s*200/);

    // A fresh navigation straight to a page URL is served too (the app shell for any query).
    await page.goto(`${base}/?page=tasks&task=color`);
    await page.waitForSelector('[data-testid=samples] tbody tr');
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it('makes the page cross-origin isolated even where the host sends no COOP/COEP headers', async () => {
    const base = await startServer({ 'Cross-Origin-Opener-Policy': 'unsafe-none', 'Cross-Origin-Embedder-Policy': 'unsafe-none' });
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${base}/`);
    // The first visit comes straight from the host: not isolated.
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
    await page.waitForFunction(async () => (await navigator.serviceWorker.ready).active?.state === 'activated' && navigator.serviceWorker.controller !== null, null, { timeout: 60_000 });
    // Online again, through the service worker: the headers are added.
    await page.reload();
    await page.waitForSelector('nav >> text=Tasks');
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    // Offline, from the cache: still isolated, and a built asset carries the headers.
    await stopServer();
    await ctx.setOffline(true);
    await page.reload();
    await page.waitForSelector('nav >> text=Tasks');
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    const h = await page.evaluate(async () => {
      const css = document.querySelector<HTMLLinkElement>('link[rel=stylesheet]')!.href;
      const r = await fetch(css);
      return [r.status, r.headers.get('cross-origin-embedder-policy'), r.headers.get('cross-origin-opener-policy')];
    });
    expect(h).toEqual([200, 'require-corp', 'same-origin']);
    await ctx.close();
  });

  it('keeps a strict Content-Security-Policy on the built page, and asks the network for nothing but its own files', async () => {
    const html = readFileSync(join(outDir, 'index.html'), 'utf8');
    const csp = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1] ?? '';
    expect(csp).toMatch(/script-src 'self' 'wasm-unsafe-eval'(;|$)/);
    expect(csp).toMatch(/object-src 'none'/);
    expect(csp).not.toMatch(/'unsafe-eval'|script-src[^;]*'unsafe-inline'/);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script in the built page

    const base = await startServer();
    const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const requests: string[] = [];
    ctx.on('request', (r) => requests.push(r.url()));
    await ctx.addInitScript(() => {
      (window as unknown as { __csp: string[] }).__csp = [];
      document.addEventListener('securitypolicyviolation', (e) => (window as unknown as { __csp: string[] }).__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    // Every page, as a visitor opens it, with no action: nothing is fetched from anywhere else, nothing is blocked.
    for (const p of ['home', 'tasks', 'train', 'neurons', 'steer', 'llama', 'runs', 'report', 'device']) {
      await page.goto(`${base}/?page=${p}`);
      await page.waitForSelector('main h1');
    }
    await page.waitForTimeout(500);
    expect(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp)).toEqual([]);
    const origin = new URL(base).origin;
    expect(requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:'))).toEqual([]);

    // Loaded content can never run as code: an injected inline script and eval are both refused.
    // (run from a timer, outside the test driver's own evaluation, which the browser lets through)
    const blocked = await page.evaluate(async () => {
      const w = window as unknown as Record<string, unknown>;
      const s = document.createElement('script');
      s.textContent = 'window.__injected = true';
      document.body.appendChild(s);
      (setTimeout as unknown as (code: string, ms: number) => void)('window.__timerString = true', 0);
      setTimeout(() => {
        try { (0, eval)('1 + 1'); w.__eval = 'ran'; } catch (e) { w.__eval = (e as Error).name; }
        try { new Function('return 1')(); w.__fn = 'ran'; } catch (e) { w.__fn = (e as Error).name; }
      }, 0);
      await new Promise((r) => setTimeout(r, 200));
      return { injected: w.__injected ?? false, timerString: w.__timerString ?? false, evalResult: w.__eval, fnResult: w.__fn };
    });
    expect(blocked).toEqual({ injected: false, timerString: false, evalResult: 'EvalError', fnResult: 'EvalError' });
    await page.waitForFunction(() => (window as unknown as { __csp: string[] }).__csp.length >= 4);
    expect((await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp)).join(' ')).toMatch(/script-src/);
    expect(errors).toEqual([]);
    await ctx.close();
    await stopServer();
  });
});
