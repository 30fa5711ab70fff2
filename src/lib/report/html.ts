// The whole report as ONE self-contained HTML file: CSS inline, charts as inline SVG (canvas charts as PNG data
// URLs), tables printed from the report, no script needed to view it. The report JSON rides along in
// <script type="application/json" id="memgen-report"> so the lab opens the file back (parseReport).
import { canvasLayers, renderPng, svgToString } from '../viz/export';
import type { Report } from './schema';
import { reportTables, type ReportTable } from './tables';
import { decodeName, pairsDecodeName, steeringSummary } from './figures';
import { seedStatements } from './seeds';

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/**
 * JSON safe inside a <script> element: every "</" becomes "<\/" (so nothing closes the element early) and
 * "<!--" becomes "<\u0021--" (so the HTML parser never enters its escaped script state). Both are plain JSON escapes.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/<\//g, '<\\/').replace(/<!--/g, '<\\u0021--');
}

const CSS = `
:root { --fg: #1b1d22; --muted: #555b66; --line: #d9dce1; --mem: #c2410c; --gen: #0f766e; --other: #6b7280; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 1rem 1.2rem 3rem; font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: var(--fg); background: #fbfbfa; }
h1 { font-size: 1.5rem; margin: 0.5rem 0; } h2 { font-size: 1.15rem; margin: 1.6rem 0 0.5rem; border-bottom: 1px solid var(--line); }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
dl.summary dt { color: var(--muted); } dl.summary dd { margin: 0; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.3rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: var(--muted); font-size: 0.8rem; }
figure.chart { margin: 0 0 1.2rem; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 0.5rem; overflow-x: auto; }
figure.chart svg, figure.chart img { display: block; max-width: 100%; height: auto; }
.mono { font-family: ui-monospace, Menlo, monospace; }
`;

function tableHtml(t: ReportTable): string {
  const numeric = t.numeric;
  const head = t.viewHead.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = t.cells.map((r) => `<tr>${r.map((c, j) => `<td${numeric[j] ? ' class="n"' : ''}>${escapeHtml(c)}</td>`).join('')}</tr>`).join('\n');
  return `<section id="${escapeHtml(t.id)}"><h2>${escapeHtml(t.title)}</h2>\n<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>` +
    `${t.note ? `<p class="note">${escapeHtml(t.note)}</p>` : ''}</section>`;
}

/** Summary lines (what, which model, how much data) as [term, value] pairs; shared by the page and the HTML. */
/** Whether the chosen checkpoint is the run's last evaluation (the rule may have picked what the budget allowed). */
export function chosenIsLast(r: Report): boolean {
  const t = r.training;
  if (!t?.chosen || t.evals.length < 2) return false;
  return t.chosen.step >= Math.max(...t.evals.map((e) => e.step));
}

