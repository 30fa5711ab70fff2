// Issue 17: small hostile files and nonsense values, each refused with a message naming the problem and the fix,
// before anything is allocated from them. Each case was reproduced by hand against the readers first.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { GGUFError, parseGGUF } from '../../src/lib/gguf/reader';
import { floatToHalf } from '../../src/lib/gguf/quant';
import { checkFiniteTensor, firstNonFinite } from '../../src/lib/gguf/finite';
import { configFromGGUF } from '../../src/lib/models/llama/config';
import { LlamaModel } from '../../src/lib/models/llama/model';
import { planFromHeader } from '../../src/lib/models/llama/plan';
import { registerQMatMulKernels } from '../../src/lib/kernels/qmatmul';
import { decodeCheckpoint } from '../../src/lib/train/checkpoint';
import { TrainRun, defaultTrainConfig, validateTrainConfig, type TrainConfig } from '../../src/lib/train/trainer';
import { checkTrainSettings, trainFieldProblem, TrainSettingsError } from '../../src/lib/train/settings';
import { PRESETS, type PresetName } from '../../src/lib/models/gpt2/config';
import type { ModelOps } from '../../src/lib/models/gpt2/ops';
import { readLinkParams } from '../../src/lib/ui/link-params';
import { decodeRunsFile, encodeRunsFile } from '../../src/lib/report/runs-file';
import { embeddedReport, parseReport, ReportFormatError } from '../../src/lib/report/schema';
import { buildReportHtml } from '../../src/lib/report/html';
import { OFF_THREAD_BYTES, parseReportAsync, setParseWorkerFactory } from '../../src/lib/report/parse-async';
import { makeReport } from './report-fixture';
import {
  fixture, ggufBlockCountBomb, ggufOverlap, renameInPlace, rewriteGGUF, checkpointOverlapBomb, checkpointWithValue, tinyCheckpoint,
  withCheckpointHeader, rawRunsFile, runRecord, runsOverlapBomb,
} from './hostile-files';

beforeAll(async () => {
  registerQMatMulKernels();
  await tf.setBackend('cpu');
});

const FIX = /re-convert|fetch the file again|fetch or convert it again/;

