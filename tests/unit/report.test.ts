// Report files in Node: JSON and HTML round trips through parseReport, bad inputs refused with clear messages,
// the tables/CSV and chart data derived from a report, and the runs file (export, import, refusal of bad files).
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { csvParseRows } from 'd3';
import { parseReport, ReportFormatError } from '../../src/lib/report/schema';
import { buildReportHtml, jsonForScript } from '../../src/lib/report/html';
import { reportTables, tableCsv } from '../../src/lib/report/tables';
import { evalSeries, layerBars, layerBarsOf, lossSeries, probeBars, probeBarsOf, steerBars, steerDiffBars, steeringSummary, volcanoData, volcanoOf } from '../../src/lib/report/figures';
import { tinyCheckpoint } from './hostile-files';
import { compareControl } from '../../src/lib/steer/experiment';
import { wilson } from '../../src/lib/neurons/intervals';
import type { Label } from '../../src/lib/tasks/types';
import { decodeRunsFile, encodeRunsFile, exportRuns, importRuns, RunsFileError, RUNS_FILE_MAGIC } from '../../src/lib/report/runs-file';
import { deleteRun, getRun, listRuns, loadArtifact, newRun, saveArtifacts, saveRun } from '../../src/lib/store/runs';
import { makeReport } from './report-fixture';

describe('parseReport', () => {
  const report = makeReport();

  it('reads back a report saved as JSON', () => {
    expect(parseReport(JSON.stringify(report))).toEqual(report);
  });

  it('reads back the report embedded in the HTML built by buildReportHtml, even with "</script>" inside strings', () => {
    const html = buildReportHtml(report, '<figure class="chart"><svg xmlns="http://www.w3.org/2000/svg"><rect width="4" height="4"/></svg></figure>');
    // the example pair contains "</script>": it must not end the embedded JSON early
    expect(report.pairs!.examples[0].mem).toContain('</script>');
    const embedded = /<script type="application\/json" id="memgen-report">([\s\S]*?)<\/script>/.exec(html)![1];
    expect(embedded).not.toContain('</');
    expect(parseReport(html)).toEqual(report);
  });

  it('escapes "<!--" too, and the escaped JSON is still the same JSON', () => {
    const v = { a: 'x <!-- <script> </script> y' };
    const s = jsonForScript(v);
    expect(s).not.toMatch(/<!--|<\//);
    expect(JSON.parse(s)).toEqual(v);
  });

  it('fills the consistency default when it is missing', () => {
    const { consistency: _, ...rest } = report;
    expect(parseReport(JSON.stringify(rest)).consistency).toEqual([]);
  });

  it('refuses bad input with a message naming the problem and the fix', () => {
    expect(() => parseReport('{"kind": "memgen-report", ')).toThrow(/not valid JSON.*Export it again/);
    expect(() => parseReport('<html><body>hello</body></html>')).toThrow(/no embedded MemGen report/);
    const wrongKind = { ...report, kind: 'something-else' };
    expect(() => parseReport(JSON.stringify(wrongKind))).toThrow(ReportFormatError);
    expect(() => parseReport(JSON.stringify(wrongKind))).toThrow(/malformed at "kind"/);
    const badProbe = structuredClone(report);
    (badProbe.analysis!.probes[1] as unknown as Record<string, unknown>).testAcc = 'high';
    expect(() => parseReport(JSON.stringify(badProbe))).toThrow(/malformed at "analysis\.probes\.1\.testAcc"/);
    const badHtml = buildReportHtml(report, '').replace('"task":"cipher"', '"task":"poetry"');
    expect(() => parseReport(badHtml)).toThrow(/malformed at "task"/);
  });
});

describe('HTML report', () => {
  const report = makeReport();
  const html = buildReportHtml(report, '<figure class="chart" data-chart="x"><svg xmlns="http://www.w3.org/2000/svg"></svg></figure>');

  it('is one self-contained file: inline CSS, no external resources, no executable script', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<link\b|\bsrc="(?!data:)|href="http/);
    const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]);
    expect(scripts).toEqual([' type="application/json" id="memgen-report"']);
    expect(html).toContain('data-chart="x"');
  });

  it('prints every table with escaped text', () => {
    for (const t of reportTables(report)) expect(html).toContain(`<section id="${t.id}">`);
    expect(html).toContain('hello &lt;/script&gt; world');
    expect(html).toContain('&amp; &quot;dog&quot;');
    // all 10 top neurons (5% of 192, rounded) are listed
    expect(report.analysis!.top.length).toBe(10);
    const topSection = html.slice(html.indexOf('<section id="top-neurons">'));
    expect(topSection.slice(0, topSection.indexOf('</section>')).match(/<tr>/g)!.length).toBe(1 + report.analysis!.top.length);
  });
});

