// npm run bench [-- --out bench-output/bench.json --presets tiny,classroom --backends wasm,webgpu --steps 3
//                  --only train,record,llama (default: all three) --wide false (skip the 1B-width LLaMA file)
//                  --only llama-full: scripts/bench-llama-full.ts instead (a file of Llama-3.2-1B's full shape)
//                  --rounds 3 (rounds for training and for LLaMA decode, contenders alternated in each)
//                  --contenders fused,stock,torch1,torch2,jaxjs (training; add `before`: fused ops on tfjs' transposed matmuls,
//                  `twins`: fused ops with the JS twins instead of the wasm SIMD kernels)
//                  --llama-threads 1 (wllama's, e.g. 1,2)
//                  --lab-threads N (tfjs-wasm's pool for the LLaMA runs; default the first --llama-threads)]
// Headless Chromium (the system one). Training, per preset and backend: the lab with its fused kernels, the same
// model on stock tfjs ops, and PyTorch CPU (Debian's python3-torch; 1 thread, and 2 threads with passive OpenMP
// waits) on the same shapes, alternated round by round (A B C A B C ...), each round `steps` steps; min, median
// and every round's tokens/s (real tokens only, never padding), ratios, kernels per lab step, wasm threads and
// /proc/loadavg around every round. Speed goals are compared in the note, never asserted in tests.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { WIDE, build } from './make-fixtures';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs, startDriver } from './lab-driver';

const args = parseArgs(process.argv.slice(2));
// The full-size Llama-3.2-1B-shaped bench is its own script (heavy: run it alone): --only llama-full
if (args.only === 'llama-full') { await import('./bench-llama-full'); process.exit(0); }
const out = args.out ?? 'bench-output/bench.json';
const presets = (args.presets ?? 'tiny,classroom').split(',');
const backends = (args.backends ?? 'wasm,webgpu').split(',');
const steps = Number(args.steps ?? 3);
const rounds = Number(args.rounds ?? 3);
const allContenders = (args.contenders ?? 'fused,stock,torch1,torch2,jaxjs').split(',');
const task = args.task ?? 'cipher';
const only = new Set((args.only ?? 'train,record,llama').split(','));
const llamaRounds = rounds;
const llamaThreads = (args['llama-threads'] ?? '1').split(',').map(Number);
const labThreads = Number(args['lab-threads'] ?? llamaThreads[0]);
/** The machine's load (1, 5, 15 minutes) from /proc/loadavg: the cores are shared with other jobs. */
const loadavg = (): number[] | null => {
  try { return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number); } catch { return null; }
};

const d = await startDriver({ quiet: true });
const results: unknown[] = [];
/** A PyTorch process serving timed step runs (models built once per shape), or why there is none. */
interface TorchServer { threads: number; run(req: Record<string, number>): Promise<Record<string, unknown>>; close(): void }
const torchServers = new Map<number, TorchServer | string>();
function torchServer(threads: number): TorchServer | string {
  let s = torchServers.get(threads);
  if (s) return s;
  try {
    if (!existsSync('/usr/bin/python3')) throw new Error('/usr/bin/python3 is missing');
    const env = { ...process.env, OMP_NUM_THREADS: String(threads), OMP_WAIT_POLICY: 'PASSIVE' };
    const p: ChildProcessWithoutNullStreams = spawn('/usr/bin/python3', ['bench/torch_gpt2_baseline.py', '--serve', '--threads', String(threads)], { env });
    const lines = createInterface({ input: p.stdout });
    const waiting: Array<(l: string) => void> = [];
    let err = '';
    p.stderr.on('data', (b) => (err += String(b)));
    lines.on('line', (l) => waiting.shift()?.(l));
    p.on('exit', () => { for (const w of waiting.splice(0)) w(JSON.stringify({ error: `PyTorch exited: ${err.trim().split('\n').pop()} (apt-get install python3-torch libopenblas0-openmp)` })); });
    s = {
      threads,
      run: (req) => new Promise((res) => { waiting.push((l) => res(JSON.parse(l))); p.stdin.write(JSON.stringify(req) + '\n'); }),
      close: () => p.stdin.end(),
    };
  } catch (e) {
    s = `PyTorch baseline not run: ${(e as Error).message}`;
  }
  torchServers.set(threads, s);
  return s;
}

