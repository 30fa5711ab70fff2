// npm run bench -- --only llama-full [--out docs/bench/llama-full-1b.json --tokens 8 --lora-len 64 --lora-steps 2 --threads 1
//                                     --reuse-file-phase true (phase 1 from the last run)
//                                     --webgpu true --webgpu-timeout 600]
// (or: npx tsx scripts/bench-llama-full.ts ...)
// A file of Llama-3.2-1B's exact shape (16 layers, 2048 wide, 32/8 heads of 64, MLP 8192, the real LLaMA-3
// tokenizer from llama3-tokenizer-js, llama.cpp's Q4_K_M mix with a Q6_K token embedding, random weights),
// written (never committed) to bench-output/, then in headless Chromium, each phase in a fresh browser:
//   1. wasm from a file (an <input type=file> File): load time, memory, decode tokens/s beside llama.cpp (wllama)
//      at the same thread count, and the teacher-forced top-1 agreement on llama.cpp's own greedy continuation;
//   2. wasm from a localhost URL (downloadWithResume: Range/resume): load time, then one LoRA step (r 8 on q and v,
//      a row of --lora-len tokens): time and peak memory (tensor bytes at their peak, wasm heap high-water mark,
//      renderer process peak RSS), against lora-memory.ts's prediction and the 1.5x-file-size goal;
//   3. WebGPU (SwiftShader here): the last-position logits of a short prompt and 2 greedy tokens against wasm;
//   and the load plan of Llama-3.2-3B's shape (28 layers, 3072 wide) from the same formulas, scaled by what the
//   1B run measured. Random weights: the text is noise; speeds and memory are what they are for the real model.
// Heavy (about 1 GB file, 2-4 GB of browser memory): run it alone, on a quiet machine.
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createServer } from 'vite';
import { launchChromium } from '../tests/browser/chromium';
import { parseArgs } from './lab-driver';
import { writeGGUF, type GGUFWriteTensor, type GGUFWriteValue } from '../src/lib/gguf/writer';
import { floatToHalf, quantize } from '../src/lib/gguf/quant';
import { blockInfo } from '../src/lib/gguf/types';
import { llama3RopeFactors } from '../src/lib/models/llama/config';
import { LLAMA_32_SHAPES, inferenceMemory, loraStepMemory, q4kmType, q4kmWeightBytes, type LlamaShape } from '../src/lib/train/lora-memory';
import { DEFAULT_LORA } from '../src/lib/models/llama/lora';
import { llama3Vocab } from './llama3-vocab';

const args = parseArgs(process.argv.slice(2));
const out = args.out ?? 'docs/bench/llama-full-1b.json';
const nTokens = Number(args.tokens ?? 8);
const loraLen = Number(args['lora-len'] ?? 64);
const threads = Number(args.threads ?? 1);
const loraSteps = Number(args['lora-steps'] ?? 2);
const FILE = 'llama-3.2-1b-shape-q4_k_m-random.gguf';
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
const log = (...a: unknown[]) => console.error('[bench-llama-full]', ...a);

// ---------- the file ----------