describe('tables and chart data', () => {
  const report = makeReport();
  const tables = new Map(reportTables(report).map((t) => [t.id, t]));

  it('has every table, and CSVs carry the raw numbers', () => {
    expect([...tables.keys()]).toEqual(['training-evals', 'pair-examples', 'layer-distribution', 'probes', 'top-neurons', 'steering-memToGen', 'steering-genToMem', 'consistency', 'cross-steering']);
    const probes = csvParseRows(tableCsv(tables.get('probes')!));
    expect(probes[0]).toEqual(['hook', 'layer', 'train accuracy', 'held-out accuracy', 'held-out rows', 'features', 'chance']);
    expect(probes.slice(1).map((r) => Number(r[3]))).toEqual(report.analysis!.probes.map((p) => p.testAcc));
    const steer = csvParseRows(tableCsv(tables.get('steering-memToGen')!));
    expect(steer.length).toBe(1 + 4);
    const c0 = report.steering!.cells[0];
    expect(Number(steer[1][steer[0].indexOf('paper control sd gen')])).toBe(c0.controlSd.gen);
    // an older report (no intervals): the display shows its paper control as mean ± sd beside the targeted share
    expect(tables.get('steering-memToGen')!.viewHead).not.toContain('paper control sd gen'); // shown as ± on screen
    expect(tables.get('steering-memToGen')!.cells[0]).toContain(`${c0.control.gen.toFixed(1)}% ± ${c0.controlSd.gen.toFixed(1)}`);
    const dist = csvParseRows(tableCsv(tables.get('layer-distribution')!)).slice(1);
    const counts05 = dist.filter((r) => r[0] === '0.05').map((r) => Number(r[2]));
    expect(counts05.reduce((a, b) => a + b, 0)).toBe(report.analysis!.top.length);
    // text with commas and quotes survives the CSV
    const pairs = csvParseRows(tableCsv(tables.get('pair-examples')!));
    expect(pairs[2][0]).toBe(report.pairs!.examples[1].mem);
    // cross-steering: the goal share is % gen for Mem -> Gen and % mem for Gen -> Mem
    const cross = csvParseRows(tableCsv(tables.get('cross-steering')!));
    const cs = report.consistency[0].crossSteer!;
    expect(cross.length).toBe(1 + cs.length);
    expect(Number(cross[1][cross[0].indexOf('cross % goal')])).toBe(cs[0].cross.gen);
    expect(Number(cross[2][cross[0].indexOf('control % goal')])).toBe(cs[1].control.mem);
  });

  it('marks the chosen checkpoint on both training charts', () => {
    const chosen = report.training!.chosen!.step;
    for (const s of [lossSeries(report), evalSeries(report)]) {
      const mark = s.find((x) => x.name.startsWith('chosen checkpoint'))!;
      expect(mark.points.map((p) => p.x)).toEqual([chosen, chosen]);
      expect(mark.points[1].y).toBeGreaterThan(mark.points[0].y);
    }
    expect(lossSeries(report)[0].points.length).toBe(120);
  });

  it('maps the top set onto the flattened volcano and the bars', () => {
    const v = volcanoData(report)!;
    expect(v.x.length).toBe(192);
    const a = report.analysis!;
    for (const [k, t] of a.top.entries()) {
      const i = v.highlight[k];
      expect(v.y[i]).toBeCloseTo(Math.abs(t.r), 6);
      expect(v.label(i)).toBe(`${t.hook} #${t.index}`);
    }
    expect(layerBars(report).length).toBe(6);
    const bars = steerBars(report, 'genToMem');
    expect(bars.length).toBe(8);
    // an older report's control: mean ± sd as an interval clamped to 0..100
    const ctl = bars.filter((b) => b.key.startsWith('paper control'));
    expect(ctl.length).toBe(4);
    for (const b of ctl) expect([b.lo, b.hi]).toEqual([Math.max(0, 8.8 - 1.9), 8.8 + 1.9]);
  });

  it("gives the Neurons page's live analysis (float32 rows from the worker) the report's volcano and bars", () => {
    const a = report.analysis!;
    // the shape the worker hands the page: one { hook, r, nmd } per hook, as Float32Arrays
    const live = a.hooks.map((h, i) => ({ hook: h.name, r: Float32Array.from(a.r[i]), nmd: Float32Array.from(a.nmd[i]) }));
    const page = volcanoOf(live, a.top), saved = volcanoData(report)!;
    expect(page.x).toEqual(saved.x);
    expect(page.y).toEqual(saved.y);
    expect(page.highlight).toEqual(saved.highlight);
    for (const [k, t] of a.top.entries()) {
      expect(page.locate(page.highlight[k])).toEqual([t.hook, t.index]); // what a click selects
      expect(page.label(page.highlight[k])).toBe(saved.label(saved.highlight[k]));
    }
    expect(layerBarsOf(a.layerDistribution)).toEqual(layerBars(report));
    expect(probeBarsOf(a.probes)).toEqual(probeBars(report));
  });

  it('shows every control with intervals, the difference and its verdict (cells from real label runs)', () => {
    const r = makeReport();
    const lab = (g: number, m: number, n = 100): Label[] => Array.from({ length: n }, (_, i) => (i < g ? 'gen' : i < g + m ? 'mem' : 'other'));
    // Mem -> Gen: targeted moves 40 of 100 to gen; paper control breaks outputs (0 gen); matched moves ~10; direction 45
    const targeted = lab(40, 60);
    const controls = [
      compareControl('paper', 'gen', targeted, Array.from({ length: 10 }, () => lab(0, 10)), 500),
      compareControl('matched', 'gen', targeted, Array.from({ length: 10 }, (_, s) => lab(8 + (s % 5), 90 - (s % 5))), 500),
      compareControl('direction', 'gen', targeted, [lab(45, 55)], 500),
    ];
    r.steering = { baseline: { mem: 300, gen: 300, other: 10, total: 610 }, decode: 'beam',
      pool: { source: 'fresh', seed: 1, decode: 'beam', counts: { mem: 300, gen: 300, other: 10, total: 610 }, excluded: 2, perDirection: 100 },
      cells: [{ table: 'memToGen', alpha: 3, topFraction: 0.05, neurons: 6, prompts: 100, decode: 'beam',
        targeted: { gen: 40, mem: 60, other: 0 }, targetedCi: { gen: wilson(40, 100), mem: wilson(60, 100), other: wilson(0, 100) },
        control: controls[0].mean, controlSd: controls[0].sd, controlSeeds: 10, controls }] };
    const parsed = parseReport(JSON.stringify(r));
    expect(parsed.steering!.cells[0].controls!.map((c) => c.verdict)).toEqual(['holds', 'holds', 'not shown']);
    const t = reportTables(parsed).find((x) => x.id === 'steering-memToGen')!;
    expect(t.title).toContain('beam search (5 beams)');
    for (const k of ['paper', 'matched', 'direction']) expect(t.viewHead).toContain(`targeted − ${k}, % gen`);
    const row = Object.fromEntries(t.viewHead.map((h, i) => [h, t.cells[0][i]]));
    const [lo, hi] = wilson(40, 100);
    expect(row['% gen']).toBe(`40.0% [${lo.toFixed(1)}, ${hi.toFixed(1)}]`);
    expect(row['vs direction']).toBe('not shown');
    // paired prompts: the direction reaches gen on the same 40 prompts and 5 more, so its lead is clear
    expect(row['targeted − direction, % gen']).toMatch(/^−5\.0 \[-\d+\.\d, -\d+\.\d\]$/);
    expect(reportTables(parsed).find((x) => x.id === 'steering-prompts')!.cells[0]).toContain('610');
    const bars = steerBars(parsed, 'memToGen');
    expect(bars.map((b) => b.key)).toEqual(['targeted', 'paper control (random, ±max|NMD|)', 'matched control (random, same hooks and shifts)', 'direction control (DiffMean, same norm)']);
    for (const b of bars) {
      expect(b.lo!).toBeGreaterThanOrEqual(0);
      expect(b.hi!).toBeLessThanOrEqual(100);
      expect(b.lo!).toBeLessThanOrEqual(b.value);
      expect(b.hi!).toBeGreaterThanOrEqual(b.value);
    }
    expect(bars[1]).toMatchObject({ value: 0, lo: 0, hi: 0 }); // the paper control never reached gen
    const diffs = steerDiffBars(parsed, 'memToGen');
    expect(diffs.map((d) => d.value)).toEqual([40, controls[1].diff.goal.estimate, -5]);
    expect(steeringSummary(parsed)[0]).toMatch(/Mem → Gen \(% gen\), targeted vs paper control: holds in 1 of 1 settings \(α=3 top 5%\); 100 prompts, 10 control runs, beam search/);
    expect(steeringSummary(parsed)[2]).toMatch(/direction control: not shown in any of 1 settings; 100 prompts, 1 control run,/);
  });

  it('leaves out what the report lacks', () => {
    const bare = { ...makeReport(), training: null, pairs: null, analysis: null, steering: null, consistency: [] };
    expect(reportTables(bare)).toEqual([]);
    expect(lossSeries(bare)).toEqual([]);
    expect(volcanoData(bare)).toBeNull();
  });
});

