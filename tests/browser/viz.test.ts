// The chart library in headless Chromium: the gallery renders every chart with data, the heatmap's hover,
// click and keys report the right neuron, live updates redraw, exports keep colors, and screenshots are saved.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { join } from 'node:path';
import { launchChromium, openHarness, screenshotDir } from './chromium';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

type PageWithErrors = Page & { errors?: string[] };

/**
 * Page errors other than Vite's HMR socket: the dev server is started on port 0 for tests, so the page's HMR
 * client cannot reach its websocket and logs that; it has nothing to do with the charts.
 */
const chartErrors = (page: PageWithErrors) =>
  (page.errors ?? []).filter((e) => !/WebSocket connection to|\[vite\] failed to connect to websocket/.test(e));

/**
 * Inside page.evaluate, a plain `import()` would be rewritten by vitest's transform into a Node helper the page
 * lacks, so page-side code imports through a function built from source text in the page.
 */
declare function pageImport(): (path: string) => Promise<any>;
const PAGE_IMPORT = `window.pageImport = () => new Function('p', 'return import(p)');`;

/** Mounts a component from /src into a fresh fixed-width box on the harness page; returns the box's id. */
async function mountInPage(page: Page, modulePath: string, props: string, boxWidth = 1200): Promise<string> {
  await page.evaluate(PAGE_IMPORT);
  return page.evaluate(async ({ modulePath, props, boxWidth }) => {
    const load = pageImport();
    await load('/src/app.css');
    const { mountComponent } = await load('/src/lib/viz/dev-mount.ts');
    const C = (await load(modulePath)).default;
    const box = document.createElement('div');
    box.id = `box${document.querySelectorAll('div[id^=box]').length}`;
    box.style.width = `${boxWidth}px`;
    box.style.padding = '8px';
    document.body.append(box);
    // Props come as source text so they can hold typed arrays and callbacks that report to window.
    const p = new Function(`return (${props});`)();
    mountComponent(C, box, p);
    return box.id;
  }, { modulePath, props, boxWidth });
}

