// Keyboard and readability on every page: each control can be reached with Tab and shows where the focus is,
// each control has a name a screen reader can say, text contrast meets WCAG AA (4.5:1, 3:1 for large text), and
// the layout fits a laptop screen (1366 x 768) and a projector (1024 x 768) without sideways scrolling.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { baseUrl, launchChromium } from './chromium';

const PAGES = ['home', 'tasks', 'train', 'neurons', 'steer', 'llama', 'runs', 'report', 'device'];

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/** Text elements whose contrast with their background is under the WCAG AA threshold. */
function lowContrast(page: Page) {
  return page.evaluate(() => {
    const parse = (c: string) => { const m = c.match(/[\d.]+/g)!.map(Number); return { r: m[0], g: m[1], b: m[2], a: m[3] ?? 1 }; };
    const lum = (c: { r: number; g: number; b: number }) => {
      const f = (v: number) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
    };
    const background = (el: Element | null) => {
      for (let e = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c.a > 0.5) return c;
      }
      return { r: 255, g: 255, b: 255, a: 1 };
    };
    const bad: string[] = [];
    for (const el of document.querySelectorAll<HTMLElement>('main *, nav *, header *')) {
      if (el.closest('svg, canvas, [disabled], [aria-hidden=true]')) continue;
      const text = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent!.trim()).join('');
      if (!text || el.offsetParent === null) continue;
      const st = getComputedStyle(el);
      const fg = parse(st.color);
      const bg = background(el);
      const a = fg.a;
      const mixed = { r: fg.r * a + bg.r * (1 - a), g: fg.g * a + bg.g * (1 - a), b: fg.b * a + bg.b * (1 - a) };
      const [l1, l2] = [lum(mixed), lum(bg)].sort((x, y) => y - x);
      const ratio = (l1 + 0.05) / (l2 + 0.05);
      const size = parseFloat(st.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(st.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) bad.push(`${el.tagName.toLowerCase()}.${el.className} "${text.slice(0, 30)}" ${ratio.toFixed(2)}:1`);
    }
    return bad;
  });
}

describe('keyboard, contrast and layout', () => {
  it('every page: reachable and named controls, a visible focus, AA contrast, no sideways scroll', async () => {
    const problems: string[] = [];
    for (const vp of [{ width: 1366, height: 768 }, { width: 1024, height: 768 }]) {
      const page = await browser.newPage({ viewport: vp });
      for (const p of PAGES) {
        await page.goto(`${baseUrl()}/?page=${p}&backend=wasm`);
        await page.waitForSelector('main h1');
        await page.waitForTimeout(300);
        const where = `${p} @${vp.width}`;
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        if (overflow > 1) problems.push(`${where}: ${overflow}px wider than the window`);
        if (vp.width !== 1366) continue;
        for (const c of await lowContrast(page)) problems.push(`${where}: low contrast ${c}`);
        // controls: a name for each, no positive tabindex (the order follows the page)
        const unnamed = await page.evaluate(() => [...document.querySelectorAll<HTMLElement>('button, a[href], input, select, textarea, [tabindex]')]
          .filter((e) => e.offsetParent !== null)
          .filter((e) => Number(e.getAttribute('tabindex') ?? 0) > 0 || !(e.getAttribute('aria-label') || e.textContent?.trim() || (e as HTMLInputElement).labels?.length || e.getAttribute('title') || (e as HTMLInputElement).type === 'file' && e.closest('label')))
          .map((e) => e.outerHTML.slice(0, 80)));
        for (const u of unnamed) problems.push(`${where}: control without a name or with a positive tabindex: ${u}`);
        // Tab through the first controls: each takes the focus in turn and draws a focus ring
        const focusables = await page.evaluate(() => [...document.querySelectorAll<HTMLElement>('button:not([disabled]), a[href], input:not([disabled]), select:not([disabled])')].filter((e) => e.offsetParent !== null).length);
        const seen = new Set<string>();
        for (let i = 0; i < Math.min(12, focusables); i++) {
          await page.keyboard.press('Tab');
          const f = await page.evaluate(() => {
            const e = document.activeElement as HTMLElement | null;
            if (!e || e === document.body) return null;
            const st = getComputedStyle(e);
            return { id: `${e.tagName}:${e.textContent?.trim().slice(0, 20)}:${[...document.querySelectorAll('*')].indexOf(e)}`, ring: (st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) > 0) || st.boxShadow !== 'none' };
          });
          if (!f) { problems.push(`${where}: Tab #${i + 1} left the page's controls`); break; }
          if (!f.ring) problems.push(`${where}: no visible focus on ${f.id}`);
          seen.add(f.id);
        }
        if (focusables > 0 && seen.size < Math.min(12, focusables)) problems.push(`${where}: Tab reached ${seen.size} distinct controls of ${Math.min(12, focusables)}`);
      }
      await page.close();
    }
    expect(problems).toEqual([]);
  });

  it('the checker itself flags faint text', async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    await page.goto(`${baseUrl()}/?page=tasks&backend=wasm`);
    await page.waitForSelector('main h1');
    expect(await lowContrast(page)).toEqual([]);
    await page.evaluate(() => { const p = document.createElement('p'); p.textContent = 'faint planted text'; p.style.color = '#bbbbbb'; document.querySelector('main')!.append(p); });
    const found = await lowContrast(page);
    expect(found.length).toBe(1);
    expect(found[0]).toMatch(/faint planted text" 1\.\d+:1/);
    await page.close();
  });
});
