// Export charts as files. SVG export inlines the computed style of every element (CSS vars, classes and
// inherited fonts resolve to plain values), so the file looks the same outside the page. PNG export draws that
// SVG through an Image onto a canvas, with any canvas layers (heatmap cells, scatter points) underneath.

/** Style properties that change how an SVG element paints; copied from getComputedStyle into style="...". */
const PAINT_PROPS = [
  'fill', 'fill-opacity', 'stroke', 'stroke-width', 'stroke-opacity', 'stroke-dasharray', 'stroke-linecap',
  'stroke-linejoin', 'opacity', 'font-family', 'font-size', 'font-weight', 'font-style', 'text-anchor',
  'dominant-baseline', 'visibility', 'display', 'shape-rendering', 'paint-order', 'stop-color', 'stop-opacity',
] as const;

/** Serializes an on-page SVG element to a standalone SVG document string with styles inlined. */
export function svgToString(svgEl: SVGSVGElement): string {
  if (!(svgEl instanceof SVGSVGElement)) {
    throw new Error('svgToString: expected an <svg> element; for a canvas chart use downloadPng.');
  }
  const clone = svgEl.cloneNode(true) as SVGSVGElement;
  const src = [svgEl, ...svgEl.querySelectorAll('*')];
  const dst = [clone, ...clone.querySelectorAll('*')];
  src.forEach((el, i) => {
    const cs = getComputedStyle(el);
    const out = dst[i] as SVGElement;
    out.removeAttribute('class');
    out.setAttribute('style', PAINT_PROPS.map((p) => `${p}:${cs.getPropertyValue(p)}`).join(';'));
  });
  // Interactive-only bits (focus rings, hover rules) are marked data-export="skip" and left out of the file.
  clone.querySelectorAll('[data-export="skip"]').forEach((n) => n.remove());
  const { width, height } = svgSize(svgEl);
  clone.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  clone.setAttribute('width', String(width));
  clone.setAttribute('height', String(height));
  if (!clone.getAttribute('viewBox')) clone.setAttribute('viewBox', `0 0 ${width} ${height}`);
  return new XMLSerializer().serializeToString(clone);
}

function svgSize(svgEl: SVGSVGElement): { width: number; height: number } {
  const r = svgEl.getBoundingClientRect();
  const width = Math.round(r.width || svgEl.width.baseVal.value || 0);
  const height = Math.round(r.height || svgEl.height.baseVal.value || 0);
  return { width, height };
}

/** Saves a Blob under `name` through a temporary link. */
export function downloadBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  // Revoke later: some browsers start reading the blob only after click() returns.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function downloadText(text: string, name: string, mime = 'text/plain'): void {
  downloadBlob(new Blob([text], { type: `${mime};charset=utf-8` }), name);
}

export function downloadSvg(svgEl: SVGSVGElement, name: string): void {
  downloadText(svgToString(svgEl), name.endsWith('.svg') ? name : `${name}.svg`, 'image/svg+xml');
}

/** A canvas layer drawn under the SVG in a PNG, at its offset (CSS px) from the SVG's top-left corner. */
export interface CanvasLayer { el: HTMLCanvasElement; x: number; y: number; width: number; height: number }

/** Canvas layers inside `root`, positioned relative to `svgEl` from their on-page boxes. */
export function canvasLayers(root: Element, svgEl: Element): CanvasLayer[] {
  const o = svgEl.getBoundingClientRect();
  return [...root.querySelectorAll('canvas')].map((el) => {
    const r = el.getBoundingClientRect();
    return { el, x: r.left - o.left, y: r.top - o.top, width: r.width, height: r.height };
  });
}

/**
 * Renders an SVG (with optional canvas layers beneath) or a bare canvas to a PNG Blob on a white background,
 * `scale` times the on-page size.
 */
export async function renderPng(el: SVGSVGElement | HTMLCanvasElement, scale = 2, layers: CanvasLayer[] = []): Promise<Blob> {
  if (!(scale > 0 && scale <= 8)) throw new Error(`PNG export: scale must be in (0, 8], got ${scale}.`);
  const isSvg = el instanceof SVGSVGElement;
  if (!isSvg && !(el instanceof HTMLCanvasElement)) throw new Error('PNG export: expected an <svg> or <canvas> element.');
  const size = isSvg ? svgSize(el) : { width: el.clientWidth || el.width, height: el.clientHeight || el.height };
  if (size.width === 0 || size.height === 0) throw new Error('PNG export: the chart has no size yet (is it hidden?).');
  const out = document.createElement('canvas');
  out.width = Math.round(size.width * scale);
  out.height = Math.round(size.height * scale);
  const ctx = out.getContext('2d');
  if (!ctx) throw new Error('PNG export: this browser gave no 2D canvas context.');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.scale(scale, scale);
  if (!isSvg) {
    ctx.drawImage(el, 0, 0, size.width, size.height);
  } else {
    for (const l of layers) ctx.drawImage(l.el, l.x, l.y, l.width, l.height);
    const img = new Image();
    const url = URL.createObjectURL(new Blob([svgToString(el)], { type: 'image/svg+xml;charset=utf-8' }));
    try {
      img.src = url;
      await img.decode();
      ctx.drawImage(img, 0, 0, size.width, size.height);
    } finally {
      URL.revokeObjectURL(url);
    }
  }
  return new Promise((resolve, reject) =>
    out.toBlob((b) => (b ? resolve(b) : reject(new Error('PNG export: the canvas could not be encoded.'))), 'image/png'));
}

export async function downloadPng(el: SVGSVGElement | HTMLCanvasElement, name: string, scale = 2, layers: CanvasLayer[] = []): Promise<void> {
  downloadBlob(await renderPng(el, scale, layers), name.endsWith('.png') ? name : `${name}.png`);
}