/** xorshift32: fast seeded random words for ~1 GB of blocks. */
function words(seed: number) {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

/**
 * Random blocks written directly (quantizing 1.2e9 random floats in JS would take minutes): random quants and
 * sub-block scales, and a block scale `d` chosen so the weights have about `std` (Q4_K: std ~ 258 d with
 * dmin = 7.5 d, so each sub-block is about centred; Q6_K: std ~ 1350 d). `rowScale(r)` shrinks chosen rows.
 */
function randomBlocks(type: 'Q4_K' | 'Q6_K', rows: number, K: number, std: number, seed: number, rowScale?: (r: number) => number): Uint8Array {
  const { blockSize, typeSize } = blockInfo(type);
  const perRow = K / blockSize, out = new Uint8Array(rows * perRow * typeSize);
  const u32 = new Uint32Array(out.buffer, 0, out.byteLength >> 2);
  const rnd = words(seed);
  for (let i = 0; i < u32.length; i++) u32[i] = rnd();
  const dv = new DataView(out.buffer);
  for (let r = 0; r < rows; r++) {
    const sc = rowScale ? rowScale(r) : 1;
    for (let b = 0; b < perRow; b++) {
      const o = (r * perRow + b) * typeSize;
      if (type === 'Q4_K') {
        const d = (std * sc) / 258;
        dv.setUint16(o, floatToHalf(d), true);
        dv.setUint16(o + 2, floatToHalf(7.5 * d), true);
      } else {
        dv.setUint16(o + 208, floatToHalf((std * sc) / 1350), true); // d is the last field of a Q6_K block
      }
    }
  }
  return out;
}

function buildFull(s: LlamaShape): Uint8Array {
  const v = llama3Vocab();
  const { nLayer: L, dModel: C, dMlp: FF, nHead: NH, nHeadKv: NKV, headDim: HS } = s;
  const tensors: GGUFWriteTensor[] = [];
  let seed = 1;
  const mat = (name: string, N: number, K: number, std: number, rowScale?: (r: number) => number) => {
    const type = q4kmType(name, L) as 'Q4_K' | 'Q6_K';
    tensors.push({ name, dims: [K, N], type, data: randomBlocks(type, N, K, std, seed++, rowScale) });
  };
  const norm = (name: string) => {
    const r = words(seed++), x = new Float32Array(C);
    for (let i = 0; i < C; i++) x[i] = 1 + 0.1 * ((r() / 2 ** 32) * 2 - 1);
    tensors.push({ name, dims: [C], type: 'F32', data: quantize('F32', x) });
  };
  // Tied output: tokens that are not plain ASCII get small rows, so the random model never ranks a partial
  // UTF-8 byte on top (wllama's JSON answers cannot carry invalid UTF-8), as the tiny fixtures do.
  const ascii = v.tokens.map((t) => /^[\x21-\x7eĠĊ]+$/.test(t) || t.startsWith('<|'));
  mat('token_embd.weight', s.vocabSize, C, 0.08, (r) => (ascii[r] ? 1 : 0.05));
  const f = llama3RopeFactors(HS, 500000, { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 });
  tensors.push({ name: 'rope_freqs.weight', dims: [HS / 2], type: 'F32', data: quantize('F32', f) });
  for (let i = 0; i < L; i++) {
    const b = `blk.${i}`;
    norm(`${b}.attn_norm.weight`);
    mat(`${b}.attn_q.weight`, NH * HS, C, 1 / Math.sqrt(C));
    mat(`${b}.attn_k.weight`, NKV * HS, C, 1 / Math.sqrt(C));
    mat(`${b}.attn_v.weight`, NKV * HS, C, 1 / Math.sqrt(C));
    mat(`${b}.attn_output.weight`, C, NH * HS, 1 / Math.sqrt(NH * HS));
    norm(`${b}.ffn_norm.weight`);
    mat(`${b}.ffn_gate.weight`, FF, C, 1 / Math.sqrt(C));
    mat(`${b}.ffn_up.weight`, FF, C, 1 / Math.sqrt(C));
    mat(`${b}.ffn_down.weight`, C, FF, 1 / Math.sqrt(FF));
  }
  norm('output_norm.weight');
  const md: Record<string, GGUFWriteValue> = {
    'general.architecture': { type: 'string', value: 'llama' },
    'general.name': { type: 'string', value: 'memgen-random-llama-3.2-1b-shape' },
    'general.file_type': { type: 'u32', value: 15 }, // MOSTLY_Q4_K_M
    'llama.block_count': { type: 'u32', value: L },
    'llama.context_length': { type: 'u32', value: 131072 },
    'llama.embedding_length': { type: 'u32', value: C },
    'llama.feed_forward_length': { type: 'u32', value: FF },
    'llama.attention.head_count': { type: 'u32', value: NH },
    'llama.attention.head_count_kv': { type: 'u32', value: NKV },
    'llama.rope.freq_base': { type: 'f32', value: 500000 },
    'llama.rope.dimension_count': { type: 'u32', value: HS },
    'llama.attention.layer_norm_rms_epsilon': { type: 'f32', value: 1e-5 },
    'llama.vocab_size': { type: 'u32', value: s.vocabSize },
    'tokenizer.ggml.model': { type: 'string', value: 'gpt2' },
    'tokenizer.ggml.pre': { type: 'string', value: 'llama-bpe' },
    'tokenizer.ggml.tokens': { type: 'array-string', value: v.tokens },
    'tokenizer.ggml.token_type': { type: 'array-i32', value: v.types },
    'tokenizer.ggml.merges': { type: 'array-string', value: v.merges },
    'tokenizer.ggml.bos_token_id': { type: 'u32', value: v.bos },
    'tokenizer.ggml.eos_token_id': { type: 'u32', value: v.eos },
    'tokenizer.ggml.add_bos_token': { type: 'bool', value: true },
  };
  return writeGGUF(md, tensors);
}

// ---------- the browser ----------

/** Peak resident memory (VmHWM) of the renderer processes under the browser's process, in bytes. */
function rendererPeakRss(rootPid: number | undefined): number | null {
  if (!rootPid) return null;
  let peak = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (!cmd.includes('--type=renderer')) continue;
      const st = readFileSync(`/proc/${d}/status`, 'utf8');
      const ppid = Number(/PPid:\s+(\d+)/.exec(st)?.[1]);
      const ancestors = new Set<number>();
      let p = ppid;
      for (let i = 0; i < 5 && p > 1; i++) { ancestors.add(p); try { p = Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1]); } catch { break; } }
      if (!ancestors.has(rootPid)) continue;
      peak = Math.max(peak, Number(/VmHWM:\s+(\d+) kB/.exec(st)?.[1] ?? 0) * 1024);
    } catch { /* gone */ }
  }
  return peak || null;
}