describe('gallery', () => {
  it('renders every chart with data and saves a screenshot', async () => {
    const page = (await openHarness(browser)) as PageWithErrors;
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.evaluate(() => { document.body.innerHTML = ''; });
    await mountInPage(page, '/src/pages/VizGallery.svelte', '{}', 1240);
    await page.waitForSelector('[data-testid=viz-table] tbody tr');
    await page.waitForTimeout(300);

    const r = await page.evaluate(() => {
      const q = (id: string) => document.querySelector(`[data-testid=${id}]`)!;
      const dLens = (id: string, sel: string) => [...q(id).querySelectorAll(sel)].map((p) => (p.getAttribute('d') ?? '').length);
      const rects = (id: string, sel: string) => [...q(id).querySelectorAll(sel)].map((el) => {
        const b = (el as SVGGraphicsElement).getBBox();
        return [b.width, b.height];
      });
      // A canvas counts as drawn when it has many opaque pixels and more than one color.
      const canvasStats = (id: string) => {
        const c = q(id).querySelector('canvas')!;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let opaque = 0, red = 0, blue = 0;
        const colors = new Set<number>();
        for (let i = 0; i < d.length; i += 4) {
          if (d[i + 3] === 0) continue;
          opaque++;
          colors.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
          if (d[i] > d[i + 2] + 60) red++;
          if (d[i + 2] > d[i] + 60) blue++;
        }
        return { w: c.width, h: c.height, opaque, colors: colors.size, red, blue };
      };
      return {
        line: dLens('viz-line', 'path.series'),
        shares: dLens('viz-shares', 'path.area'),
        sharesLines: dLens('viz-shares-lines', 'path.line'),
        probe: rects('viz-bar-probe', 'rect.bar'),
        probeRef: q('viz-bar-probe').querySelectorAll('line.ref').length,
        layers: rects('viz-bar-layers', 'rect.bar').length,
        steer: rects('viz-bar-steer', 'rect.bar').length,
        steerErr: dLens('viz-bar-steer', 'path.err'),
        hist: rects('viz-hist', 'rect.bin'),
        histOutline: dLens('viz-hist', 'path.outline'),
        heat: canvasStats('viz-heatmap'),
        heatSmall: canvasStats('viz-heatmap-small'),
        volcano: canvasStats('viz-volcano'),
        tableRows: q('viz-table').querySelectorAll('tbody tr').length,
        titles: [...document.querySelectorAll('svg.chart-svg text.title')].map((t) => t.textContent),
        axisLabels: q('viz-line').querySelectorAll('text.label').length,
        note: q('viz-heatmap').querySelector('.note')?.textContent ?? '',
      };
    });
    expect(r.line).toHaveLength(2);
    for (const n of r.line) expect(n).toBeGreaterThan(200);
    expect(r.shares).toHaveLength(3);
    for (const n of r.shares) expect(n).toBeGreaterThan(100);
    expect(r.sharesLines).toHaveLength(3);
    expect(r.probe).toHaveLength(12);
    for (const [w, h] of r.probe) { expect(w).toBeGreaterThan(5); expect(h).toBeGreaterThan(5); }
    expect(r.probeRef).toBe(1);
    expect(r.layers).toBe(24);
    expect(r.steer).toBe(9);
    expect(r.steerErr).toHaveLength(9);
    expect(r.hist.length).toBeGreaterThan(10);
    expect(r.histOutline).toHaveLength(2);
    // The 28 x 131072 map is binned to the canvas width, and its strong neurons of both signs show.
    expect(r.heat.w).toBeLessThan(2000);
    expect(r.heat.opaque).toBe(r.heat.w * r.heat.h);
    expect(r.heat.red).toBeGreaterThan(0);
    expect(r.heat.blue).toBeGreaterThan(0);
    expect(r.note).toMatch(/131,072 neurons in \d+ columns of \d+/);
    expect(r.heatSmall.colors).toBeGreaterThan(50);
    expect(r.volcano.opaque).toBeGreaterThan(2000);
    expect(r.volcano.colors).toBeGreaterThan(3);
    expect(r.tableRows).toBe(8);
    expect(r.titles.length).toBeGreaterThanOrEqual(10);
    expect(r.axisLabels).toBe(2);
    await page.screenshot({ path: join(screenshotDir(), 'viz-gallery.png'), fullPage: true });
    for (const id of ['viz-line', 'viz-shares', 'viz-bar-probe', 'viz-bar-steer', 'viz-heatmap', 'viz-volcano', 'viz-hist', 'viz-table']) {
      await page.locator(`[data-testid=${id}]`).screenshot({ path: join(screenshotDir(), `${id}.png`) });
    }
    expect(chartErrors(page)).toEqual([]);
    await page.close();
  });

  it('redraws a line chart when points are added and when the y axis switches to linear', async () => {
    const page = (await openHarness(browser)) as PageWithErrors;
    await page.evaluate(() => { document.body.innerHTML = ''; });
    await mountInPage(page, '/src/pages/VizGallery.svelte', '{}', 1240);
    await page.waitForSelector('[data-testid=viz-line] path.series');
    const read = () => page.evaluate(() => {
      const chart = document.querySelector('[data-testid=viz-line]')!;
      return {
        d: chart.querySelector('path.series')!.getAttribute('d')!,
        xTicks: [...chart.querySelectorAll('.axis-x text:not(.label)')].map((t) => t.textContent).join(','),
        yTicks: [...chart.querySelectorAll('.axis-y text:not(.label)')].map((t) => t.textContent).join(','),
      };
    });
    const before = await read();
    await page.click('[data-testid=viz-live]');
    await page.click('[data-testid=viz-live]');
    const after = await read();
    expect(after.d).not.toBe(before.d);
    expect(after.d.split('L').length).toBe(before.d.split('L').length + 20);
    await page.click('text=log y');
    const linear = await read();
    expect(linear.yTicks).not.toBe(after.yTicks);
    // Hover shows a tooltip with the step and both series.
    const box = (await page.locator('[data-testid=viz-line] rect.hit').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    const tip = await page.locator('[data-testid=viz-line] .tip').textContent();
    expect(tip).toMatch(/step: \d+/);
    expect(tip).toContain('train loss');
    expect(tip).toContain('val loss');
    // The SVG button downloads a standalone file named after the title.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=viz-line] button:has-text("SVG")')]);
    expect(download.suggestedFilename()).toBe('training-loss.svg');
    const { readFile } = await import('node:fs/promises');
    const file = await readFile((await download.path())!, 'utf8');
    expect(file).toMatch(/^<svg[^>]+xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(file).toContain('Training loss');
    expect(file).not.toContain('class="tip"');
    expect(chartErrors(page)).toEqual([]);
    await page.close();
  });
});

describe('heatmap', () => {
  // 4 layers x 50,000 neurons, zero except two known neurons: the chart must find them through the binning.
  const props = `{
    rows: (() => { const a = new Float32Array(4 * 50000); a[2 * 50000 + 31337] = 5; a[0 * 50000 + 100] = -2; window.heatData = a; return a; })(),
    nRows: 4, nCols: 50000, title: 'Known map', valueLabel: 'NMD', plotHeight: 160, testid: 'hm',
    onselect: (c) => { (window.picks ??= []).push(c); },
  }`;

  it('shows the strong neuron in color, and hover, click and keys report its real row and column', async () => {
    const page = (await openHarness(browser)) as PageWithErrors;
    await page.setViewportSize({ width: 1000, height: 600 });
    await page.evaluate(() => { document.body.innerHTML = ''; });
    await mountInPage(page, '/src/lib/viz/heatmap/Heatmap.canvas.svelte', props, 900);
    await page.waitForSelector('[data-testid=hm] canvas');
    await page.waitForTimeout(200);

    // Where the bins of (2, 31337) and (0, 100) are on screen, from the canvas's own pixel width.
    const geo = await page.evaluate(() => {
      const c = document.querySelector('[data-testid=hm] canvas') as HTMLCanvasElement;
      const r = c.getBoundingClientRect();
      const binSize = Math.ceil(50000 / c.width);
      const nBins = Math.ceil(50000 / binSize);
      const center = (row: number, col: number) => ({
        x: r.left + ((Math.floor(col / binSize) + 0.5) / nBins) * r.width, y: r.top + ((row + 0.5) / 4) * r.height,
      });
      const px = (row: number, col: number) => {
        const x = Math.floor(((Math.floor(col / binSize) + 0.5) / nBins) * c.width), y = Math.floor(((row + 0.5) / 4) * c.height);
        return Array.from(c.getContext('2d')!.getImageData(x, y, 1, 1).data);
      };
      return { strong: center(2, 31337), neg: center(0, 100), zero: center(1, 20000),
        strongPx: px(2, 31337), negPx: px(0, 100), zeroPx: px(1, 20000), binSize, width: c.width };
    });
    expect(geo.binSize).toBeGreaterThan(1);
    const [sr, sg, sb] = geo.strongPx, [nr, , nb] = geo.negPx, [zr, zg, zb] = geo.zeroPx;
    expect(sr).toBeGreaterThan(sb + 50); // +5 is the domain maximum: RdBu's darkest red, rgb(103, 0, 31)
    expect(sr).toBeGreaterThan(sg + 50);
    expect(nb).toBeGreaterThan(nr + 40); // -2: blue
    expect(Math.min(zr, zg, zb)).toBeGreaterThan(230); // 0: near white

    await page.mouse.move(geo.strong.x, geo.strong.y);
    const tip = await page.locator('[data-testid=heatmap-tip]').textContent();
    expect(tip).toMatch(/layer\s*2,\s*neuron\s*31337:\s*5/);
    await page.screenshot({ path: join(screenshotDir(), 'viz-heatmap-hover.png') });
    await page.mouse.click(geo.strong.x, geo.strong.y);
    await page.mouse.click(geo.neg.x, geo.neg.y);
    expect(await page.evaluate(() => (window as any).picks)).toEqual([{ row: 2, col: 31337 }, { row: 0, col: 100 }]);

    // Keyboard (pointer moved away first): from the first cell, right, left, down twice, Enter -> layer 2, column 0.
    await page.mouse.move(1, 1);
    await page.focus('[data-testid=hm] svg.chart-svg');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => (window as any).picks[2])).toEqual({ row: 2, col: 0 });
    expect(chartErrors(page)).toEqual([]);
    await page.close();
  });

  it('exports a PNG with the canvas cells under the SVG axes, and an SVG with resolved colors', async () => {
    const page = (await openHarness(browser)) as PageWithErrors;
    await page.evaluate(() => { document.body.innerHTML = ''; });
    await mountInPage(page, '/src/lib/viz/heatmap/Heatmap.canvas.svelte', props, 900);
    await mountInPage(page, '/src/lib/viz/line/LineChart.svelte',
      `{ series: [{ name: 'mem', points: [{x:0,y:1},{x:1,y:3},{x:2,y:2}] }, { name: 'gen', points: [{x:0,y:2},{x:2,y:1}] }],
         title: 'Two lines', xLabel: 'step', yLabel: 'acc', testid: 'ln' }`, 600);
    await page.waitForSelector('[data-testid=ln] path.series');
    const r = await page.evaluate(async () => {
      const { renderPng, canvasLayers, svgToString } = await pageImport()('/src/lib/viz/export.ts');
      const fig = document.querySelector('[data-testid=hm]')!;
      const svg = fig.querySelector('svg.chart-svg') as SVGSVGElement;
      const c = fig.querySelector('canvas') as HTMLCanvasElement;
      const blob: Blob = await renderPng(svg, 1, canvasLayers(fig, svg));
      const bmp = await createImageBitmap(blob);
      const out = new OffscreenCanvas(bmp.width, bmp.height).getContext('2d')!;
      out.drawImage(bmp, 0, 0);
      // The strong neuron's bin, in SVG coordinates.
      const cr = c.getBoundingClientRect(), sr = svg.getBoundingClientRect();
      const binSize = Math.ceil(50000 / c.width), nBins = Math.ceil(50000 / binSize);
      const x = Math.floor(cr.left - sr.left + ((Math.floor(31337 / binSize) + 0.5) / nBins) * cr.width);
      const y = Math.floor(cr.top - sr.top + (2.5 / 4) * cr.height);
      const px = Array.from(out.getImageData(x, y, 1, 1).data);
      // Dark title text must be in the top-left of the PNG too (drawn from the SVG).
      const band = out.getImageData(0, 0, 300, 24).data;
      let dark = 0;
      for (let i = 0; i < band.length; i += 4) if (band[i] < 100 && band[i + 1] < 100 && band[i + 2] < 100) dark++;
      const text = svgToString(document.querySelector('[data-testid=ln] svg.chart-svg') as SVGSVGElement);
      const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
      return { type: blob.type, w: bmp.width, svgW: Math.round(sr.width), px, dark, text,
        parseError: doc.querySelector('parsererror')?.textContent ?? '', paths: doc.querySelectorAll('path').length };
    });
    expect(r.type).toBe('image/png');
    expect(r.w).toBe(r.svgW);
    expect(r.px[0]).toBeGreaterThan(r.px[2] + 50);
    expect(r.px[0]).toBeGreaterThan(r.px[1] + 50);
    expect(r.dark).toBeGreaterThan(30);
    expect(r.parseError).toBe('');
    expect(r.paths).toBeGreaterThanOrEqual(2);
    expect(r.text).toContain('rgb(194, 65, 12)'); // --mem resolved from the CSS var
    expect(r.text).toContain('rgb(15, 118, 110)'); // --gen
    expect(r.text).not.toContain('var(--');
    expect(chartErrors(page)).toEqual([]);
    await page.close();
  });

  it('shows a clear message for a flat array without a shape', async () => {
    const page = (await openHarness(browser)) as PageWithErrors;
    await page.evaluate(() => { document.body.innerHTML = ''; });
    await mountInPage(page, '/src/lib/viz/heatmap/Heatmap.canvas.svelte', `{ rows: new Float32Array(12), title: 'Bad', testid: 'bad' }`, 600);
    const msg = await page.locator('[data-testid=bad] [role=alert]').textContent();
    expect(msg).toContain('needs nRows and nCols');
    await page.close();
  });
});