export function reportSummary(r: Report): [string, string][] {
  const out: [string, string][] = [
    ['task', r.model.mixed ? `${r.task} (analyzed), of a model trained on ${r.model.mixed.join(' + ')} mixed` : r.task],
    ['model', `${r.model.kind} ${r.model.preset} (${r.model.source}), step ${r.model.step}${r.model.backend ? `, backend ${r.model.backend}` : ''}`],
    ['created', r.createdAt],
  ];
  const c = r.training?.chosen;
  if (c) out.push(['chosen checkpoint', `step ${c.step} (${c.decode}): ${c.mem} mem, ${c.gen} gen, ${c.other} other of ${c.total}` +
    (c.byTask ? ` (${Object.entries(c.byTask).map(([t, x]) => `${t}: ${x.mem} mem, ${x.gen} gen, ${x.other} other of ${x.total}`).join('; ')})` : '') +
    (chosenIsLast(r) ? '. This is the run\'s last evaluation: the rule picked what the step budget allowed, and a longer run may score higher (continue training to check)' : '')]);
  if (r.pairs) {
    const p = r.pairs;
    out.push(['contrastive pairs', `${p.kept} kept of ${p.tried} tried (flip rate ${(100 * p.flipRate).toFixed(1)}%, stopped by ${p.stoppedBy}); ` +
      `decoded prompts (${pairsDecodeName(p.decode)}): ${p.labelCounts.mem} mem, ${p.labelCounts.gen} gen, ${p.labelCounts.other} other`]);
  }
  if (r.analysis) {
    const a = r.analysis;
    const all = a.hooks.reduce((s, h) => s + h.dim, 0);
    const deg = a.hooks.some((h) => h.degenerate !== undefined) ? a.hooks.reduce((s, h) => s + (h.degenerate ?? 0), 0) : null;
    out.push(['analysis', `${a.nMem} mem and ${a.nGen} gen prompts; ${a.hooks.length} hooks, ${all} neuron positions` +
      (deg === null ? '' : ` (${deg} constant over the recorded rows, left out of ranking, top-k and probes: ${all - deg} informative)`) + `; ${a.top.length} top neurons listed`]);
  }
  if (r.steering) {
    const b = r.steering.baseline;
    const p = r.steering.pool;
    out.push(['steering baseline', p
      ? `${b.total} fresh prompts (seed ${p.seed}, none in training, validation or pairs), ${decodeName(r)}: ${b.gen} gen, ${b.mem} mem, ${b.other} other; up to ${p.perDirection} of each steered`
      : `${b.gen} gen, ${b.mem} mem, ${b.other} other of ${b.total} validation prompts (${decodeName(r)})`]);
    steeringSummary(r).forEach((line, i) => out.push([i ? '' : 'steering claims (95% intervals)', line]));
  }
  if (r.seedRuns && r.seedRuns.length > 1) out.push(['seeds', seedStatements(r.seedRuns).join(' ')]);
  return out;
}

/**
 * The self-contained HTML report. `chartsHtml` is the charts' markup (inline <svg> or <img src="data:...">, as
 * collectChartsHtml makes it); it goes in the Figures section as given. Everything else comes from `report`.
 */
export function buildReportHtml(report: Report, chartsHtml: string): string {
  const title = `MemGen Lab report: ${report.task}, ${report.model.kind} ${report.model.preset}`;
  const summary = reportSummary(report).map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="MemGen Lab">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="note">Reproduction of "Neuron-Level Differentiation of Memorization and Generalization in LLMs" (EMNLP 2025). Open this file in MemGen Lab (Report page) to explore it again.</p>
<section id="summary"><h2>Summary</h2><dl class="summary">
${summary}
</dl></section>
<section id="figures"><h2>Figures</h2>
${chartsHtml}
</section>
${reportTables(report).map(tableHtml).join('\n')}
<script type="application/json" id="memgen-report">${jsonForScript(report)}</script>
</body>
</html>
`;
}

function blobToDataUrl(b: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const fr = new FileReader();
    fr.onload = () => resolve(String(fr.result));
    fr.onerror = () => reject(new Error('Could not read a chart image for the HTML report.'));
    fr.readAsDataURL(b);
  });
}

/**
 * Markup of every chart (figure.viz) under `root`, in page order: SVG charts inline with styles resolved,
 * charts with canvas layers (heatmap, scatter) as a PNG data URL of canvas + axes. Browser only.
 */
export async function collectChartsHtml(root: ParentNode): Promise<string> {
  const parts: string[] = [];
  for (const fig of root.querySelectorAll<HTMLElement>('figure.viz')) {
    const svg = fig.querySelector<SVGSVGElement>('svg.chart-svg');
    if (!svg) continue;
    const label = svg.querySelector('text.title')?.textContent ?? fig.dataset.testid ?? 'chart';
    const id = fig.dataset.testid ? ` data-chart="${escapeHtml(fig.dataset.testid)}"` : '';
    let body: string;
    if (fig.querySelector('canvas')) {
      const r = svg.getBoundingClientRect();
      const url = await blobToDataUrl(await renderPng(svg, 2, canvasLayers(fig, svg)));
      body = `<img src="${url}" width="${Math.round(r.width)}" height="${Math.round(r.height)}" alt="${escapeHtml(label)}">`;
    } else {
      body = svgToString(svg);
    }
    const note = fig.querySelector('figcaption.note')?.textContent;
    parts.push(`<figure class="chart"${id}>${body}${note ? `<figcaption class="note">${escapeHtml(note)}</figcaption>` : ''}</figure>`);
  }
  return parts.join('\n');
}