/** Chromium browser processes started by this Node process. */
function chromiumChildren(): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/status`, 'utf8');
      if (Number(/PPid:\s+(\d+)/.exec(st)?.[1]) === process.pid && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('chrom')) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

const path = join('bench-output', FILE);
const s1 = LLAMA_32_SHAPES['1B'];
if (!existsSync(path)) {
  mkdirSync('bench-output', { recursive: true });
  const t0 = Date.now();
  const bytes = buildFull(s1);
  writeFileSync(path, bytes);
  log(`wrote ${path}: ${bytes.byteLength} bytes in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
const fileBytes = statSync(path).size;
const server = await createServer({ server: { port: 0, host: '127.0.0.1', hmr: false, ws: false }, logLevel: 'error' });
await server.listen();
const addr = server.httpServer?.address();
if (!addr || typeof addr === 'string') throw new Error('Vite server did not start');
const base = `http://127.0.0.1:${addr.port}`;
const url = `/bench-output/${FILE}`;
const results: Record<string, unknown> = {};

/** A fresh browser (its own renderer, so its peak RSS is this phase's) with the harness page open. */
async function phase<T>(name: string, fn: (page: import('playwright-core').Page) => Promise<T>, limitSec = 1800): Promise<T | { error: string }> {
  const known = new Set(chromiumChildren());
  const browser = await launchChromium();
  const pid = chromiumChildren().find((p) => !known.has(p)); // the browser process playwright just spawned
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => log('[page error]', String(e)));
    page.setDefaultTimeout(0);
    await page.addInitScript((n) => { Object.defineProperty(navigator, 'hardwareConcurrency', { value: n, configurable: true }); }, threads);
    await page.goto(`${base}/tests/harness/index.html`);
    await page.waitForFunction(() => (window as unknown as { harnessReady?: boolean }).harnessReady === true);
    const before = loadavg(), t0 = Date.now();
    log(`${name}: start (load ${before.join(' ')})`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise<{ error: string }>((res) => { timer = setTimeout(() => res({ error: `not finished after ${limitSec} s (stopped)` }), limitSec * 1000); });
    const r = await Promise.race([fn(page).catch((e: Error) => ({ error: e.message.split('\n')[0] })), limit]);
    clearTimeout(timer);
    const row = { ...r, rendererPeakRssBytes: rendererPeakRss(pid), wallSec: (Date.now() - t0) / 1000, loadavg: { before, after: loadavg() } };
    log(`${name}: done`, JSON.stringify(row));
    return row as T;
  } finally {
    await browser.close();
  }
}