describe('volcano and table', () => {
  it('selects a highlighted point by mouse and by keys, and the table sorts, searches and selects', async () => {
    const page = (await openHarness(browser)) as PageWithErrors;
    await page.evaluate(() => { document.body.innerHTML = ''; });
    await mountInPage(page, '/src/lib/viz/volcano/Volcano.svelte', `{
      x: Float32Array.from([-1, -0.2, 0.1, 0.3, 1]), y: Float32Array.from([0.6, 0.1, 0.05, 0.2, 0.9]), highlight: [0, 4],
      title: 'Five neurons', testid: 'vo', onselect: (i) => { (window.vpicks ??= []).push(i); },
    }`, 700);
    await page.waitForSelector('[data-testid=vo] canvas');
    await page.waitForTimeout(150);
    // Find the mem-colored (NMD > 0, highlighted) dot on the canvas and click it.
    const spot = await page.evaluate(() => {
      const c = document.querySelector('[data-testid=vo] canvas') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      const r = c.getBoundingClientRect();
      let sx = 0, sy = 0, n = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] > 200 && Math.abs(d[i] - 194) < 12 && Math.abs(d[i + 1] - 65) < 12 && Math.abs(d[i + 2] - 12) < 12) {
          const p = i / 4; sx += p % c.width; sy += Math.floor(p / c.width); n++;
        }
      }
      return { n, x: r.left + (sx / n) * (r.width / c.width), y: r.top + (sy / n) * (r.height / c.height) };
    });
    expect(spot.n).toBeGreaterThan(5);
    await page.mouse.click(spot.x, spot.y);
    await page.focus('[data-testid=vo] svg.chart-svg');
    await page.keyboard.press('ArrowRight'); // strongest highlighted first: index 4 (|r| 0.9)
    await page.keyboard.press('ArrowRight'); // then index 0
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => (window as any).vpicks)).toEqual([4, 0]);

    await mountInPage(page, '/src/lib/viz/table/DataTable.svelte', `{
      rows: Array.from({ length: 25 }, (_, i) => ({ neuron: 'L' + (i % 5) + ' N' + i, r: (i * 37 % 25) / 25 })),
      columns: [{ key: 'neuron', label: 'neuron' }, { key: 'r', label: '|r|' }], pageSize: 10, testid: 'tb',
      onselect: (row) => { window.tpick = row.neuron; },
    }`, 600);
    const cells = () => page.evaluate(() => [...document.querySelectorAll('[data-testid=tb] tbody tr td:first-child')].map((t) => t.textContent));
    expect(await cells()).toHaveLength(10);
    await page.click('[data-testid=tb] th button:has-text("|r|")'); // numbers: largest first
    const desc = await page.evaluate(() => [...document.querySelectorAll('[data-testid=tb] tbody tr td:last-child')].map((t) => Number(t.textContent)));
    expect(desc).toEqual([...desc].sort((a, b) => b - a));
    expect(desc[0]).toBe(0.96);
    await page.fill('[data-testid=tb] input[type=search]', 'L3');
    const found = await cells();
    expect(found).toHaveLength(5);
    expect(found.every((t) => t!.startsWith('L3'))).toBe(true);
    await page.click('[data-testid=tb] tbody tr:nth-child(2)');
    expect(await page.evaluate(() => (window as any).tpick)).toBe(found[1]);
    await page.screenshot({ path: join(screenshotDir(), 'viz-volcano-table.png'), fullPage: true });
    expect(chartErrors(page)).toEqual([]);
    await page.close();
  });
});