describe('GGUF: memory bombs and nonsense metadata', () => {
  it('refuses llama.block_count = 1e8 in a small file at the load plan, before sizing anything from it', () => {
    const b = ggufBlockCountBomb();
    expect(b.length).toBeLessThan(1 << 20);
    const h = parseGGUF(b);
    const before = process.memoryUsage().heapUsed;
    expect(() => planFromHeader(h, 'bomb.gguf')).toThrow(/llama\.block_count is 100000000: it must be a whole number from 1 to 1024.*re-convert/);
    expect(() => configFromGGUF(h)).toThrow(GGUFError);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 2 ** 20);
  });

  it('refuses block_count 0, -1 (i32), 2.5 (f32), more blocks than the file holds and fewer', () => {
    const f = 'tiny-llama-q8_0.gguf';
    const cfg = (v: Parameters<typeof rewriteGGUF>[1]) => () => configFromGGUF(parseGGUF(rewriteGGUF(f, v)));
    expect(cfg({ 'llama.block_count': { type: 'u32', value: 0 } })).toThrow(/llama\.block_count is 0: it must be a whole number/);
    expect(cfg({ 'llama.block_count': { type: 'i32', value: -1 } })).toThrow(/llama\.block_count is -1/);
    expect(cfg({ 'llama.block_count': { type: 'f32', value: 2.5 } })).toThrow(/llama\.block_count is 2\.5/);
    expect(cfg({ 'llama.block_count': { type: 'u32', value: 3 } })).toThrow(/llama\.block_count is 3 but the file holds tensors for 2 block/);
    expect(cfg({ 'llama.block_count': { type: 'u32', value: 1 } })).toThrow(/llama\.block_count is 1 but the file holds tensors for block 1.*fewer blocks than the file holds.*re-convert/);
    expect(cfg({})).not.toThrow();
  });

  it('refuses a negative or NaN epsilon and a RoPE base of 0', () => {
    const f = 'tiny-llama-q8_0.gguf';
    const cfg = (v: Parameters<typeof rewriteGGUF>[1]) => () => configFromGGUF(parseGGUF(rewriteGGUF(f, v)));
    expect(cfg({ 'llama.attention.layer_norm_rms_epsilon': { type: 'f32', value: -1e-5 } })).toThrow(/layer_norm_rms_epsilon is -0\.0000\d+: it must be between 0 and 1.*re-convert/);
    expect(cfg({ 'llama.attention.layer_norm_rms_epsilon': { type: 'f32', value: NaN } })).toThrow(/layer_norm_rms_epsilon is NaN/);
    expect(cfg({ 'llama.rope.freq_base': { type: 'f32', value: 0 } })).toThrow(/llama\.rope\.freq_base is 0: it must be a finite number above 1/);
    expect(cfg({ 'llama.rope.freq_base': { type: 'f32', value: Infinity } })).toThrow(/freq_base is Infinity/);
  });

  it('refuses a metadata key given twice (llama.cpp refuses it; the last value used to win)', () => {
    const b = rewriteGGUF('tiny-llama-q8_0.gguf', { 'llama.block_coun2': { type: 'u32', value: 7 } });
    expect(parseGGUF(b).metadata['llama.block_coun2']).toBe(7);
    expect(() => parseGGUF(renameInPlace(b, 'llama.block_coun2', 'llama.block_count'))).toThrow(/metadata key "llama\.block_count" appears twice.*re-convert/);
  });

  it('refuses general.alignment stored as f32 (GGUF requires UINT32)', () => {
    const b = rewriteGGUF('tiny-llama-q8_0.gguf', { 'general.alignment': { type: 'f32', value: 32 } });
    expect(() => parseGGUF(b)).toThrow(/general\.alignment is stored as FLOAT32: GGUF requires UINT32.*re-convert/);
    expect(() => parseGGUF(rewriteGGUF('tiny-llama-q8_0.gguf', { 'general.alignment': { type: 'u32', value: 32 } }))).not.toThrow();
  });

  it('refuses tensors whose data overlaps or is out of file order', () => {
    expect(() => parseGGUF(fixture('tiny-llama-q8_0.gguf'))).not.toThrow();
    expect(() => parseGGUF(ggufOverlap())).toThrow(/corrupt: tensor \S+ starts at data offset 0, inside or before tensor \S+.*must not overlap/);
  });
});

