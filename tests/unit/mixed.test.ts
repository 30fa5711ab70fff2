// The mixed task (one GPT-2 on several tasks, for inter-task consistency): data, tokenizer, labels, the
// checkpoint rule across parts, and a short real training run on it (tfjs cpu backend).
import 'fake-indexeddb/auto';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { getTask, mixedTask, mixedParts } from '../../src/lib/tasks';
import { makeBatch } from '../../src/lib/train/data';
import { betterCheckpoint } from '../../src/lib/train/evaluate';
import { TrainRun, defaultTrainConfig, modelConfigFor, validateTrainConfig } from '../../src/lib/train/trainer';
import { decodeCheckpoint } from '../../src/lib/train/checkpoint';
import { getOps } from '../../src/lib/models/gpt2';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('mixed task', () => {
  const mix = mixedTask(['cipher', 'color']);

  it('checks its parts: known, at least two, in the lab order', () => {
    expect(mixedParts(['color', 'cipher'])).toEqual(['cipher', 'color']);
    expect(mixedParts(undefined)).toEqual(['arithmetic', 'cipher', 'color']);
    expect(() => mixedParts(['cipher'])).toThrow(/at least two/);
    expect(() => mixedParts(['cipher', 'poetry'])).toThrow(/Unknown task "poetry"/);
    expect(() => mix.pairs(1, 3)).toThrow(/one task at a time/);
  });

  it('balances the parts and tags each example with its part', () => {
    const train = mix.trainSet(7, 0);
    const byPart = { cipher: train.filter((e) => e.task === 'cipher'), color: train.filter((e) => e.task === 'color') };
    expect(byPart.cipher.length).toBe(byPart.color.length);
    expect(byPart.cipher.length + byPart.color.length).toBe(train.length);
    // the parts' own examples, unchanged
    expect(byPart.cipher[0].text).toBe(getTask('cipher').trainSet(7)[0].text);
    expect(byPart.color[5].text).toBe(getTask('color').trainSet(7, 0)[5].text);
    // a small part is repeated as further epochs: arithmetic has 1,000 examples, cipher 10,000
    const three = mixedTask(['arithmetic', 'cipher']).trainSet(7, 0);
    expect(three.filter((e) => e.task === 'arithmetic').length).toBe(three.filter((e) => e.task === 'cipher').length);
  });

  it('tokenizes every part round-trip within maxTokens, with the union vocabulary', () => {
    const tok = mix.tokenizer();
    for (const p of ['cipher', 'color'] as const) {
      for (const t of getTask(p).tokenizer().vocab.filter((v) => v.length > 1 && !v.startsWith('<'))) expect(tok.vocab).toContain(t);
    }
    const max = mix.maxTokens();
    for (const e of mix.trainSet(3, 0).slice(0, 4000)) {
      const enc = tok.encodeExample(e);
      expect(tok.decode(enc.ids)).toBe(e.text);
      expect(enc.ids.length).toBeLessThanOrEqual(max);
    }
  });

  it('labels each validation prompt by its own part, n per part', () => {
    const items = mix.evalSet(1, 4);
    expect(items.map((i) => mix.partOf(i))).toEqual(['cipher', 'cipher', 'cipher', 'cipher', 'color', 'color', 'color', 'color']);
    const cipherItem = items[0], colorItem = items[4];
    expect(mix.label(cipherItem, cipherItem.genAnswer)).toBe('gen');
    expect(mix.label(cipherItem, cipherItem.memAnswer)).toBe('mem');
    expect(mix.label(colorItem, ` ${colorItem.genAnswer}.`)).toBe(getTask('color').label(colorItem, ` ${colorItem.genAnswer}.`));
    expect(() => mix.partOf({ id: 'arithmetic-val-1-0' })).toThrow(/none of the mixed tasks/);
  });

  it('keeps a part on answer-only loss and the other on the whole text', () => {
    const ex = [getTask('cipher').trainSet(1)[0], getTask('color').trainSet(1, 0)[0]].map((e, k) => ({ ...e, task: k ? 'color' as const : 'cipher' as const }));
    const tok = mix.tokenizer();
    const b = makeBatch(ex, tok, (e) => e.task === 'cipher', 200);
    const enc = ex.map((e) => tok.encodeExample(e));
    const weighted = (row: number) => Array.from(b.weights.subarray(row * b.T, (row + 1) * b.T)).reduce((a, c) => a + c, 0);
    expect(weighted(0)).toBe(enc[0].ids.length - enc[0].targetStart); // answer only
    expect(weighted(1)).toBe(enc[1].ids.length - 1); // every next token
  });
});