try {
  // 1. wasm from a file, decode beside wllama, teacher-forced agreement (--reuse-file-phase: from the last run's
  // bench-output/llama-full-file-phase.json, to rerun the later phases alone)
  const phase1Path = join('bench-output', 'llama-full-file-phase.json');
  if (args['reuse-file-phase'] === 'true' && existsSync(phase1Path)) results.wasmFromFile = JSON.parse(readFileSync(phase1Path, 'utf8'));
  else results.wasmFromFile = await phase('wasm file', async (page) => {
    await page.evaluate(() => { const i = document.createElement('input'); i.type = 'file'; i.id = 'gguf'; document.body.appendChild(i); });
    await page.setInputFiles('#gguf', resolve(path));
    return page.evaluate(async ({ nTokens, threads }) => {
      const mod = (window as unknown as { labImport: (p: string) => Promise<any> }).labImport;
      const { useBackend, tf } = (window as unknown as { lab: { useBackend: (b: string) => Promise<void>; tf: any } }).lab;
      await useBackend('wasm');
      const { readGGUFHeader } = await mod('/src/lib/gguf/reader.ts');
      const { LlamaModel, generate } = await mod('/src/lib/models/llama/model.ts');
      const file = (document.getElementById('gguf') as HTMLInputElement).files![0];
      const heap = () => (tf.backend() as any).wasm.HEAPU8.byteLength as number;
      const js = () => (performance as any).memory?.usedJSHeapSize ?? null;
      let t0 = performance.now();
      const m = await LlamaModel.fromGGUF(file, await readGGUFHeader(file));
      const loadMs = performance.now() - t0;
      const afterLoad = { wasmHeapBytes: heap(), tensorBytes: tf.memory().numBytes, jsHeapBytes: js() };
      const text = ' the cat and the dog and 12 = 3 and the cat';
      const prompt: number[] = m.tokenizer.encode(text, { addBos: true });
      await generate(m, prompt, { maxTokens: 1, greedy: true, stopIds: [] });
      t0 = performance.now();
      const labIds: number[] = await generate(m, prompt, { maxTokens: nTokens, greedy: true, stopIds: [] });
      const labTps = labIds.length / ((performance.now() - t0) / 1000);
      // llama.cpp on the same file, same threads; its greedy continuation is the teacher-forced sequence
      const { Wllama } = await mod('/node_modules/@wllama/wllama/esm/index.js');
      const quiet = { ...console, debug() {}, log() {}, info() {}, warn() {} };
      const w = new Wllama({ default: '/node_modules/@wllama/wllama/esm/wasm/wllama.wasm' }, { suppressNativeLog: true, logger: quiet });
      t0 = performance.now();
      await w.loadModel([file], { n_threads: threads, n_gpu_layers: 0, n_ctx: 256 });
      const wllamaLoadMs = performance.now() - t0;
      await w.createCompletion({ prompt: text, max_tokens: 1, temperature: 0, cache_prompt: false });
      t0 = performance.now();
      const res = await w.createCompletion({ prompt: text, max_tokens: nTokens, temperature: 0, ignore_eos: true, cache_prompt: false, logprobs: 1 });
      const wlMs = performance.now() - t0;
      await w.exit();
      const theirIds: number[] = (res.choices[0].logprobs?.content ?? []).map((c: { id: number }) => c.id);
      const seq = [...prompt, ...theirIds];
      const top1 = tf.tidy(() => m.forward(tf.tensor2d(seq, [1, seq.length], 'int32')).argMax(-1).reshape([-1]));
      const ours = Array.from(await top1.data() as Int32Array);
      top1.dispose();
      let agree = 0;
      theirIds.forEach((id, i) => { if (ours[prompt.length - 1 + i] === id) agree++; });
      // the wasm logits of a short prompt, for the WebGPU phase
      const short = prompt.slice(0, 6);
      const lastL = tf.tidy(() => m.run(tf.tensor2d(short, [1, short.length], 'int32'), 0, null, {}, true).reshape([-1]));
      const wasmLast = Array.from(await lastL.data() as Float32Array);
      lastL.dispose();
      const wasmGreedy2: number[] = await generate(m, short, { maxTokens: 2, greedy: true, stopIds: [] });
      m.dispose();
      return {
        loadFromFileMs: loadMs, afterLoad, promptTokens: prompt.length, decodeTokens: labIds.length,
        labDecodeTokensPerSec: labTps,
        wllama: { threads, loadMs: wllamaLoadMs, decodeTokensPerSec: theirIds.length / (wlMs / 1000), promptTokensSeen: res.usage?.prompt_tokens ?? null, note: 'includes its prompt prefill, as the lab\'s generate does' },
        labOverWllama: labTps / (theirIds.length / (wlMs / 1000)),
        teacherForcedTop1: { agree, of: theirIds.length },
        afterRunWasmHeapBytes: heap(), afterRunJsHeapBytes: js(), labTfjsWasmThreads: (await mod('/src/lib/engine/backend.ts')).wasmThreadsInUse(),
        shortPrompt: short, wasmLast, wasmGreedy2,
      };
    }, { nTokens, threads });
  });
  writeFileSync(phase1Path, JSON.stringify(results.wasmFromFile));
  const wf = results.wasmFromFile as { wasmLast?: number[]; shortPrompt?: number[]; wasmGreedy2?: number[] };
  const wasmLast = wf.wasmLast, shortPrompt = wf.shortPrompt, wasmGreedy2 = wf.wasmGreedy2;
  delete (results.wasmFromFile as Record<string, unknown>).wasmLast;

  // 2. wasm from a localhost URL, then one LoRA step
  results.wasmFromUrlAndLora = await phase('wasm url + lora', (page) => page.evaluate(async ({ url, loraLen, fileBytes, loraSteps }) => {
    const mod = (window as unknown as { labImport: (p: string) => Promise<any> }).labImport;
    const { useBackend, tf } = (window as unknown as { lab: { useBackend: (b: string) => Promise<void>; tf: any } }).lab;
    await useBackend('wasm');
    const { readGGUFHeader } = await mod('/src/lib/gguf/reader.ts');
    const { LlamaModel } = await mod('/src/lib/models/llama/model.ts');
    const { downloadWithResume } = await mod('/src/lib/store/download.ts');
    const { parseGGUF } = await mod('/src/lib/gguf/reader.ts');
    const { LoraAdapters, DEFAULT_LORA } = await mod('/src/lib/models/llama/lora.ts');
    const { loraOptimizer, loraTrainStep } = await mod('/src/lib/train/lora-step.ts');
    const { loraStepMemory } = await mod('/src/lib/train/lora-memory.ts');
    const { measurePeakBytes } = await mod('/src/lib/engine/wasm-heap.ts');
    const heap = () => (tf.backend() as any).wasm.HEAPU8.byteLength as number;
    let progress = 0;
    let t0 = performance.now();
    const blob: Blob = await downloadWithResume(new URL(url, location.href).href, () => { progress++; });
    const downloadMs = performance.now() - t0;
    let m: any, blobReadError: string | null = null;
    try {
      m = await LlamaModel.fromGGUF(blob, await readGGUFHeader(blob));
    } catch (e) {
      // seen here: an 800 MB Blob assembled from the stream's chunks was not readable (NotReadableError)
      blobReadError = (e as Error).message;
      t0 = performance.now();
      const buf = await (await fetch(url)).arrayBuffer();
      m = await LlamaModel.fromGGUF(buf, parseGGUF(buf));
    }
    const loadFromUrlMs = performance.now() - t0;
    const heapAfterLoad = heap(), tensorsAfterLoad = tf.memory().numBytes;
    const a = LoraAdapters.create(m, { ...DEFAULT_LORA, r: 8, targets: ['q_proj', 'v_proj'] }, 1);
    const opt = loraOptimizer(a);
    const row = Array.from({ length: loraLen + 1 }, (_, i) => 1000 + ((i * 7919) % 60000));
    const batch = { tokens: [row], lossMask: [row.map(() => 1)] };
    const steps: Array<{ ms: number; loss: number; peakTensorBytesAboveBefore: number; wasmHeapAfter: number }> = [];
    for (let k = 0; k < loraSteps; k++) {
      const t = performance.now();
      const { result: loss, peakBytes } = await measurePeakBytes(() => loraTrainStep(m, a, opt, batch, 1e-4));
      steps.push({ ms: performance.now() - t, loss, peakTensorBytesAboveBefore: peakBytes, wasmHeapAfter: heap() });
    }
    const predicted = loraStepMemory(m.config, m.weightBytes, a.cfg, 1, loraLen);
    const peakWasmHeap = heap(); // a WebAssembly.Memory never shrinks: its size is the high-water mark
    const out = {
      downloadMs, loadFromUrlMs, blobReadError, loadedFrom: blobReadError ? 'fetch().arrayBuffer() after the Blob failed' : 'downloadWithResume Blob', progressEvents: progress, wasmHeapAfterLoad: heapAfterLoad, tensorBytesAfterLoad: tensorsAfterLoad,
      weightBytes: m.weightBytes, lora: { r: 8, targets: ['q_proj', 'v_proj'], rowTokens: loraLen, steps },
      predicted, peakWasmHeapBytes: peakWasmHeap, peakWasmHeapOverFile: peakWasmHeap / fileBytes,
      peakTensorBytes: tensorsAfterLoad + Math.max(...steps.map((s) => s.peakTensorBytesAboveBefore)),
      activationsMeasuredOverPredicted: Math.max(...steps.map((s) => s.peakTensorBytesAboveBefore)) / predicted.activationBytes,
      goal: 'peak < 1.5 x file size',
    };
    a.dispose();
    opt.dispose();
    m.dispose();
    return out;
  }, { url, loraLen, fileBytes, loraSteps }));

  // 3. WebGPU (SwiftShader): logits and 2 greedy tokens against wasm
  if (args.webgpu !== 'false' && wasmLast && shortPrompt) {
    results.webgpu = await phase('webgpu', (page) => page.evaluate(async ({ url, shortPrompt, wasmLast, wasmGreedy2 }) => {
      const mod = (window as unknown as { labImport: (p: string) => Promise<any> }).labImport;
      const { useBackend, tf } = (window as unknown as { lab: { useBackend: (b: string) => Promise<void>; tf: any } }).lab;
      await useBackend('webgpu');
      const { readGGUFHeader } = await mod('/src/lib/gguf/reader.ts');
      const { LlamaModel, generate } = await mod('/src/lib/models/llama/model.ts');
      const blob = await (await fetch(url)).blob();
      let t0 = performance.now();
      const m = await LlamaModel.fromGGUF(blob, await readGGUFHeader(blob));
      const loadMs = performance.now() - t0;
      t0 = performance.now();
      const l = tf.tidy(() => m.run(tf.tensor2d(shortPrompt, [1, shortPrompt.length], 'int32'), 0, null, {}, true).reshape([-1]));
      const g = Array.from(await l.data() as Float32Array);
      const forwardMs = performance.now() - t0;
      l.dispose();
      let maxAbs = 0, maxRef = 0, topG = 0, topW = 0;
      for (let i = 0; i < g.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(g[i] - wasmLast[i]));
        maxRef = Math.max(maxRef, Math.abs(wasmLast[i]));
        if (g[i] > g[topG]) topG = i;
        if (wasmLast[i] > wasmLast[topW]) topW = i;
      }
      t0 = performance.now();
      const gpuGreedy2: number[] = await generate(m, shortPrompt, { maxTokens: 2, greedy: true, stopIds: [] });
      const decodeMs = performance.now() - t0;
      const adapter = await (navigator as any).gpu.requestAdapter();
      m.dispose();
      return {
        device: adapter?.info ? `${adapter.info.vendor} ${adapter.info.architecture} ${adapter.info.description}` : 'unknown',
        loadMs, promptTokens: shortPrompt.length, forwardMs, logitsMaxAbsDiff: maxAbs, logitsMaxAbs: maxRef,
        // wasm quantizes activations to int8 for its matmuls (as llama.cpp does); WebGPU stays in f32
        top1Same: topG === topW, gpuGreedy2, wasmGreedy2, greedySame: JSON.stringify(gpuGreedy2) === JSON.stringify(wasmGreedy2), decode2Ms: decodeMs,
      };
    }, { url, shortPrompt, wasmLast, wasmGreedy2 }), Number(args['webgpu-timeout'] ?? 600));
  }
} finally {
  await server.close();
}