describe('runs file', () => {

  async function seedRuns() {
    for (const r of await listRuns()) await deleteRun(r.id);
    const a = newRun('train', 'cipher tiny, seed 1', { task: 'cipher', steps: 40 });
    a.status = 'done';
    a.summary = { step: 40, best: { gen: 12 } };
    await saveArtifacts(a, { best: tinyCheckpoint(1), latest: tinyCheckpoint(2) }); // import decodes a training run's checkpoints
    const b = newRun('analyze', 'neurons of seed 1', { top: 0.05 }, a.id);
    b.status = 'done';
    await saveRun(b);
    return { a, b };
  }

  it('exports runs with their checkpoints and imports them back byte for byte', async () => {
    const { a, b } = await seedRuns();
    const out = await exportRuns();
    expect(out).toMatchObject({ runs: 2, artifacts: 2, missing: [] });
    for (const r of await listRuns()) await deleteRun(r.id);
    expect(await listRuns()).toEqual([]);
    const res = await importRuns(out.blob);
    expect(res.imported.sort()).toEqual([a.id, b.id].sort());
    const a2 = (await getRun(a.id))!;
    expect(a2).toMatchObject({ title: a.title, kind: 'train', status: 'done', config: a.config, summary: a.summary, createdAt: a.createdAt });
    expect(new Uint8Array((await loadArtifact(a2.artifacts.best))!)).toEqual(new Uint8Array(tinyCheckpoint(1)));
    expect(new Uint8Array((await loadArtifact(a2.artifacts.latest))!)).toEqual(new Uint8Array(tinyCheckpoint(2)));
    expect((await getRun(b.id))!.parent).toBe(a.id);
  });

  it('exports only the selected runs, and never overwrites a stored run on import', async () => {
    const { a, b } = await seedRuns();
    const one = await exportRuns([b.id]);
    expect(one.runs).toBe(1);
    expect((await decodeRunsFile(await one.blob.arrayBuffer())).map((e) => e.record.id)).toEqual([b.id]);
    const all = await exportRuns();
    // change a stored run: importing the file must keep the stored version
    const a1 = (await getRun(a.id))!;
    a1.title = 'renamed here';
    await saveRun(a1);
    const res = await importRuns(all.blob);
    expect(res).toEqual({ imported: [], skipped: expect.arrayContaining([a.id, b.id]) });
    expect((await getRun(a.id))!.title).toBe('renamed here');
    await expect(exportRuns(['no-such-run'])).rejects.toThrow(/not found: no-such-run/);
  });

  it('refuses damaged or foreign files with a clear message and changes nothing', async () => {
    await seedRuns();
    const good = new Uint8Array(await (await exportRuns()).blob.arrayBuffer());
    for (const r of await listRuns()) await deleteRun(r.id);
    const tryImport = async (buf: Uint8Array<ArrayBuffer>) => {
      const err = await importRuns(new Blob([buf])).then(() => null, (e: Error) => e);
      expect(await listRuns()).toEqual([]); // nothing written
      return err;
    };
    // not a runs file at all
    let e = await tryImport(new TextEncoder().encode('{"kind":"memgen-report"}'));
    expect(e).toBeInstanceOf(RunsFileError);
    expect(e!.message).toMatch(new RegExp(`not a MemGen runs file.*${RUNS_FILE_MAGIC}`));
    // cut short inside the artifacts
    e = await tryImport(good.slice(0, good.length - 100));
    expect(e!.message).toMatch(/cut short: artifact "(best|latest)"/);
    // one flipped byte in a checkpoint
    const flipped = good.slice();
    flipped[flipped.length - 5] ^= 0xff;
    e = await tryImport(flipped);
    expect(e!.message).toMatch(/is damaged \(its SHA-256 does not match\)/);
    // a header that breaks the schema
    const hlen = new DataView(good.buffer).getUint32(RUNS_FILE_MAGIC.length, true);
    const header = new TextDecoder().decode(good.slice(16, 16 + hlen)).replace('"kind":"train"', '"kind":"trian"');
    const enc = new TextEncoder().encode(header);
    const bad = new Uint8Array(16 + enc.length + good.length - 16 - hlen);
    bad.set(good.slice(0, 16));
    new DataView(bad.buffer).setUint32(RUNS_FILE_MAGIC.length, enc.length, true);
    bad.set(enc, 16);
    bad.set(good.slice(16 + hlen), 16 + enc.length);
    e = await tryImport(bad);
    expect(e!.message).toMatch(/header is malformed at "runs\.\d\.record\.kind"/);
  });

  it('encodes an empty selection as a valid file', async () => {
    expect(await decodeRunsFile(await (await encodeRunsFile([])).arrayBuffer())).toEqual([]);
  });
});

