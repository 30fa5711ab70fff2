// The three recording points in one report (issue 16): the comparison tables built from a report, the schema
// round trip, and probes scored on fresh rows (probeAccuracy, freshProbeScores on a real GPT-2 forward).
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { describe, expect, it, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { parseReport, type Report } from '../../src/lib/report/schema';
import { reportTables } from '../../src/lib/report/tables';
import { probeAccuracy, trainProbe } from '../../src/lib/neurons/probe';
import { freshProbeScores, lastTokenActivations } from '../../src/lib/neurons/pipeline';
import { GPT2, initWeights, getOps } from '../../src/lib/models/gpt2';
import { mulberry32 } from '../../src/lib/util/rng';
import { makeReport } from './report-fixture';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function withPoints(): Report {
  const r = makeReport();
  const cell = (table: 'memToGen' | 'genToMem', alpha: number, d: number, lo: number, hi: number) => ({
    table, alpha, topFraction: 0.05, neurons: 10, prompts: 300, decode: 'beam' as const,
    targeted: { gen: 40, mem: 55, other: 5 }, targetedCi: { gen: [34.6, 45.6] as [number, number], mem: [49.3, 60.6] as [number, number], other: [3, 8.1] as [number, number] },
    control: { gen: 10, mem: 85, other: 5 }, controlSd: { gen: 1, mem: 1, other: 1 }, controlSeeds: 10,
    controls: (['paper', 'matched', 'direction'] as const).map((kind) => ({
      kind, seeds: kind === 'direction' ? 1 : 10, mean: { gen: 10, mem: 85, other: 5 }, sd: { gen: 1, mem: 1, other: 1 },
      ci: { gen: [9, 11] as [number, number], mem: [84, 86] as [number, number], other: [4, 6] as [number, number] },
      diff: { goal: { estimate: d, lo, hi }, other: { estimate: 0, lo: -1, hi: 1 } }, verdict: lo > 0 ? 'holds' as const : 'not shown' as const,
    })),
  });
  const probes = (base: number) => [1, 2].map((layer) => ({ hook: `blocks.${layer - 1}.x`, layer, trainAcc: 0.9, testAcc: base + 0.05 * layer, chance: 0.5, testRows: 100, freshAcc: base - 0.1 + 0.05 * layer, freshRows: 600, freshChance: 0.5 }));
  r.recordingPoints = [
    { hookSet: 'resid', positions: 192, degenerate: 16, topFraction: 0.05, topCount: 9, layers: [{ layer: 0, count: 0, fraction: 0 }, { layer: 2, count: 9, fraction: 1 }], probes: probes(0.7), cells: [cell('memToGen', 3, 30, 24.1, 35.8), cell('genToMem', 3, 2, -3.5, 7.2)] },
    { hookSet: 'ln2', positions: 128, degenerate: 0, topFraction: 0.05, topCount: 6, layers: [{ layer: 1, count: 3, fraction: 0.5 }, { layer: 2, count: 3, fraction: 0.5 }], probes: probes(0.75), cells: [cell('memToGen', 3, 12, 6, 18)] },
    { hookSet: 'mlp', positions: 512, degenerate: 0, topFraction: 0.05, topCount: 26, layers: [{ layer: 1, count: 20, fraction: 0.77 }, { layer: 2, count: 6, fraction: 0.23 }], probes: probes(0.8), cells: [] },
  ];
  return r;
}

describe('recording points side by side', () => {
  it('round-trips through the schema and builds one comparison row per point and steering setting', () => {
    const r = parseReport(JSON.stringify(withPoints()));
    expect(r.recordingPoints).toHaveLength(3);
    const t = reportTables(r).find((x) => x.id === 'recording-points')!;
    expect(t.cells).toHaveLength(4); // resid x 2 settings, ln2 x 1, mlp (not steered) x 1
    expect(t.viewHead).toEqual(expect.arrayContaining(['− paper', '− matched', '− direction', 'best fresh-prompt probe']));
    const resid = t.cells[0].join(' | ');
    expect(resid).toContain('residual stream');
    expect(resid).toContain('176 of 192');
    expect(resid).toContain('L2 100%');
    expect(resid).toContain('+30.0 [24.1, 35.8] holds');
    expect(t.cells[1].join(' | ')).toContain('+2.0 [-3.5, 7.2] not shown');
    expect(t.cells[2].join(' | ')).toContain('FFN LayerNorm output');
    expect(t.cells[3].join(' | ')).toContain('MLP hidden units');
    expect(t.note).toContain('beam search (5 beams)');
    const p = reportTables(r).find((x) => x.id === 'recording-points-probes')!;
    expect(p.cells).toHaveLength(6);
    expect(p.viewHead).toContain('fresh-prompt accuracy');
  });

  it('leaves the tables out of a report without recording points (older reports parse)', () => {
    const r = parseReport(JSON.stringify(makeReport()));
    expect(r.recordingPoints).toBeUndefined();
    expect(reportTables(r).some((x) => x.id.startsWith('recording-points'))).toBe(false);
  });
});

describe('probes on fresh rows', () => {
  it('scores a trained probe on new rows from the same rule (high) and with the labels flipped (low)', () => {
    const rand = mulberry32(3);
    const make = (n: number) => {
      const X = new Float32Array(n * 4), y = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        y[i] = i % 2;
        for (let j = 0; j < 4; j++) X[i * 4 + j] = rand() - 0.5 + (j === 0 ? (y[i] ? 1 : -1) : 0);
      }
      return { X, y };
    };
    const tr = make(200), fresh = make(100);
    const p = trainProbe(tr.X, tr.y, 4, { seed: 1 });
    expect(probeAccuracy(p, fresh.X, fresh.y)).toBeGreaterThan(0.95);
    expect(probeAccuracy(p, fresh.X, fresh.y.map((v) => 1 - v))).toBeLessThan(0.05);
    expect(() => probeAccuracy(p, fresh.X, fresh.y.slice(1))).toThrow(/rows of 4 features/);
  });

  it('freshProbeScores reads the prompts\' last-token activations at the probe\'s informative columns', async () => {
    const cfg = { nLayer: 1, nHead: 2, dModel: 8, nCtx: 8, vocabSize: 6, eps: 1e-5 };
    const tok = { encode: () => [], decode: () => '', eosId: 0 };
    const m = new GPT2(cfg, initWeights(cfg, 4), tok, getOps('fused'));
    const prompts = [[1, 2, 3], [4, 5], [2, 2, 1, 3], [5, 1], [3, 4, 4], [1, 1]];
    const hook = 'blocks.0.hook_resid_post';
    const acts = (await lastTokenActivations(m, prompts, [hook]))[hook]; // (6, 8)
    // a probe reading column 5 only, thresholded at its median: the labels it should reproduce exactly
    const col = prompts.map((_, i) => acts[i * 8 + 5]);
    const med = [...col].sort((a, b) => a - b)[3];
    const y = Uint8Array.from(col, (v) => (v >= med ? 1 : 0));
    const probe = { hook, keep: [5], weights: Float32Array.of(1), bias: 0, mean: Float32Array.of(med - 1e-6), std: Float32Array.of(1) };
    expect(await freshProbeScores(m, [probe], prompts, y, 0, 4)).toEqual({ [hook]: 1 });
    expect((await freshProbeScores(m, [probe], prompts, y.map((v) => 1 - v), 0, 4))[hook]).toBe(0);
    m.dispose();
  });
});