describe('the checkpoint rule across parts', () => {
  const counts = (c: [number, number, number], o: [number, number, number]) => ({
    gen: c[0] + o[0], mem: c[1] + o[1], other: c[2] + o[2], total: 200,
    byTask: { cipher: { gen: c[0], mem: c[1], other: c[2], total: 100 }, color: { gen: o[0], mem: o[1], other: o[2], total: 100 } },
  });

  it('prefers both behaviors in every part over a larger total product', () => {
    const lopsided = counts([50, 50, 0], [0, 100, 0]); // overall 50 gen x 150 mem, but color never generalizes
    const mixed = counts([80, 20, 0], [10, 10, 80]);
    expect(betterCheckpoint(mixed, lopsided)).toBe(true);
    expect(betterCheckpoint(lopsided, mixed)).toBe(false);
  });

  it('still moves toward the mix while a part lacks a behavior', () => {
    expect(betterCheckpoint(counts([50, 50, 0], [0, 100, 0]), counts([99, 1, 0], [0, 100, 0]))).toBe(true);
  });

  it('is the paper rule (#gen x #mem) for one task', () => {
    expect(betterCheckpoint({ gen: 60, mem: 40, other: 0, total: 100 }, { gen: 90, mem: 10, other: 0, total: 100 })).toBe(true);
  });
});

describe('training on a mixed task', () => {
  it('defaults to cipher + color on tiny, each part with its own loss mode', () => {
    const cfg = defaultTrainConfig('mixed', 'tiny');
    expect(cfg.tasks).toEqual(['cipher', 'color']);
    expect(cfg.answerOnlyTasks).toEqual(['cipher']);
    expect(defaultTrainConfig('mixed', 'classroom').tasks).toEqual(['arithmetic', 'cipher', 'color']);
    expect(() => validateTrainConfig({ ...cfg, tasks: ['cipher'] })).toThrow(/at least two/);
    expect(modelConfigFor(cfg).vocabSize).toBe(mixedTask(['cipher', 'color']).tokenizer().size);
  });

  it('trains, evaluates per part, and round-trips through a checkpoint', async () => {
    const cfg = { ...defaultTrainConfig('mixed', 'tiny'), steps: 3, batchSize: 4, evalLimit: 2, evalEvery: 3 };
    const run = TrainRun.create(cfg, getOps('fused'), 'mixed-test');
    const first = await run.trainStep();
    expect(Number.isFinite(first.loss)).toBe(true);
    await run.trainStep();
    await run.trainStep();
    const ev = await run.evaluate();
    expect(ev.total).toBe(4);
    expect(Object.keys(ev.byTask ?? {})).toEqual(['cipher', 'color']);
    expect(ev.byTask!.cipher.total + ev.byTask!.color.total).toBe(4);
    const { buf } = await run.encode(true, ev);
    const ck = decodeCheckpoint(buf);
    expect(ck.header.task).toBe('mixed');
    expect(ck.header.eval?.byTask?.color.total).toBe(2);
    const again = TrainRun.fromCheckpoint(buf, getOps('fused'));
    expect(again.step).toBe(3);
    expect(again.task.name).toBe('mixed');
    const a = await run.trainStep(), b = await again.trainStep();
    expect(b.loss).toBeCloseTo(a.loss, 4); // same data, same weights and moments
    run.dispose();
    again.dispose();
  });
});

describe('analysis of a mixed model (worker service, cpu backend)', () => {
  it('analyzes one part at a time, switches parts, and refuses inter-task comparisons on a one-task model', async () => {
    const { AnalysisService } = await import('../../src/lib/worker/analysis');
    const svc = new AnalysisService(() => undefined, () => undefined);
    const run = TrainRun.create({ ...defaultTrainConfig('mixed', 'tiny'), steps: 1, batchSize: 2 }, getOps('fused'), 'mixed-svc');
    const { buf } = await run.encode(false, null);
    run.dispose();

    const info = await svc.useCheckpoint({ buffer: buf.slice(0) });
    expect(info.mixed).toEqual(['cipher', 'color']);
    expect(info.task).toBe('cipher');
    expect((await svc.useCheckpoint({ buffer: buf.slice(0), task: 'color' })).task).toBe('color');
    await expect(svc.useCheckpoint({ buffer: buf.slice(0), task: 'arithmetic' })).rejects.toThrow(/trained on cipher, color, not on arithmetic/);
    expect(svc.switchTask('cipher').task).toBe('cipher');
    expect(() => svc.switchTask('arithmetic')).toThrow(/not on arithmetic/);
    // the part's own prompts: cipher validation items, labeled by the cipher rule
    const p = await svc.tryPrompt({ alpha: 0, topFraction: 0.05, direction: 'toGen' }).catch((e: Error) => e);
    expect(String(p)).toMatch(/No analysis yet/);
    await expect(svc.interTaskConsistency({ task: 'color', target: 4 })).rejects.toThrow(/Run the analysis first/);
    await expect(svc.interTaskConsistency({ task: 'cipher', target: 4 })).rejects.toThrow(/Choose another task of this mixed model/);

    const single = TrainRun.create({ ...defaultTrainConfig('cipher', 'tiny'), steps: 1, batchSize: 2 }, getOps('fused'), 'cipher-svc');
    const one = (await single.encode(false, null)).buf;
    single.dispose();
    const i1 = await svc.useCheckpoint({ buffer: one, task: 'color' }); // a one-task model ignores the part asked for
    expect(i1.task).toBe('cipher');
    expect(i1.mixed).toBeUndefined();
    expect(() => svc.switchTask('color')).toThrow(/trained on cipher only/);
    await expect(svc.interTaskConsistency({ task: 'color', target: 4 })).rejects.toThrow(/needs one model trained on several tasks/);
  });
});