describe('bar figures of a report', () => {
  it('give every bar a distinct (group, key), so the charts can key them: cross-steering at two α, intra and inter comparisons', async () => {
    const { consistencyBars, crossSteerBars, probeBars, steerBars: sb, layerBars: lb } = await import('../../src/lib/report/figures');
    const r = makeReport();
    const cs = r.consistency[0].crossSteer!;
    r.consistency[0].crossSteer = [...cs, ...cs.map((x) => ({ ...x, alpha: 3 }))]; // the same tables at α 1 and 3
    r.consistency.push({ label: 'cipher vs color (one model)', kind: 'inter', topFraction: 0.05, jaccard: 0, randomJaccard: 0.027, spearmanAbsR: 0.7, positions: 192, crossSteer: cs });
    const parsed = parseReport(JSON.stringify(r));
    for (const [name, bars] of Object.entries({
      consistency: consistencyBars(parsed), crossSteer: crossSteerBars(parsed), probes: probeBars(parsed).data,
      memToGen: sb(parsed, 'memToGen'), genToMem: sb(parsed, 'genToMem'), layers: lb(parsed),
    })) {
      const ids = bars.map((b) => `${b.group}\u0000${b.key}`);
      expect(new Set(ids).size, name).toBe(ids.length);
      expect(ids.length, name).toBeGreaterThan(0);
    }
    expect(crossSteerBars(parsed).length).toBe(3 * (4 + 2)); // own, other's and control for each (comparison, table, α)
  });
});