describe('compareRecordingPoints (worker service, shipped cipher model, cpu backend)', () => {
  it('records, ranks, probes (held out and fresh) and steers at all three points, then goes on from the first analysis', async () => {
    const { AnalysisService } = await import('../../src/lib/worker/analysis');
    const svc = new AnalysisService(() => undefined, () => undefined);
    const f = readFileSync('static-models/cipher-tiny-s1.mgck');
    await svc.useCheckpoint({ buffer: f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength) as ArrayBuffer, name: 'cipher-tiny-s1.mgck' });
    await expect(svc.compareRecordingPoints({})).rejects.toThrow(/No kept pairs yet/);
    const pairs = await svc.findPairs({ target: 10, maxTried: 256, timeCapSeconds: 120, decode: 'greedy' });
    expect(pairs.decode).toBe('greedy');
    await svc.record({ hookSet: 'resid' });
    const first = await svc.analyze({});
    const small = { alphas: [3], controlSeeds: 1, perDirection: 3, maxDecode: 48, decode: 'greedy' as const };
    await svc.sweep(small);
    const points = await svc.compareRecordingPoints(small);
    expect(points.map((p) => p.hookSet)).toEqual(['resid', 'ln2', 'mlp']);
    // tiny cipher: 2 blocks x 64 (resid has the embedding row too), ln2 2 x 64, mlp 2 x 256
    expect(points.map((p) => p.positions)).toEqual([192, 128, 512]);
    for (const p of points) {
      expect(p.probes.length).toBeGreaterThan(0);
      expect(p.probes.every((x) => x.freshAcc !== undefined && x.freshRows! > 0)).toBe(true);
      expect(p.cells.map((c) => c.table).sort()).toEqual(['genToMem', 'memToGen']);
      expect(p.cells.every((c) => c.decode === 'greedy' && (c.controls ?? []).length === 3)).toBe(true);
    }
    const report = svc.report();
    expect(report.recordingPoints).toHaveLength(3);
    // the session goes on from the analysis it had (the residual stream), not the last point's
    expect(report.analysis!.hooks.map((h) => h.name)).toEqual(first.hooks.map((h) => h.name));
    expect(svc.sessionState().analysis!.hooks[0].name).toBe('blocks.0.hook_resid_pre');
    expect(report.analysis!.probes.some((p) => p.freshAcc !== undefined)).toBe(true);
    expect(reportTables(report).find((t) => t.id === 'recording-points')!.cells).toHaveLength(6);
  }, 600_000);
});