// 4. the plan for Llama-3.2-3B's shape, from the formulas the page shows, checked against the 1B run
const lora = { r: 8, targets: DEFAULT_LORA.targets };
const plan = (s: LlamaShape) => {
  const w = q4kmWeightBytes(s);
  return { weightBytes: w, inference: inferenceMemory(s, w, 512), loraStep: loraStepMemory(s, w, lora, 1, loraLen) };
};
const p1 = plan(s1), p3 = plan(LLAMA_32_SHAPES['3B']);
const lr = results.wasmFromUrlAndLora as { peakTensorBytes?: number; peakWasmHeapBytes?: number };
const measuredOverPredicted = lr.peakTensorBytes ? lr.peakTensorBytes / p1.loraStep.totalBytes : null;
results.plan3B = {
  shape: LLAMA_32_SHAPES['3B'], predicted: p3, predicted1B: p1, fileBytes1B: fileBytes, weightBytesPredictedOverFile1B: p1.weightBytes / fileBytes,
  measured1BPeakTensorOverPredicted: measuredOverPredicted,
  loraStep3BScaledByMeasured: measuredOverPredicted ? p3.loraStep.totalBytes * measuredOverPredicted : null,
  fitsWasmHeap3B: p3.loraStep.totalBytes < 3.5 * 2 ** 30,
};

mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({
  kind: 'memgen-bench-llama-full', createdAt: new Date().toISOString(), file: { name: FILE, bytes: fileBytes, shape: s1, mix: 'Q4_K_M (llama.cpp llama_tensor_get_type), token_embd Q6_K, random weights, LLaMA-3 tokenizer' },
  machine: { cpus: (await import('node:os')).cpus().length, loadavgAtEnd: loadavg(), note: 'a shared machine: see each phase\'s loadavg' },
  threads, ...results,
}, null, 2));
log(`written to ${out}`);
