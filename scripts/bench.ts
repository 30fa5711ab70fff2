// npm run bench [-- --out bench-output/bench.json --presets tiny,classroom --backends wasm,webgpu --steps 5
//                  --only train,record,llama (default: all three) --wide false (skip the 1B-width LLaMA file)
//                  --rounds 3 (LLaMA decode rounds, lab and llama.cpp alternated) --llama-threads 1 (wllama's, e.g. 1,2)
//                  --lab-threads N (tfjs-wasm's pool for the LLaMA runs; default the first --llama-threads)]
// Headless Chromium (the system one). Per preset and backend: training tokens/s and step time with the lab's
// fused kernels and with the same model built from stock tfjs ops, achieved GFLOP/s, and the adapter's best
// plain matmul GFLOP/s. Speed goals are compared in the note, never asserted in tests.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { WIDE, build } from './make-fixtures';
import { execFileSync } from 'node:child_process';
import { parseArgs, startDriver } from './lab-driver';

const args = parseArgs(process.argv.slice(2));
const out = args.out ?? 'bench-output/bench.json';
const presets = (args.presets ?? 'tiny,classroom').split(',');
const backends = (args.backends ?? 'wasm,webgpu').split(',');
const steps = Number(args.steps ?? 5);
const task = args.task ?? 'cipher';
const only = new Set((args.only ?? 'train,record,llama').split(','));
const llamaRounds = Number(args.rounds ?? 3);
const llamaThreads = (args['llama-threads'] ?? '1').split(',').map(Number);
const labThreads = Number(args['lab-threads'] ?? llamaThreads[0]);
/** The machine's load (1, 5, 15 minutes) from /proc/loadavg: the cores are shared with other jobs. */
const loadavg = (): number[] | null => {
  try { return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number); } catch { return null; }
};

const d = await startDriver({ quiet: true });
const results: unknown[] = [];
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
      for (const ops of ['fused', 'stock']) {
        const r = await d.page.evaluate(async ({ preset, ops, steps, task }) => {
          const mod = (window as unknown as { labImport: (p: string) => Promise<any> }).labImport;
          const { TrainRun, defaultTrainConfig } = await mod('/src/lib/train/trainer.ts');
          const { getOps, flopsPerToken } = await mod('/src/lib/models/gpt2/index.ts');
          const cfg = { ...defaultTrainConfig(task, preset), batchSize: preset === 'tiny' ? 32 : 8 };
          const run = TrainRun.create(cfg, getOps(ops));
          await run.trainStep(); // warm-up: compile pipelines, allocate
          const t0 = performance.now();
          let tokens = 0;
          for (let i = 0; i < steps; i++) {
            const e = await run.trainStep();
            tokens += (e.tokensPerSec * e.msPerStep) / 1000; // real (unpadded) tokens of the step
          }
          const s = (performance.now() - t0) / 1000;
          const T = run.model.config.nCtx;
          const tps = tokens / s;
          const gflops = (3 * flopsPerToken(run.model.config, T) * tps) / 1e9;
          const params = (Object.values(run.model.params) as Array<{ size: number }>).reduce((a, p) => a + p.size, 0);
          run.dispose();
          return { tokensPerSec: tps, msPerStep: (1000 * s) / steps, gflops, params, batch: cfg.batchSize, T };
        }, { preset, ops, steps, task });
        const row = { kind: 'train', task, preset, backend, ops, ...r, adapterBestMatmulGflops: mm.gflops, fractionOfMatmul: r.gflops / mm.gflops };
        console.log(JSON.stringify(row));
        results.push(row);
      }
    }
  }
  // Recording throughput: last-prompt-token activations of every residual hook, tiny model, wasm.
  for (const backend of backends.filter((b) => b === 'wasm' && only.has('record'))) {
    const rec = await d.page.evaluate(async ({ backend, task }) => {
      const mod = (window as unknown as { labImport: (p: string) => Promise<any> }).labImport;
      await (window as unknown as { lab: { useBackend: (b: string) => Promise<void> } }).lab.useBackend(backend);
      const { GPT2, initWeights, getOps, presetConfig } = await mod('/src/lib/models/gpt2/index.ts');
      const { getTask } = await mod('/src/lib/tasks/index.ts');
      const { lastTokenActivations, defaultHooks, encodePrompt } = await mod('/src/lib/neurons/pipeline.ts');
      const t = getTask(task);
      const tok = t.tokenizer();
      const m = new GPT2(presetConfig('tiny', tok.size, t.maxTokens()), initWeights(presetConfig('tiny', tok.size, t.maxTokens()), 1), tok, getOps('fused'));
      const prompts = t.evalSet(1).map((it: { prompt: string }) => encodePrompt(m, it.prompt));
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
      const simd = backend === 'wasm' ? await mod('/src/lib/kernels/qmatmul/simd.ts') : null;
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
const byKey = (b: string, p: string, o: string) => results.find((r) => (r as Record<string, string>).backend === b && (r as Record<string, string>).preset === p && (r as Record<string, string>).ops === o) as { tokensPerSec: number } | undefined;
const ratios = backends.flatMap((b) => presets.map((p) => ({ backend: b, preset: p, fusedOverStock: (byKey(b, p, 'fused')?.tokensPerSec ?? NaN) / (byKey(b, p, 'stock')?.tokensPerSec ?? NaN) })));
// PyTorch on this CPU for the same tiny model, batch and sequence (optional: Debian's python3-torch).
let torch: Record<string, unknown> | null = null;
try {
  if (!only.has('train')) throw new Error('training was not benchmarked (--only)');
  const tiny = results.find((r) => (r as Record<string, string>).preset === 'tiny') as { T: number; batch: number } | undefined;
  const { getTask } = await import('../src/lib/tasks/index.ts');
  const t = getTask(task as 'cipher');
  const line = execFileSync('/usr/bin/python3', ['bench/torch_gpt2_baseline.py', '--layers', '2', '--width', '64', '--heads', '2',
    '--vocab', String(t.tokenizer().size), '--ctx', String(tiny?.T ?? t.maxTokens()), '--batch', String(tiny?.batch ?? 32), '--steps', String(Math.max(10, steps))], { encoding: 'utf8', timeout: 600_000 });
  torch = JSON.parse(line.trim().split('\n').pop()!);
  const wasmFused = byKey('wasm', 'tiny', 'fused');
  if (torch && wasmFused) torch.labWasmOverTorch = wasmFused.tokensPerSec / (torch.tokensPerSec as number);
  console.log(JSON.stringify(torch));
} catch (e) {
  torch = { unavailable: `PyTorch baseline not run: ${(e as Error).message.split('\n')[0]} (apt-get install python3-torch libopenblas0-openmp)` };
}
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ kind: 'memgen-bench', createdAt: new Date().toISOString(), results, ratios, torch }, null, 2));
console.log(`bench written to ${out}`);
