// Layout on a laptop (1280 x 800) and a wide screen (1920 x 1080): no text box overlaps another on any page or
// in any chart (the gallery renders every chart kind with data), and the checker itself finds a planted overlap.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { baseUrl, launchChromium, openHarness } from './chromium';
import { outside, overlaps } from './layout';

const PAGES = ['home', 'tasks', 'train', 'neurons', 'steer', 'llama', 'runs', 'report', 'device'];
const SIZES = [{ width: 1280, height: 800 }, { width: 1920, height: 1080 }];

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

async function gallery(page: Page, width: number): Promise<void> {
  await page.evaluate(async (w) => {
    const load = new Function('p', 'return import(p)') as (p: string) => Promise<any>;
    document.body.innerHTML = '';
    await load('/src/app.css');
    const { mountComponent } = await load('/src/lib/viz/dev-mount.ts');
    const C = (await load('/src/pages/VizGallery.svelte')).default;
    const box = document.createElement('div');
    box.id = 'gallery';
    box.style.width = `${w}px`;
    document.body.append(box);
    mountComponent(C, box, {});
  }, width);
  await page.waitForSelector('[data-testid=viz-table] tbody tr');
  await page.waitForTimeout(300);
}

describe('layout: no overlapping text', () => {
  it('every page at 1280x800 and 1920x1080', async () => {
    const problems: string[] = [];
    for (const vp of SIZES) {
      const page = await browser.newPage({ viewport: vp });
      // one load, then the nav links: the lab's worker (and its backend) stays up from page to page
      await page.goto(`${baseUrl()}/?page=home&backend=wasm`, { timeout: 120_000 });
      await page.waitForSelector('[data-testid=backend-badge]:has-text("backend: wasm")', { timeout: 120_000 });
      for (const p of PAGES) {
        await page.click(`nav a[href="?page=${p}"]`);
        await page.waitForFunction((name) => new URL(location.href).searchParams.get('page') === name && !!document.querySelector('main h1'), p);
        if (p === 'train') await page.waitForSelector('[data-testid=train-task]', { timeout: 60_000 });
        await page.waitForTimeout(400);
        for (const o of [...await overlaps(page), ...await outside(page)]) problems.push(`${p} @${vp.width}: ${o}`);
      }
      await page.close();
    }
    expect(problems).toEqual([]);
  });

  it('every chart kind, with data, at both widths', async () => {
    const problems: string[] = [];
    const page = await openHarness(browser);
    for (const vp of SIZES) {
      await page.setViewportSize(vp);
      await gallery(page, vp.width - 40);
      for (const o of [...await overlaps(page, '#gallery'), ...await outside(page, '#gallery')]) problems.push(`gallery @${vp.width}: ${o}`);
      // the sweep's control spreads are wider than their values: whiskers stop at 0%, never below the axis
      const below = await page.evaluate(() => {
        const fig = document.querySelector('[data-testid=viz-bar-sweep]')!;
        const axis = fig.querySelector('.axis-x line.domain')!.getBoundingClientRect().top;
        return [...fig.querySelectorAll('path.err')].map((e) => e.getBoundingClientRect().bottom - axis).filter((d) => d > 1);
      });
      if (below.length) problems.push(`gallery @${vp.width}: ${below.length} error bars run below 0`);
    }
    expect(problems).toEqual([]);
    await page.close();
  });

  it('the checker itself finds a planted overlap (a label under a button, an axis tick on a title)', async () => {
    const page = await browser.newPage({ viewport: SIZES[0] });
    await page.goto(`${baseUrl()}/?page=tasks&backend=wasm`);
    await page.waitForSelector('main h1');
    expect(await overlaps(page)).toEqual([]);
    await page.evaluate(() => {
      const d = document.createElement('div');
      d.style.position = 'relative';
      d.innerHTML = '<span>planted label text</span><button style="position:absolute;left:20px;top:0">Planted</button>'
        + '<svg width="300" height="40"><text x="10" y="20">Planted chart title</text><text x="30" y="22">0.5</text></svg>';
      document.querySelector('main')!.prepend(d);
    });
    const found = await overlaps(page);
    expect(found.length).toBe(2);
    expect(found.join('\n')).toMatch(/text "planted label text" overlaps button "Planted"|button "Planted" overlaps text "planted label text"/);
    expect(found.join('\n')).toMatch(/svg text "Planted chart title" overlaps svg text "0.5"/);
    // a chart title longer than its chart runs past the right edge (and is the only finding)
    expect(await outside(page)).toEqual([]);
    await page.evaluate(() => {
      const f = document.createElement('figure');
      f.className = 'viz';
      f.dataset.testid = 'planted-chart';
      f.style.width = '200px';
      f.innerHTML = '<svg class="chart-svg" width="200" height="40" style="overflow: visible"><text x="4" y="20">A planted chart title far too long for its two hundred pixels</text></svg>';
      document.querySelector('main')!.prepend(f);
    });
    const past = await outside(page);
    expect(past.length).toBe(1);
    expect(past[0]).toMatch(/^svg text "A planted chart title far too long for i" runs \d+ px past the right edge of chart "planted-chart"$/);
    await page.close();
  });
});
