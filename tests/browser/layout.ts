// The layout checker of tests/browser/layout.test.ts: finds text boxes that overlap on a page (HTML text, the
// boxes of buttons, selects and inputs, and every SVG text: chart titles, legends, axis ticks and labels).
import type { Page } from 'playwright-core';

/** Overlapping pairs under `root`, in words ("button "SVG" over svg text "Validation: mem / gen…" (34 x 12 px)"). */
export function overlaps(page: Page, root = 'body'): Promise<string[]> {
  return page.evaluate((rootSel) => {
    interface Box { x0: number; y0: number; x1: number; y1: number; el: Element; control: boolean; what: string }
    const boxes: Box[] = [];
    const rootEl = document.querySelector(rootSel);
    if (!rootEl) return [`no element matches ${rootSel}`];
    const shown = (el: Element) => el.checkVisibility({ opacityProperty: true, visibilityProperty: true });
    const short = (s: string) => JSON.stringify(s.trim().replace(/\s+/g, ' ').slice(0, 40));
    const add = (r: DOMRect, el: Element, control: boolean, what: string) => {
      if (r.width > 1 && r.height > 1) boxes.push({ x0: r.left, y0: r.top, x1: r.right, y1: r.bottom, el, control, what });
    };
    // HTML text, line by line (a range's client rects are the glyph boxes, not the line's whole width)
    const walk = document.createTreeWalker(rootEl, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      const p = n.parentElement;
      if (!p || !n.textContent?.trim() || p.closest('svg, option, script, style, [data-export=skip]') || !shown(p)) continue;
      const range = document.createRange();
      range.selectNodeContents(n);
      for (const r of range.getClientRects()) add(r, p, false, `text ${short(n.textContent)}`);
    }
    for (const el of rootEl.querySelectorAll('button, select, input:not([type=hidden]), textarea')) {
      if (shown(el)) add(el.getBoundingClientRect(), el, true, `${el.tagName.toLowerCase()} ${short(el.textContent || (el as HTMLInputElement).value || el.getAttribute('aria-label') || '')}`);
    }
    for (const el of rootEl.querySelectorAll('svg text')) {
      if (!el.textContent?.trim() || el.closest('[data-export=skip]') || !shown(el)) continue;
      add(el.getBoundingClientRect(), el, false, `svg text ${short(el.textContent)}`);
    }
    const bad: string[] = [];
    boxes.sort((a, b) => a.x0 - b.x0);
    for (let i = 0; i < boxes.length; i++) {
      const a = boxes[i];
      for (let j = i + 1; j < boxes.length && boxes[j].x0 < a.x1; j++) {
        const b = boxes[j];
        if (a.el === b.el) continue; // lines and fragments of one element
        // a control's own text, and text inside a control's label/options, is not an overlap
        if ((a.control && a.el.contains(b.el)) || (b.control && b.el.contains(a.el))) continue;
        if (!a.control && !b.control && (a.el.contains(b.el) || b.el.contains(a.el)) && a.el.tagName !== 'text' && b.el.tagName !== 'text') continue;
        const w = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
        const h = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
        // glyph boxes of consecutive lines may touch by a pixel or two; a real overlap covers more
        if (w > 2 && h > 3) bad.push(`${a.what} overlaps ${b.what} (${Math.round(w)} x ${Math.round(h)} px)`);
      }
    }
    return bad;
  }, root);
}

/**
 * SVG text that runs past its chart's edge (the figure.viz box; charts draw with overflow visible, so such text
 * spills over its neighbours or off the card), in words: `svg text "…" runs 37 px past the right edge of chart "x"`.
 */
export function outside(page: Page, root = 'body'): Promise<string[]> {
  return page.evaluate((rootSel) => {
    const rootEl = document.querySelector(rootSel);
    if (!rootEl) return [`no element matches ${rootSel}`];
    const bad: string[] = [];
    const short = (s: string) => JSON.stringify(s.trim().replace(/\s+/g, ' ').slice(0, 40));
    for (const fig of rootEl.querySelectorAll('figure.viz')) {
      if (!fig.checkVisibility()) continue;
      const f = fig.getBoundingClientRect();
      const name = fig.getAttribute('data-testid') ?? '';
      for (const el of fig.querySelectorAll('svg text')) {
        if (!el.textContent?.trim() || el.closest('[data-export=skip]') || !el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
        const r = el.getBoundingClientRect();
        if (r.width < 1) continue;
        const past = { left: f.left - r.left, right: r.right - f.right, top: f.top - r.top, bottom: r.bottom - f.bottom };
        for (const [side, d] of Object.entries(past)) if (d > 2) bad.push(`svg text ${short(el.textContent)} runs ${Math.round(d)} px past the ${side} edge of chart "${name}"`);
      }
    }
    return bad;
  }, root);
}
