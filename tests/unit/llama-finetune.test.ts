// LoRA fine-tuning of the tiny Q8_0 LLaMA on cipher (cpu backend): the loss on fixed training examples goes
// down, evaluations are reported and the best adapter is stored in IndexedDB (fake-indexeddb), the frozen
// base weights stay bit-identical, and cancel / detach / adapter round trip behave.
import 'fake-indexeddb/auto';
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { registerQMatMulKernels } from '../../src/lib/kernels/qmatmul';
import { LlamaService } from '../../src/lib/worker/llama';
import { planFromHeader } from '../../src/lib/models/llama/plan';
import { lmLoss, LoraAdapters } from '../../src/lib/models/llama/lora';
import { checkFineTuneConfig, defaultFineTuneConfig, evalSubset, exampleIds, fineTuneLr, promptIds, type FineTuneEval, type FineTuneLog } from '../../src/lib/train/llama-finetune';
import { getTask } from '../../src/lib/tasks';
import { getRun, loadArtifact } from '../../src/lib/store/runs';
import { parseGGUF } from '../../src/lib/gguf/reader';
import type { Progress } from '../../src/lib/worker/jobs';

const bytes = readFileSync('tests/fixtures/tiny-llama-q8_0.gguf');
const buf = () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;

beforeAll(async () => {
  registerQMatMulKernels();
  await tf.setBackend('cpu');
});

async function meanLoss(s: LlamaService, rows: number[][]): Promise<number> {
  const m = s.getModel();
  let sum = 0;
  for (const r of rows) {
    const l = lmLoss(m, { tokens: [r], lossMask: [r.map(() => 1)] });
    sum += (await l.data())[0];
    l.dispose();
  }
  return sum / rows.length;
}