describe('GGUF: NaN and infinite weights are refused at load', () => {
  const NAN16 = 0x7e00, INF16 = 0x7c00;

  it('finds a NaN/Inf in F32 and F16 values, and in the f16 scales of every block format', () => {
    const f32 = new Float32Array([1, 2, 3, 4]);
    expect(firstNonFinite('F32', new Uint8Array(f32.buffer))).toBe(-1);
    f32[2] = -Infinity;
    expect(firstNonFinite('F32', new Uint8Array(f32.buffer))).toBe(2);
    // an unaligned view takes the DataView path
    const odd = new Uint8Array(17);
    odd.set(new Uint8Array(f32.buffer), 1);
    expect(firstNonFinite('F32', odd.subarray(1))).toBe(2);
    const f16 = new Uint16Array([floatToHalf(1), floatToHalf(65504), NAN16]);
    expect(firstNonFinite('F16', new Uint8Array(f16.buffer))).toBe(2);
    expect(firstNonFinite('F16', new Uint8Array(f16.buffer, 0, 4))).toBe(-1);
    for (const [type, size, scales] of [['Q8_0', 34, [0]], ['Q4_0', 18, [0]], ['Q4_K', 144, [0, 2]], ['Q6_K', 210, [208]]] as const) {
      for (const at of scales) {
        const raw = new Uint8Array(size * 3).fill(0x11); // quants are small integers; 0x1111 is a finite f16
        expect(firstNonFinite(type, raw)).toBe(-1);
        new DataView(raw.buffer).setUint16(size * 2 + at, INF16, true);
        expect(firstNonFinite(type, raw)).toBe(2);
        expect(() => checkFiniteTensor('w', type, raw)).toThrow(/tensor w \(\w+\) holds a NaN or infinite number at the scale of block 2.*fetch the file again/);
      }
    }
  });

  it('LlamaModel.fromGGUF refuses a fixture with one NaN weight (F32) and one infinite scale (Q8_0)', async () => {
    const nanF32 = rewriteGGUF('tiny-llama-f32.gguf', {}, (ts) => ts.map((t) => {
      if (t.name !== 'blk.1.ffn_up.weight') return t;
      const d = t.data.slice();
      new DataView(d.buffer).setFloat32(40, NaN, true);
      return { ...t, data: d };
    }));
    await expect(LlamaModel.fromGGUF(nanF32, parseGGUF(nanF32))).rejects.toThrow(/tensor blk\.1\.ffn_up\.weight \(F32\) holds a NaN or infinite number at value 10/);
    const infQ8 = rewriteGGUF('tiny-llama-q8_0.gguf', {}, (ts) => ts.map((t) => {
      if (t.name !== 'blk.0.attn_q.weight') return t;
      const d = t.data.slice();
      new DataView(d.buffer).setUint16(34 * 5, INF16, true);
      return { ...t, data: d };
    }));
    await expect(LlamaModel.fromGGUF(infQ8, parseGGUF(infQ8))).rejects.toThrow(/tensor blk\.0\.attn_q\.weight \(Q8_0\) holds a NaN or infinite number at the scale of block 5/);
    const before = tf.memory().numTensors;
    const m = await LlamaModel.fromGGUF(fixture('tiny-llama-q8_0.gguf'), parseGGUF(fixture('tiny-llama-q8_0.gguf')));
    expect(m.config.nLayer).toBe(2);
    expect(tf.memory().numTensors).toBeGreaterThan(before);
  });
});