const median = (a: number[]) => { const b = [...a].sort((x, y) => x - y); return b.length % 2 ? b[b.length >> 1] : (b[b.length / 2 - 1] + b[b.length / 2]) / 2; };

/** Every contender on one preset, alternated round by round. */
async function trainRounds(backend: string, preset: string, adapterGflops: number): Promise<unknown[]> {
  // PyTorch measures this CPU whatever the lab's backend: it runs beside the wasm rounds only
  const contenders = backend === 'wasm' ? allContenders : allContenders.filter((c) => !c.startsWith('torch') && c !== 'jaxjs');
  const labOps = contenders.filter((c) => ['fused', 'stock', 'before', 'twins'].includes(c));
  // build each lab run once (warm-up step included); shapes of the batches the timed steps will see
  console.error(`[bench] ${preset} ${backend}: building ${labOps.join(', ')}`);
  const setup = await d.page.evaluate(async ({ preset, labOps, task, n }) => {
    const w = window as unknown as { labImport: (p: string) => Promise<any>; benchRuns?: Record<string, any> };
    const { TrainRun, defaultTrainConfig } = await w.labImport('/src/lib/train/trainer.ts');
    const { getOps } = await w.labImport('/src/lib/models/gpt2/index.ts');
    const { setTransposeMode } = await w.labImport('/src/lib/kernels/matmul/index.ts');
    const { setSimdOps } = await w.labImport('/src/lib/kernels/wasm-simd/index.ts');
    const { makeBatch } = await w.labImport('/src/lib/train/data.ts');
    for (const r of Object.values(w.benchRuns ?? {})) r.dispose();
    w.benchRuns = {};
    const cfg = { ...defaultTrainConfig(task, preset), batchSize: preset === 'tiny' ? 32 : 8 };
    for (const c of labOps) {
      setTransposeMode(c === 'before' ? 'never' : 'auto');
      setSimdOps(c !== 'twins');
      const run = TrainRun.create(cfg, getOps(c === 'stock' ? 'stock' : 'fused'));
      await run.trainStep();
      w.benchRuns[c] = run;
    }
    setTransposeMode('auto');
    setSimdOps(true);
    const any = Object.values(w.benchRuns)[0] ?? TrainRun.create(cfg, getOps('fused'));
    let T = 0, tokens = 0;
    for (let i = 1; i <= n; i++) {
      const b = makeBatch(any.microBatch(i, 0), any.tok, any.answerOnly, any.model.config.nCtx);
      T += b.T; tokens += b.tokens;
    }
    const c = any.model.config;
    return { batch: cfg.batchSize, meanT: T / n, realTokensPerStep: tokens / n, layers: c.nLayer, width: c.dModel, heads: c.nHead, vocab: c.vocabSize, nCtx: c.nCtx };
  }, { preset, labOps, task, n: steps * rounds + 1 });
  // jax-js (bench/jaxjs_gpt2.ts): the same model and step, jit-compiled, on its own wasm device in this page
  if (contenders.includes('jaxjs')) {
    const err = await d.page.evaluate(async ({ shape }) => {
      const w = window as unknown as { labImport: (p: string) => Promise<any>; jaxRun?: any };
      try {
        w.jaxRun?.dispose();
        const { makeJaxStep } = await w.labImport('/bench/jaxjs_gpt2.ts');
        w.jaxRun = await makeJaxStep(shape);
        await w.jaxRun.run(1); // compile + warm-up
        return null;
      } catch (e) { return (e as Error).message; }
    }, { shape: { layers: setup.layers, width: setup.width, heads: setup.heads, vocab: setup.vocab, ctx: Math.round(setup.meanT), batch: setup.batch } });
    if (err) console.error(`[bench] jax-js not run: ${err}`);
  }
  const perRound: Record<string, Array<{ tokensPerSec: number; msPerStep: number; loadBefore: number[] | null; loadAfter: number[] | null }>> = {};
  const torchReq = { layers: setup.layers, width: setup.width, heads: setup.heads, vocab: setup.vocab, ctx: Math.round(setup.meanT), batch: setup.batch, steps, tokensPerStep: setup.realTokensPerStep };
  const notes: Record<string, string> = {};
  for (let r = 0; r < rounds; r++) {
    for (const c of contenders) {
      const loadBefore = loadavg();
      let row: { tokensPerSec: number; msPerStep: number } | null = null;
      if (c === 'jaxjs') {
        const r = await d.page.evaluate(async ({ steps }) => {
          const w = window as unknown as { jaxRun?: { run(n: number): Promise<number> } };
          if (!w.jaxRun) return null;
          const t0 = performance.now();
          await w.jaxRun.run(steps);
          return (performance.now() - t0) / steps;
        }, { steps });
        if (r === null) { notes[c] = 'jax-js could not build the step (see the bench log)'; continue; }
        row = { tokensPerSec: (setup.realTokensPerStep * 1000) / r, msPerStep: r };
        notes[c] = `jax-js 0.1.25, wasm device, jit'ed step (bench/jaxjs_gpt2.ts), batch ${setup.batch} x ${Math.round(setup.meanT)}, ${setup.realTokensPerStep.toFixed(1)} real tokens per step`;
      } else if (c.startsWith('torch')) {
        const t = torchServer(Number(c.slice(5)) || 1);
        if (typeof t === 'string') { notes[c] = t; continue; }
        const out = await t.run(torchReq);
        if (out.error) { notes[c] = String(out.error); continue; }
        row = { tokensPerSec: out.tokensPerSec as number, msPerStep: out.msPerStep as number };
        notes[c] = `PyTorch ${out.torch}, ${t.threads} thread(s), OMP_WAIT_POLICY=PASSIVE, batch ${torchReq.batch} x ${torchReq.ctx}, ${torchReq.tokensPerStep.toFixed(1)} real tokens per step`;
      } else {
        row = await d.page.evaluate(async ({ c, steps }) => {
          const w = window as unknown as { labImport: (p: string) => Promise<any>; benchRuns: Record<string, any> };
          const { setTransposeMode } = await w.labImport('/src/lib/kernels/matmul/index.ts');
          const { setSimdOps } = await w.labImport('/src/lib/kernels/wasm-simd/index.ts');
          setTransposeMode(c === 'before' ? 'never' : 'auto');
          setSimdOps(c !== 'twins');
          const run = w.benchRuns[c];
          const t0 = performance.now();
          let tokens = 0;
          for (let i = 0; i < steps; i++) {
            const e = await run.trainStep();
            tokens += (e.tokensPerSec * e.msPerStep) / 1000; // real (unpadded) tokens of the step
          }
          const s = (performance.now() - t0) / 1000;
          setTransposeMode('auto');
          setSimdOps(true);
          return { tokensPerSec: tokens / s, msPerStep: (1000 * s) / steps };
        }, { c, steps });
      }
      (perRound[c] ??= []).push({ ...row, loadBefore, loadAfter: loadavg() });
      console.error(`[bench] ${preset} ${backend} round ${r + 1}/${rounds} ${c}: ${row.tokensPerSec.toFixed(0)} tokens/s (load ${loadBefore?.[0]})`);
    }
  }
  // kernels per lab step (one profiled step each, after the timed rounds)
  const kernels = await d.page.evaluate(async ({ labOps }) => {
    const w = window as unknown as { labImport: (p: string) => Promise<any>; benchRuns: Record<string, any>; lab: { tf: any } };
    const { setTransposeMode } = await w.labImport('/src/lib/kernels/matmul/index.ts');
    const { setSimdOps } = await w.labImport('/src/lib/kernels/wasm-simd/index.ts');
    const out: Record<string, { kernels: number; byName: Record<string, number> }> = {};
    for (const c of labOps) {
      setTransposeMode(c === 'before' ? 'never' : 'auto');
      setSimdOps(c !== 'twins');
      const p = await w.lab.tf.profile(async () => { await w.benchRuns[c].trainStep(); });
      const byName: Record<string, number> = {};
      for (const k of p.kernels) byName[k.name] = (byName[k.name] ?? 0) + 1;
      out[c] = { kernels: p.kernels.length, byName };
    }
    setTransposeMode('auto');
    setSimdOps(true);
    for (const r of Object.values(w.benchRuns)) r.dispose();
    w.benchRuns = {};
    return out;
  }, { labOps });
  const threads = await d.page.evaluate(() => (window as unknown as { lab: { wasmThreadsInUse: () => number | null } }).lab.wasmThreadsInUse());
  const { flopsPerToken } = await import('../src/lib/models/gpt2/config.ts');
  const cfg = { nLayer: setup.layers, dModel: setup.width, nHead: setup.heads, vocabSize: setup.vocab, nCtx: setup.nCtx, eps: 1e-5 };
  const rows = Object.entries(perRound).map(([c, rs]) => {
    const tps = rs.map((x) => x.tokensPerSec);
    const best = Math.max(...tps), med = median(tps);
    return {
      kind: 'train', task, preset, backend, contender: c, ops: c.startsWith('torch') || c === 'jaxjs' ? null : c,
      tokensPerSec: med, tokensPerSecBest: best, tokensPerSecMedian: med, msPerStepMin: Math.min(...rs.map((x) => x.msPerStep)), msPerStepMedian: median(rs.map((x) => x.msPerStep)),
      gflops: (3 * flopsPerToken(cfg, Math.round(setup.meanT)) * med) / 1e9, adapterBestMatmulGflops: c.startsWith('torch') || c === 'jaxjs' ? null : adapterGflops,
      kernelsPerStep: kernels[c]?.kernels ?? null, kernelsByName: kernels[c]?.byName ?? null,
      wasmThreads: backend === 'wasm' && !c.startsWith('torch') && c !== 'jaxjs' ? threads : null, note: notes[c] ?? null,
      batch: setup.batch, meanT: setup.meanT, realTokensPerStep: setup.realTokensPerStep, steps, rounds: rs,
    };
  });
  const missing = contenders.filter((c) => !perRound[c]).map((c) => ({ kind: 'train', task, preset, backend, contender: c, unavailable: notes[c] ?? 'not run' }));
  const get = (c: string) => rows.find((x) => x.contender === c);
  const ratio = (a: string, b: string) => { const x = get(a), y = get(b); return x && y ? { median: x.tokensPerSecMedian / y.tokensPerSecMedian, best: x.tokensPerSecBest / y.tokensPerSecBest } : null; };
  const summary = {
    kind: 'train-ratios', task, preset, backend,
    fusedOverStock: ratio('fused', 'stock'), fusedOverBefore: ratio('fused', 'before'), fusedOverTwins: ratio('fused', 'twins'),
    fusedOverTorch1: ratio('fused', 'torch1'), fusedOverTorch2: ratio('fused', 'torch2'), fusedOverJaxjs: ratio('fused', 'jaxjs'),
  };
  for (const row of [...rows, ...missing, summary]) console.log(JSON.stringify({ ...row, rounds: undefined, kernelsByName: undefined }));
  return [...rows, ...missing, summary];
}

