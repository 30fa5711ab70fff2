// The GPU bench without a browser: Node + Dawn (the `webgpu` package) + tfjs-backend-webgpu, bundled into one file
// by pack.mjs so that it runs on a machine with an NVIDIA GPU and no Node, browser or registry (see run.sh).
//   node bench.mjs --out gpu-bench.json [--presets tiny,classroom,gpt2-small --steps 5 --rounds 3
//                  --llama tiny,wide --small (SwiftShader: tiny shapes only, to prove the carry on a CPU)]
// Writes the same kind of rows as `npm run bench` (scripts/bench.ts): training tokens/s of the lab's fused ops
// and of stock tfjs ops, alternated round by round (A B A B), min and median, real tokens only, kernels per step,
// the adapter's best plain matmul GFLOP/s and the share of it a training step reaches; LLaMA load, prefill and
// decode tokens/s with and without steering hooks.
import { gpu } from './dawn-navigator';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { writeFileSync, readFileSync } from 'node:fs';
import { registerLabKernels } from '../../src/lib/kernels/registry';
import { TrainRun, defaultTrainConfig } from '../../src/lib/train/trainer';
import { getOps } from '../../src/lib/models/gpt2';
import { flopsPerToken } from '../../src/lib/models/gpt2/config';
import { makeBatch } from '../../src/lib/train/data';
import { parseGGUF } from '../../src/lib/gguf/reader';
import { LlamaModel, generate } from '../../src/lib/models/llama/model';
import { steeringHooks } from '../../src/lib/steer/steer';
import { FIXTURES, WIDE, build } from '../make-fixtures';

const argv = process.argv.slice(2);
const args: Record<string, string> = {};
for (let i = 0; i < argv.length; i++) if (argv[i].startsWith('--')) args[argv[i].slice(2)] = argv[i + 1] && !argv[i + 1].startsWith('--') ? argv[++i] : 'true';
const small = args.small === 'true';
const out = args.out ?? 'gpu-bench.json';
const presets = (args.presets ?? (small ? 'tiny' : 'tiny,classroom,gpt2-small')).split(',').filter(Boolean);
const steps = Number(args.steps ?? (small ? 1 : 5));
const rounds = Number(args.rounds ?? (small ? 2 : 3));
const llamaFiles = (args.llama ?? (small ? 'tiny' : 'tiny,wide')).split(',').filter(Boolean);
const task = args.task ?? 'cipher';
const loadavg = (): number[] | null => { try { return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number); } catch { return null; } };
const median = (a: number[]) => { const b = [...a].sort((x, y) => x - y); return b.length % 2 ? b[b.length >> 1] : (b[b.length / 2 - 1] + b[b.length / 2]) / 2; };
const log = (s: string) => console.error(`[gpu-bench ${new Date().toISOString().slice(11, 19)}] ${s}`);
const rows: unknown[] = [];
const report = () => writeFileSync(out, JSON.stringify({ kind: 'gpu-bench', date: new Date().toISOString(), args, rows }, null, 1));