describe('.mgck checkpoints: overlap bomb, NaN weights, settings out of bounds', () => {
  it('refuses 250 tensor entries over the same 4 MB before copying any (used to allocate 1 GB)', () => {
    const bomb = checkpointOverlapBomb();
    expect(bomb.length).toBeLessThan(5 << 20);
    const before = process.memoryUsage().arrayBuffers;
    expect(() => decodeCheckpoint(bomb.buffer as ArrayBuffer)).toThrow(/tensor "t1" starts at byte 0, inside or before tensor "t0" \(which ends at 4194304\); tensors must not overlap.*Choose a checkpoint file/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(bomb.length);
  });

  it('refuses out-of-order extents too (each must start at or after the previous one ends)', () => {
    const base = tinyCheckpoint(1);
    const h = decodeCheckpoint(base).header;
    const swapped = { ...h, tensors: [h.tensors[1], h.tensors[0], ...h.tensors.slice(2)] };
    expect(() => decodeCheckpoint(withCheckpointHeader(base, swapped).buffer as ArrayBuffer)).toThrow(/tensors must not overlap/);
  });

  it('refuses NaN and infinite weights, naming the tensor and index', () => {
    expect(() => decodeCheckpoint(checkpointWithValue(NaN).buffer as ArrayBuffer)).toThrow(/tensor "wte" holds NaN at index 3 \(weights must be finite\)\. Choose a checkpoint file/);
    expect(() => decodeCheckpoint(checkpointWithValue(-Infinity, 'ln_f.weight', 0).buffer as ArrayBuffer)).toThrow(/tensor "ln_f\.weight" holds -Infinity at index 0/);
    expect(() => decodeCheckpoint(checkpointWithValue(3.5).buffer as ArrayBuffer)).not.toThrow();
  });

  it('refuses batchSize 3e7, lr 50 and evalEvery 0 in the header, naming each field and its bounds', () => {
    const bad = tinyCheckpoint(1, { batchSize: 3e7, lr: 50, evalEvery: 0 });
    expect(() => decodeCheckpoint(bad)).toThrow(
      /Invalid training settings in the checkpoint's header: batchSize is 30000000: it must be a whole number from 1 to 1024; lr is 50: it must be a number above 0 and below 1; evalEvery is 0: it must be a whole number from 1 to 1000000\. The file was edited or damaged\. Re-export it/,
    );
  });

  it('import and resume refuse them too: TrainRun.fromCheckpoint checks settings before building anything', () => {
    const ck = decodeCheckpoint(tinyCheckpoint(1));
    ck.header.train = { ...ck.header.train, batchSize: 3e7 };
    expect(() => TrainRun.fromCheckpoint(ck, {} as ModelOps)).toThrow(TrainSettingsError);
    expect(() => TrainRun.fromCheckpoint(ck, {} as ModelOps)).toThrow(/in the checkpoint's header: batchSize is 30000000: it must be a whole number from 1 to 1024/);
    const ok = decodeCheckpoint(tinyCheckpoint(1));
    expect(() => TrainRun.fromCheckpoint(ok, {} as ModelOps, { batchSize: 4096 })).toThrow(/for resuming: batchSize is 4096/);
  });

  it('refuses a model config out of bounds (nLayer 1e8)', () => {
    const base = tinyCheckpoint(1);
    const h = decodeCheckpoint(base).header;
    const big = { ...h, config: { ...h.config, nLayer: 1e8 } };
    expect(() => decodeCheckpoint(withCheckpointHeader(base, big).buffer as ArrayBuffer)).toThrow(/model config is invalid: nLayer must be a whole number from 1 to 96 \(got 100000000\).*Choose a checkpoint file/);
  });
});

describe('training settings: one validator for the page, files and links', () => {
  it('accepts every default and every shipped model, refuses each field out of bounds by name', () => {
    for (const task of ['arithmetic', 'cipher', 'color', 'mixed'] as const)
      for (const preset of Object.keys(PRESETS) as PresetName[]) expect(() => validateTrainConfig(defaultTrainConfig(task, preset))).not.toThrow();
    for (const f of readdirSync('static-models').filter((x) => x.endsWith('.mgck'))) {
      const b = readFileSync(`static-models/${f}`);
      expect(() => decodeCheckpoint(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer)).not.toThrow();
    }
    const cfg = defaultTrainConfig('cipher', 'tiny');
    const cases: Array<[keyof TrainConfig, unknown, RegExp]> = [
      ['batchSize', 3e7, /batchSize is 30000000: it must be a whole number from 1 to 1024/],
      ['batchSize', 2.5, /batchSize is 2\.5/],
      ['lr', 50, /lr is 50: it must be a number above 0 and below 1/],
      ['lr', NaN, /lr is NaN/],
      ['evalEvery', 0, /evalEvery is 0: it must be a whole number from 1/],
      ['steps', -3, /steps is -3/],
      ['beams', 1000, /beams is 1000/],
      ['gradAccum', '4', /gradAccum is "4"/],
      ['beta2', 1, /beta2 is 1: it must be a number from 0 and below 1/],
      ['evalDecode', 'sample', /evalDecode is "sample": it must be one of greedy, beam/],
      ['preset', 'huge', /preset is "huge": it must be one of tiny, classroom, gpt2-small/],
      ['answerOnlyLoss', 'yes', /answerOnlyLoss is "yes": it must be true or false/],
      ['tasks', ['cipher', 'cipher'], /tasks is a list of 2: it must list different tasks/],
    ];
    for (const [k, v, re] of cases) {
      expect(trainFieldProblem(k, v)).toMatch(re);
      expect(() => checkTrainSettings({ ...cfg, [k]: v })).toThrow(re);
      expect(() => validateTrainConfig({ ...cfg, [k]: v } as TrainConfig)).toThrow(/on the Train page: .*Change the field named and start again\./);
    }
    // the Train page's path: the worker's start() creates the run, which checks before building anything
    expect(() => TrainRun.create({ ...cfg, batchSize: 3e7, lr: 50, evalEvery: 0 }, {} as ModelOps)).toThrow(/on the Train page: batchSize is 30000000.*lr is 50.*evalEvery is 0.*Change the field named/);
    // the OOM advice doubles the accumulation: a long chain of halvings stays within bounds
    expect(trainFieldProblem('gradAccum', 2 ** 16)).toBeNull();
    expect(() => checkTrainSettings({ lr: 0.01 })).toThrow(/task is missing/);
    expect(() => checkTrainSettings({ lr: 0.01 }, undefined, { partial: true })).not.toThrow();
  });

  it('link parameters go through it: a bad seed, preset or task is ignored with a warning, and keys are clipped', () => {
    const r = readLinkParams(`?page=train&task=mixed&preset=tiny&seed=7&x=1`);
    expect(r.params).toEqual({ page: 'train', task: 'mixed', preset: 'tiny', seed: '7' });
    const bad = readLinkParams(`?task=cipherz&preset=huge&seed=4294967296&${'k'.repeat(2_000_000)}=1`);
    expect(bad.params).toEqual({});
    expect(bad.warnings.slice(0, 3)).toEqual([
      'Link parameter task="cipherz" is not valid and was ignored.',
      'Link parameter preset="huge" is not valid and was ignored.',
      'Link parameter seed="4294967296" is not valid and was ignored.',
    ]);
    expect(bad.warnings[3]).toBe(`Unknown link parameter "${'k'.repeat(40)}… (2000000 characters)" was ignored.`);
  });
});

describe('runs files: overlap bomb, bad settings and bad checkpoints inside', () => {
  it('refuses 250 artifacts over the same 4 MB before copying or hashing any (used to allocate and hash 1 GB)', async () => {
    const bomb = await runsOverlapBomb();
    const before = process.memoryUsage().arrayBuffers;
    const slice = vi.spyOn(ArrayBuffer.prototype, 'slice');
    await expect(decodeRunsFile(bomb.buffer as ArrayBuffer)).rejects.toThrow(/artifact "a1" of run "run bomb" starts at byte 0, inside or before artifact "a0" of run "run bomb" \(which ends at 4194304\); artifacts must not overlap\. Export the runs again/);
    expect(slice).not.toHaveBeenCalled();
    slice.mockRestore();
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(bomb.length);
  });

  it('refuses a training run whose settings are out of bounds, naming the field', async () => {
    const f = rawRunsFile([{ record: runRecord('r1', { task: 'cipher', batchSize: 3e7, lr: 50, evalEvery: 0 }), artifacts: [] }], new Uint8Array(0));
    await expect(decodeRunsFile(f.buffer as ArrayBuffer)).rejects.toThrow(/Invalid training settings of run "run r1" in the runs file: batchSize is 30000000.*lr is 50.*evalEvery is 0.*Export the runs again/);
    // a LoRA run's config is not a GPT-2 training setting; an analysis run's neither
    const lora = rawRunsFile([{ record: runRecord('r2', { model: 'llama-lora', lr: 50 }), artifacts: [] }, { record: runRecord('r3', { top: 0.05 }, 'analyze'), artifacts: [] }], new Uint8Array(0));
    expect(await decodeRunsFile(lora.buffer as ArrayBuffer)).toHaveLength(2);
  });

  it("refuses a training run whose checkpoint holds NaN or settings out of bounds (import → Resume can't crash)", async () => {
    const pack = async (ck: ArrayBuffer) => new Uint8Array(await (await encodeRunsFile([{ record: runRecord('r4') as never, artifacts: { latest: ck } }])).arrayBuffer());
    expect(await decodeRunsFile((await pack(tinyCheckpoint(1))).buffer as ArrayBuffer)).toHaveLength(1);
    await expect(decodeRunsFile((await pack(checkpointWithValue(NaN).buffer as ArrayBuffer)).buffer as ArrayBuffer)).rejects.toThrow(/Checkpoint "latest" of run "run r4" is refused: .*tensor "wte" holds NaN.*Export the runs again/);
    await expect(decodeRunsFile((await pack(tinyCheckpoint(1, { batchSize: 3e7 }))).buffer as ArrayBuffer)).rejects.toThrow(/Checkpoint "latest" of run "run r4" is refused: Invalid training settings in the checkpoint's header: batchSize is 30000000/);
  });
});

describe('reports: nonsense refused, parsing linear', () => {
  const REPORT_FIX = /Export it again from the lab/;
  const parse = (r: unknown) => () => parseReport(JSON.stringify(r));

  it('refuses r = 2, a share of 900 %, kept = -3, kept > tried and counts that do not add up', () => {
    expect(parse(makeReport())).not.toThrow();
    const r2 = makeReport();
    r2.analysis!.r[0][3] = 2;
    expect(parse(r2)).toThrow(/malformed at "analysis\.r\.0\.3": Too big: expected number to be <=1\.000001.*Export it again/);
    const share = makeReport();
    share.steering!.cells[0].targeted.gen = 900;
    expect(parse(share)).toThrow(/malformed at "steering\.cells\.0\.targeted\.gen": Too big.*100/);
    const kept = makeReport();
    kept.pairs!.kept = -3;
    expect(parse(kept)).toThrow(/malformed at "pairs\.kept": Too small/);
    kept.pairs!.kept = kept.pairs!.tried + 1;
    expect(parse(kept)).toThrow(/malformed at "pairs\.kept": kept must not exceed tried/);
    const sum = makeReport();
    sum.steering!.baseline.mem = 500;
    expect(parse(sum)).toThrow(/malformed at "steering\.baseline": mem \+ gen \+ other must not exceed total/);
    const frac = makeReport();
    frac.analysis!.probes[0].testAcc = 1.5;
    expect(parse(frac)).toThrow(REPORT_FIX);
  });

  it('runs no regex over the text: the embedded report is found in one forward scan', () => {
    // Old: /<script[^>]*id="memgen-report"[^>]*>([\s\S]*?)<\/script>/ backtracked at every "<script" lacking ">".
    const hostile = '<html>' + '<script id='.repeat(23_000); // 250 KB
    const html = buildReportHtml(makeReport(), '');
    let longest = 0;
    const real = RegExp.prototype.exec;
    const spy = vi.spyOn(RegExp.prototype, 'exec').mockImplementation(function (this: RegExp, s: string) {
      longest = Math.max(longest, String(s).length);
      return real.call(this, s);
    });
    try {
      expect(() => parseReport(hostile)).toThrow(/no embedded MemGen report/);
      expect(parseReport(html)).toEqual(parseReport(JSON.stringify(makeReport())));
      expect(parseReport(`  \n${html}`).task).toBe('cipher');
    } finally {
      spy.mockRestore();
    }
    expect(html.length).toBeGreaterThan(10_000);
    expect(longest).toBeLessThan(1000);
    expect(embeddedReport('<script type="x">a</script><script id="memgen-report" >{"a":1}</script>')).toBe('{"a":1}');
    expect(embeddedReport('<script id="memgen-report">{"a":1}')).toBeNull();
  });

  it('parseReportAsync hands large texts to a worker and small ones parse inline, with the same result and messages', async () => {
    const text = JSON.stringify({ ...makeReport(), pairs: { ...makeReport().pairs!, examples: Array.from({ length: 800 }, (_, i) => ({ mem: `m${i}`.padEnd(60, 'x'), gen: `g${i}`.padEnd(60, 'y') })) } });
    expect(text.length).toBeGreaterThan(OFF_THREAD_BYTES);
    let made = 0;
    // A stand-in worker running the same module code (Node has no Web Worker): it answers as parse.worker.ts does.
    setParseWorkerFactory(() => {
      made++;
      const w = {
        onmessage: null as ((e: { data: unknown }) => void) | null, onerror: null, terminate: () => {},
        postMessage(t: string) {
          setTimeout(() => {
            try { w.onmessage!({ data: { report: parseReport(t) } }); } catch (e) { w.onmessage!({ data: { error: (e as Error).message, format: true } }); }
          });
        },
      };
      return w as unknown as Worker;
    });
    try {
      expect(await parseReportAsync(text)).toEqual(parseReport(text));
      expect(made).toBe(1);
      await expect(parseReportAsync(text.replace('"kept":312', '"kept":-3'))).rejects.toThrow(ReportFormatError);
      expect(made).toBe(2);
      await parseReportAsync(JSON.stringify(makeReport()));
      expect(made).toBe(2); // small: inline
    } finally {
      setParseWorkerFactory(null);
    }
  });
});