try {
  for (const backend of only.has('train') ? backends : []) {
    const mm = await d.page.evaluate(async ({ backend }) => {
      const { useBackend, tf } = (window as unknown as { lab: { useBackend: (b: string) => Promise<void>; tf: typeof import('@tensorflow/tfjs') } }).lab;
      await useBackend(backend);
      // best plain matmul throughput over a few square sizes
      let best = { n: 0, gflops: 0 };
      for (const n of backend === 'webgpu' ? [128, 256] : [256, 512]) {
        const a = tf.randomNormal([n, n]), b = tf.randomNormal([n, n]);
        await tf.matMul(a, b).data();
        const reps = 3;
        const t0 = performance.now();
        let c: import('@tensorflow/tfjs').Tensor | null = null;
        for (let i = 0; i < reps; i++) { c?.dispose(); c = tf.matMul(a, b); }
        await c!.data();
        const s = (performance.now() - t0) / 1000;
        const g = (2 * n * n * n * reps) / s / 1e9;
        if (g > best.gflops) best = { n, gflops: g };
        tf.dispose([a, b, c!]);
      }
      return best;
    }, { backend });
    for (const preset of presets) {
      if (backend === 'webgpu' && preset !== 'tiny' && !args.all) continue; // SwiftShader is too slow beyond tiny
      results.push(...(await trainRounds(backend, preset, mm.gflops)));
    }
  }
  // Recording throughput: last-prompt-token activations of every residual hook, tiny model, wasm.
  for (const backend of backends.filter((b) => b === 'wasm' && only.has('record'))) {
    const rec = await d.page.evaluate(async ({ backend, task }) => {
      const mod = (window as unknown as { labImport: (p: string) => Promise<any> }).labImport;
      await (window as unknown as { lab: { useBackend: (b: string) => Promise<void> } }).lab.useBackend(backend);
      const { GPT2, initWeights, getOps, presetConfig } = await mod('/src/lib/models/gpt2/index.ts');
      const { getTask } = await mod('/src/lib/tasks/index.ts');
      const { lastTokenActivations, defaultHooks } = await mod('/src/lib/neurons/pipeline.ts');
      const t = getTask(task);
      const tok = t.tokenizer();
      const m = new GPT2(presetConfig('tiny', tok.size, t.maxTokens()), initWeights(presetConfig('tiny', tok.size, t.maxTokens()), 1), tok, getOps('fused'));
      const prompts = t.evalSet(1).map((it: { prompt: string }) => m.encodePrompt(it.prompt));
      await lastTokenActivations(m, prompts.slice(0, 8), defaultHooks(m), tok.padId);
      const t0 = performance.now();
      for (let i = 0; i < prompts.length; i += 64) await lastTokenActivations(m, prompts.slice(i, i + 64), defaultHooks(m), tok.padId);
      const s = (performance.now() - t0) / 1000;
      m.dispose();
      return { promptsPerSec: prompts.length / s, prompts: prompts.length, hooks: defaultHooks(m).length };
    }, { backend, task });
    const row = { kind: 'record', preset: 'tiny', backend, task, ...rec };
    console.log(JSON.stringify(row));
    results.push(row);
  }
  // LLaMA on the project's fixture (no real weights can be fetched here): load, prefill, decode, LoRA step,
  // and llama.cpp (wllama, one thread) decoding the same file in the same browser.
  // the fixture, and (wasm) a file of Llama-3.2-1B's width with 2 of its layers, written once to bench-output/
  const llamaFiles: Array<{ backend: string; file: string; url: string }> = [];
  for (const backend of only.has('llama') ? backends : []) llamaFiles.push({ backend, file: 'tiny-llama-q4_k_m.gguf', url: '/tests/fixtures/tiny-llama-q4_k_m.gguf' });
  if (only.has('llama') && backends.includes('wasm') && args.wide !== 'false') {
    const path = join('bench-output', WIDE.file);
    if (!existsSync(path)) {
      mkdirSync('bench-output', { recursive: true });
      writeFileSync(path, build(WIDE, 99));
    }
    llamaFiles.push({ backend: 'wasm', file: WIDE.file, url: `/bench-output/${WIDE.file}` });
  }
  for (const { backend, file, url } of llamaFiles) {
    // A fresh page per file: tfjs-wasm fixes its thread pool when it starts, and the lab runs here with as many
    // threads as llama.cpp gets (--lab-threads, default the first of --llama-threads), by showing tfjs that many
    // cores. (Its 2-thread pool costs ~7 ms per small op on this shared machine: Sigmoid of 8192 values.)
    const lpage = await d.browser.newPage();
    if (backend === 'wasm') await lpage.addInitScript((n) => { Object.defineProperty(navigator, 'hardwareConcurrency', { value: n, configurable: true }); }, labThreads);
    await lpage.goto(`${d.base}/tests/harness/index.html`);
    await lpage.waitForFunction(() => (window as unknown as { harnessReady?: boolean }).harnessReady === true);
    const loadBefore = loadavg();
    const lr = await lpage.evaluate(async ({ backend, file, url, rounds, wllamaThreads }) => {
      const mod = (window as unknown as { labImport: (p: string) => Promise<any> }).labImport;
      const { useBackend, tf } = (window as unknown as { lab: { useBackend: (b: string) => Promise<void>; tf: any } }).lab;
      await useBackend(backend);
      const { parseGGUF } = await mod('/src/lib/gguf/reader.ts');
      const { LlamaModel, generate } = await mod('/src/lib/models/llama/model.ts');
      const { LoraAdapters } = await mod('/src/lib/models/llama/lora.ts');
      const { loraOptimizer, loraTrainStep } = await mod('/src/lib/train/lora-step.ts');
      const buf = await (await fetch(url)).arrayBuffer();
      let t0 = performance.now();
      const m = await LlamaModel.fromGGUF(buf, parseGGUF(buf));
      const loadMs = performance.now() - t0;
      const prompt = m.tokenizer.encode(' the cat and the dog and 12 = 3 and the cat', { addBos: true });
      const l0 = m.forward(tf.tensor2d(prompt, [1, prompt.length], 'int32'));
      await l0.data(); l0.dispose();
      t0 = performance.now();
      const l1 = m.forward(tf.tensor2d(prompt, [1, prompt.length], 'int32'));
      await l1.data(); l1.dispose();
      const prefillTps = prompt.length / ((performance.now() - t0) / 1000);
      const n = file.startsWith('wide') ? 16 : 48; // the wide file decodes ~100x slower
      // the same decode with hooks on: a steering shift of 4 neurons after every block (the Steer page's intervention)
      const { steeringHooks } = await mod('/src/lib/steer/steer.ts');
      const C = m.config.dModel, L = m.config.nLayer;
      const shifts = Array.from({ length: L }, (_, i) => [0, 1, 2, 3].map((j) => ({ hook: `blocks.${i}.hook_resid_post`, index: (j * 37) % C, shift: 0.1 }))).flat();
      const hooks = steeringHooks(shifts, 1, Object.fromEntries(Array.from({ length: L }, (_, i) => [`blocks.${i}.hook_resid_post`, C])));
      const decode = async (h?: unknown) => {
        const t = performance.now();
        const g = await generate(m, prompt, { maxTokens: n, greedy: true, stopIds: [], hooks: h });
        return g.length / ((performance.now() - t) / 1000);
      };
      await generate(m, prompt, { maxTokens: 2, greedy: true, stopIds: [] });
      await generate(m, prompt, { maxTokens: 2, greedy: true, stopIds: [], hooks });
      // llama.cpp (wllama) on the same file, loaded beside the lab's model so the rounds can alternate
      const text = ' the cat and the dog and 12 = 3 and the cat';
      const wl: Array<{ threads: number; w: any }> = [];
      if (backend === 'wasm') {
        const { Wllama } = await mod('/node_modules/@wllama/wllama/esm/index.js');
        const quiet = { ...console, debug() {}, log() {}, info() {}, warn() {} };
        for (const threads of wllamaThreads) {
          const w = new Wllama({ default: '/node_modules/@wllama/wllama/esm/wasm/wllama.wasm' }, { suppressNativeLog: true, logger: quiet });
          await w.loadModel([new Blob([buf])], { n_threads: threads, n_gpu_layers: 0, n_ctx: 128 });
          await w.createCompletion({ prompt: text, max_tokens: 2, temperature: 0 });
          wl.push({ threads, w });
        }
      }
      const wllamaDecode = async (w: any) => {
        const t = performance.now();
        const res = await w.createCompletion({ prompt: text, max_tokens: n, temperature: 0, ignore_eos: true, cache_prompt: false });
        // includes its prefill of the prompt, as the lab's generate() does
        return (res.usage?.completion_tokens ?? n) / ((performance.now() - t) / 1000);
      };
      // Rounds alternate the contenders, and their order flips every round, so a burst of load from the
      // machine's other users falls on both alike; min and median per contender.
      const series: Record<string, number[]> = { lab: [], labWithSteeringHooks: [] };
      for (const { threads } of wl) series[`wllama${threads}t`] = [];
      const contenders: Array<[string, () => Promise<number>]> = [
        ['lab', () => decode()],
        ['labWithSteeringHooks', () => decode(hooks)],
        ...wl.map(({ threads, w }) => [`wllama${threads}t`, () => wllamaDecode(w)] as [string, () => Promise<number>]),
      ];
      for (let r = 0; r < rounds; r++) {
        for (const [name, f] of r % 2 ? [...contenders].reverse() : contenders) series[name].push(await f());
      }
      for (const { w } of wl) await w.exit();
      const stats = (v: number[]) => {
        const o = [...v].sort((a, b) => a - b);
        return { runs: v, min: o[0], median: o.length % 2 ? o[(o.length - 1) / 2] : (o[o.length / 2 - 1] + o[o.length / 2]) / 2, max: o[o.length - 1] };
      };
      const decodeStats = Object.fromEntries(Object.entries(series).map(([k, v]) => [k, stats(v)]));
      // the ratio that counts is against wllama at the lab's thread count (--lab-threads, default the first of --llama-threads)
      const labOverWllama = Object.fromEntries(wl.map(({ threads }) => [`${threads}t`, decodeStats.lab.median / decodeStats[`wllama${threads}t`].median]));
      const a = LoraAdapters.create(m);
      const opt = loraOptimizer(a);
      const batch = { tokens: [prompt], lossMask: [prompt.map((_: number, i: number) => (i > 0 ? 1 : 0))] };
      await loraTrainStep(m, a, opt, batch, 1e-4);
      t0 = performance.now();
      for (let i = 0; i < 3; i++) await loraTrainStep(m, a, opt, batch, 1e-4);
      const loraTps = (3 * prompt.length) / ((performance.now() - t0) / 1000);
      m.dispose();
      const simd = backend === 'wasm' ? await mod('/src/lib/kernels/qmatmul/wasm-simd/index.ts') : null;
      const q = await mod('/src/lib/kernels/qmatmul/index.ts');
      return {
        file, loadMs, prefillTokensPerSec: prefillTps, promptTokens: prompt.length, decodeTokens: n, rounds,
        decodeTokensPerSec: decodeStats.lab.median,
        decodeWithSteeringHooksTokensPerSec: decodeStats.labWithSteeringHooks.median,
        wllamaDecodeTokensPerSec: wl.length ? decodeStats[`wllama${wl[0].threads}t`].median : null,
        decode: decodeStats, labOverWllamaMedian: labOverWllama,
        loraTrainTokensPerSec: loraTps,
        qmatmul: { activations: q.getQMatMulActivations(), relaxedSimd: simd?.relaxed() ?? null, simdUnavailable: simd?.qdotUnavailable() ?? null, threads: simd?.qdotPoolStats.threads ?? 1 },
        labTfjsWasmThreads: backend === 'wasm' ? (await mod('/src/lib/engine/backend.ts')).wasmThreadsInUse() : null,
        shownHardwareConcurrency: navigator.hardwareConcurrency,
      };
    }, { backend, file, url, rounds: llamaRounds, wllamaThreads: llamaThreads }).catch((e: Error) => ({ error: e.message.split('\n')[0] }));
    await lpage.close();
    const row = { kind: 'llama-fixture', backend, ...lr, loadavg: { before: loadBefore, after: loadavg() } };
    console.log(JSON.stringify(row));
    results.push(row);
  }
} finally {
  await d.close();
}
mkdirSync(dirname(out), { recursive: true });
for (const t of torchServers.values()) if (typeof t !== 'string') t.close();
writeFileSync(out, JSON.stringify({ kind: 'memgen-bench', createdAt: new Date().toISOString(), machine: { cpus: (await import('node:os')).cpus().length, loadavgAtEnd: loadavg(), note: 'a shared machine: other jobs may hold the cores; see each round\'s loadavg' }, results }, null, 2));
console.log(`bench written to ${out}`);