const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) throw new Error('No WebGPU adapter: Dawn found no Vulkan driver. Set VK_ICD_FILENAMES to the driver\'s ICD json (run.sh looks in the usual places).');
const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
rows.push({ kind: 'adapter', vendor: info?.vendor, architecture: info?.architecture, description: info?.description, isFallbackAdapter: (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter ?? null, maxBufferSize: adapter.limits.maxBufferSize, maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, features: [...adapter.features] });
log(`adapter: ${info?.vendor} ${info?.architecture} ${info?.description}`);
registerLabKernels();
if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs could not start its webgpu backend on this adapter');
await tf.ready();
tf.env().set('WEBGPU_CPU_FORWARD', false);

// the adapter's best plain matmul (tfjs' own WebGPU matmul, float32), the yardstick for a training step's share
let best = { n: 0, gflops: 0 };
for (const n of small ? [64, 128] : [512, 1024, 2048, 4096]) {
  const a = tf.randomNormal([n, n]), b = tf.randomNormal([n, n]);
  await tf.matMul(a, b).data();
  const reps = small ? 2 : 20;
  const t0 = performance.now();
  let c: tf.Tensor | null = null;
  for (let i = 0; i < reps; i++) { c?.dispose(); c = tf.matMul(a, b); }
  await c!.data();
  const g = (2 * n ** 3 * reps) / ((performance.now() - t0) / 1000) / 1e9;
  if (g > best.gflops) best = { n, gflops: g };
  tf.dispose([a, b, c!]);
}
rows.push({ kind: 'adapter-matmul', ...best });
log(`best matmul ${best.gflops.toFixed(1)} GFLOP/s at n=${best.n}`);
report();

for (const preset of presets) {
  const cfg = { ...defaultTrainConfig(task as 'cipher', preset as 'tiny'), batchSize: small ? 4 : preset === 'tiny' ? 32 : 8 };
  const runs: Record<string, TrainRun> = {};
  for (const c of ['fused', 'stock']) { runs[c] = TrainRun.create(cfg, getOps(c as 'fused')); await runs[c].trainStep(); }
  const any = runs.fused as unknown as { microBatch(i: number, j: number): never; tok: never; answerOnly: boolean; model: { config: { nCtx: number; nLayer: number; dModel: number; nHead: number; vocabSize: number } } };
  let T = 0;
  for (let i = 1; i <= 4; i++) T += makeBatch(any.microBatch(i, 0), any.tok, any.answerOnly, any.model.config.nCtx).T;
  const mc = any.model.config;
  const per: Record<string, Array<{ tokensPerSec: number; msPerStep: number; loadBefore: number[] | null }>> = { fused: [], stock: [] };
  for (let r = 0; r < rounds; r++) {
    for (const c of r % 2 ? ['stock', 'fused'] : ['fused', 'stock']) {
      const loadBefore = loadavg();
      const t0 = performance.now();
      let tokens = 0;
      for (let i = 0; i < steps; i++) { const e = await runs[c].trainStep(); tokens += (e.tokensPerSec * e.msPerStep) / 1000; }
      const s = (performance.now() - t0) / 1000;
      per[c].push({ tokensPerSec: tokens / s, msPerStep: (1000 * s) / steps, loadBefore });
      log(`${preset} round ${r + 1} ${c}: ${(tokens / s).toFixed(0)} tokens/s`);
    }
  }
  const kernels: Record<string, number> = {};
  for (const c of ['fused', 'stock']) kernels[c] = (await tf.profile(async () => { await runs[c].trainStep(); })).kernels.length;
  for (const c of ['fused', 'stock']) runs[c].dispose();
  const meanT = T / 4;
  const fpt = 3 * flopsPerToken({ ...mc, eps: 1e-5 } as never, Math.round(meanT));
  const stat = (c: string) => {
    const t = per[c].map((x) => x.tokensPerSec);
    return { contender: c, tokensPerSecMedian: median(t), tokensPerSecBest: Math.max(...t), msPerStepMin: Math.min(...per[c].map((x) => x.msPerStep)), gflopsMedian: (fpt * median(t)) / 1e9, shareOfBestMatmul: (fpt * median(t)) / 1e9 / best.gflops, kernelsPerStep: kernels[c], rounds: per[c] };
  };
  const f = stat('fused'), s = stat('stock');
  rows.push({ kind: 'train', backend: 'webgpu', task, preset, batch: cfg.batchSize, meanT, layers: mc.nLayer, width: mc.dModel, fused: f, stock: s, fusedOverStockMedian: f.tokensPerSecMedian / s.tokensPerSecMedian, fusedOverStockBest: f.tokensPerSecBest / s.tokensPerSecBest, goals: { shareOfBestMatmul: 0.35, fusedOverStock: 3 } });
  report();
}

for (const which of llamaFiles) {
  const spec = which === 'wide' ? WIDE : FIXTURES.find((x) => x.file.includes('q4_k_m')) ?? FIXTURES[0];
  log(`llama ${spec.file}: building`);
  const bytes = build(spec, 99);
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let t0 = performance.now();
  const m = await LlamaModel.fromGGUF(buf, parseGGUF(buf));
  const loadMs = performance.now() - t0;
  const prompt = m.tokenizer.encode(' the cat and the dog and 12 = 3 and the cat', { addBos: true });
  const fwd = async () => { const l = m.forward(tf.tensor2d(prompt, [1, prompt.length], 'int32')); await l.data(); l.dispose(); };
  await fwd();
  t0 = performance.now(); await fwd();
  const prefill = prompt.length / ((performance.now() - t0) / 1000);
  const C = m.config.dModel, L = m.config.nLayer;
  const shifts = Array.from({ length: L }, (_, i) => [0, 1, 2, 3].map((j) => ({ hook: `blocks.${i}.hook_resid_post`, index: (j * 37) % C, shift: 0.1 }))).flat();
  const hooks = steeringHooks(shifts, 1, Object.fromEntries(Array.from({ length: L }, (_, i) => [`blocks.${i}.hook_resid_post`, C])));
  const n = small ? 3 : 32;
  const decode = async (h?: unknown) => { const t = performance.now(); const g = await generate(m, prompt, { maxTokens: n, greedy: true, stopIds: [], hooks: h as never }); return g.length / ((performance.now() - t) / 1000); };
  await generate(m, prompt, { maxTokens: 2, greedy: true, stopIds: [] });
  const series: Record<string, number[]> = { plain: [], steeringHooks: [] };
  for (let r = 0; r < rounds; r++) for (const k of r % 2 ? ['steeringHooks', 'plain'] : ['plain', 'steeringHooks']) series[k].push(await decode(k === 'plain' ? undefined : hooks));
  m.dispose();
  rows.push({ kind: 'llama', backend: 'webgpu', file: spec.file, layers: L, width: C, fileBytes: bytes.byteLength, loadMs, prefillTokensPerSec: prefill, decodeTokens: n, decodeTokensPerSecMedian: median(series.plain), decodeWithSteeringHooksMedian: median(series.steeringHooks), decode: series });
  log(`llama ${spec.file}: decode ${median(series.plain).toFixed(1)} tokens/s`);
  report();
}
report();
log(`wrote ${out}`);
process.exit(0);