describe('LLaMA LoRA fine-tuning', () => {
  it('formats cipher in the chat template and the other tasks as raw text; schedule and config checks', async () => {
    const s = new LlamaService();
    await s.loadFromBuffer(buf(), 'tiny');
    const m = s.getModel(), tok = m.tokenizer;
    const ex = getTask('cipher').trainSet(1)[0];
    const chat = exampleIds(m, defaultFineTuneConfig('cipher'), ex);
    const text = tok.decode(chat);
    expect(text.startsWith('<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>')).toBe(true);
    expect(text.endsWith(`<|start_header_id|>assistant<|end_header_id|>\n\n${ex.target.trim()}<|eot_id|>`)).toBe(true);
    const p = tok.decode(promptIds(m, defaultFineTuneConfig('cipher'), ex.prompt));
    expect(p.endsWith('<|start_header_id|>assistant<|end_header_id|>\n\n')).toBe(true);
    const ax = getTask('arithmetic').trainSet(1)[0];
    const raw = exampleIds(m, defaultFineTuneConfig('arithmetic'), ax);
    expect(raw[0]).toBe(tok.bosId);
    expect(raw[raw.length - 1]).toBe(tok.eosId);
    expect(tok.decode(raw.slice(1, -1))).toBe(ax.text);
    // linear decay from lr to 0 over the run, as HF's default scheduler
    expect(fineTuneLr(0, 10, 5e-5, 'linear')).toBeCloseTo(5e-5, 12);
    expect(fineTuneLr(5, 10, 5e-5, 'linear')).toBeCloseTo(2.5e-5, 12);
    expect(fineTuneLr(9, 10, 5e-5, 'constant')).toBe(5e-5);
    // validation prompts spread over all 10 memorized patterns
    const sub = evalSubset(getTask('cipher'), 1, 10);
    expect(new Set(sub.map((i) => i.patternId)).size).toBe(10);
    const d = defaultFineTuneConfig('cipher');
    expect(d).toMatchObject({ lr: 5e-5, batchSize: 1, gradAccum: 16, chat: true, lora: { r: 8, alpha: 32, dropout: 0.1, targets: ['q_proj', 'v_proj'] } });
    expect(() => checkFineTuneConfig({ ...d, lr: 0 })).toThrow(/Learning rate 0/);
    expect(() => checkFineTuneConfig({ ...d, gradAccum: 0 })).toThrow(/Gradient accumulation must be/);
    const plan = planFromHeader(parseGGUF(bytes), 'tiny');
    expect(plan).toMatchObject({ nLayer: 2, fileBytes: bytes.length, weightBytes: s.info().weightBytes });
    expect(plan.largestBuffer.bytes).toBeGreaterThan(0);
    s.unload();
  });

  it('a short run lowers the loss, reports evaluations, stores the best adapter; base weights unchanged', async () => {
    const s = new LlamaService();
    await s.loadFromBuffer(buf(), 'tiny');
    const m = s.getModel();
    const names = ['blk.0.attn_q', 'blk.1.attn_v', 'token_embd', 'output'];
    const before = await Promise.all(names.map(async (n) => Array.from(await m.weightTensor(n).data())));
    const cfg = { ...defaultFineTuneConfig('cipher'), steps: 8, gradAccum: 2, lr: 1e-2, evalEvery: 4, evalLimit: 3, seed: 3 };
    // fixed held examples, in the same format as training
    const held = getTask('cipher').trainSet(cfg.seed).slice(0, 4).map((ex) => exampleIds(m, cfg, ex));
    const baseLoss = await meanLoss(s, held);
    const logs: FineTuneLog[] = [], evals: Array<[FineTuneEval, boolean]> = [], progress: Progress[] = [];
    let started = '', done = '', adapterParams = 0;
    const summary = await s.fineTune(cfg, {
      onStart: (i) => { started = i.runId; adapterParams = i.adapterParams; },
      onLog: (e) => logs.push(e),
      onEval: (e, b) => evals.push([e, b]),
      onProgress: (p) => progress.push(p),
      onDone: (st) => { done = st; },
    });
    expect(summary.message ?? '').toBe('');
    expect(summary.status).toBe('done');
    expect(done).toBe('done');
    // r x (K + N) per adapted projection: q_proj and v_proj in every layer
    let want = 0;
    for (let i = 0; i < m.config.nLayer; i++) for (const p of ['attn_q', 'attn_v']) { const [N, K] = m.linearShape(`blk.${i}.${p}`); want += 8 * (N + K); }
    expect(adapterParams).toBe(want);
    expect(logs.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(logs.every((l) => Number.isFinite(l.loss) && l.tokensPerSec > 0 && l.gradNorm > 0)).toBe(true);
    expect(logs[7].lr).toBeCloseTo(1e-2 / 8, 10);
    expect(evals.map(([e]) => [e.step, e.total])).toEqual([[4, 3], [8, 3]]);
    for (const [e] of evals) expect(e.mem + e.gen + e.other).toBe(3);
    expect(evals[0][1]).toBe(true); // the first evaluation is always the best so far
    expect(progress.some((p) => p.phase === 'decoding validation prompts')).toBe(true);
    expect(progress[progress.length - 1].done).toBe(8);
    // the adapter that is attached now (the best one) fits the held examples better than the base model
    const tunedLoss = await meanLoss(s, held);
    console.log('LoRA fine-tune held loss', baseLoss.toFixed(3), '->', tunedLoss.toFixed(3), 'train loss', logs[0].loss.toFixed(3), '->', logs[7].loss.toFixed(3));
    expect(tunedLoss).toBeLessThan(baseLoss - 0.25); // random-weight base: about 5.9 -> 5.4 nats
    expect(s.adapterInfo()).toMatchObject({ r: 8, alpha: 32, targets: ['q_proj', 'v_proj'] });
    expect(s.adapterInfo()!.source).toMatch(/best at step [48]/);
    // stored run with the best adapter as GGUF LoRA bytes
    const rec = await getRun(started);
    expect(rec).toMatchObject({ kind: 'train', status: 'done', config: { model: 'llama-lora', task: 'cipher' } });
    const stored = await loadArtifact(rec!.artifacts.best);
    expect(stored).toBeDefined();
    const exported = await s.exportAdapter();
    expect(Array.from(new Uint8Array(stored!))).toEqual(Array.from(exported));
    // frozen base
    const after = await Promise.all(names.map(async (n) => Array.from(await m.weightTensor(n).data())));
    expect(after).toEqual(before);
    // detach: the base model's loss again; re-attaching the stored adapter gives the tuned loss again
    s.detachAdapter();
    expect(s.adapterInfo()).toBeNull();
    expect(Math.abs((await meanLoss(s, held)) - baseLoss)).toBeLessThan(1e-5);
    s.loadAdapter(stored!, 'stored');
    expect(Math.abs((await meanLoss(s, held)) - tunedLoss)).toBeLessThan(1e-5);
    // an adapter for another model is refused with a clear message
    const other = LoraAdapters.create(m, { r: 4, alpha: 8, dropout: 0, targets: ['k_proj'] });
    const otherBytes = await other.toGGUF();
    other.dispose();
    expect(() => s.loadAdapter(new Uint8Array(20))).toThrow();
    expect(s.loadAdapter(otherBytes).targets).toEqual(['k_proj']);
    s.unload();
  });

  it('cancels mid-run, keeps the best adapter so far and refuses a second run while one is going', async () => {
    const s = new LlamaService();
    await s.loadFromBuffer(buf(), 'tiny');
    const cfg = { task: 'cipher' as const, steps: 50, gradAccum: 1, evalEvery: 2, evalLimit: 1, lr: 1e-3 };
    let second = '';
    const run = s.fineTune(cfg, {
      onLog: (e) => { if (e.step === 3) s.cancelFineTune(); },
      onStart: () => { s.fineTune(cfg).catch((e) => { second = (e as Error).message; }); },
    });
    const r = await run;
    expect(r.status).toBe('cancelled');
    expect(r.steps).toBe(3);
    expect(r.best?.step).toBe(2);
    expect(second).toMatch(/fine-tune is running/);
    expect(s.isFineTuning()).toBe(false);
    expect(s.adapterInfo()!.source).toMatch(/best at step 2/);
    s.unload();
  });

  it('pauses between forward passes and resumes', async () => {
    const s = new LlamaService();
    await s.loadFromBuffer(buf(), 'tiny');
    const steps: number[] = [];
    const run = s.fineTune({ task: 'color', steps: 4, batchSize: 1, gradAccum: 1, evalEvery: 4, evalLimit: 1 }, {
      onLog: (e) => { steps.push(e.step); if (e.step === 2) s.pauseFineTune(true); },
    });
    await new Promise((r) => setTimeout(r, 200));
    while (steps.length < 2) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 400));
    expect(steps).toEqual([1, 2]); // held while paused
    expect(s.isFineTuning()).toBe(true);
    s.pauseFineTune(false);
    const r = await run;
    expect(r.status).toBe('done');
    expect(steps).toEqual([1, 2, 3, 4]);
    s.unload();
  });
});
