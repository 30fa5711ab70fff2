// npm run bench [-- --out bench-output/bench.json --presets tiny,classroom --backends wasm,webgpu --steps 5]
// Headless Chromium (the system one). Per preset and backend: training tokens/s and step time with the lab's
// fused kernels and with the same model built from stock tfjs ops, achieved GFLOP/s, and the adapter's best
// plain matmul GFLOP/s. Speed goals are compared in the note, never asserted in tests.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseArgs, startDriver } from './lab-driver';

const args = parseArgs(process.argv.slice(2));
const out = args.out ?? 'bench-output/bench.json';
const presets = (args.presets ?? 'tiny,classroom').split(',');
const backends = (args.backends ?? 'wasm,webgpu').split(',');
const steps = Number(args.steps ?? 5);
const task = args.task ?? 'cipher';

const d = await startDriver({ quiet: true });
const results: unknown[] = [];
try {
  for (const backend of backends) {
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
} finally {
  await d.close();
}
const byKey = (b: string, p: string, o: string) => results.find((r) => (r as Record<string, string>).backend === b && (r as Record<string, string>).preset === p && (r as Record<string, string>).ops === o) as { tokensPerSec: number } | undefined;
const ratios = backends.flatMap((b) => presets.map((p) => ({ backend: b, preset: p, fusedOverStock: (byKey(b, p, 'fused')?.tokensPerSec ?? NaN) / (byKey(b, p, 'stock')?.tokensPerSec ?? NaN) })));
// PyTorch on this CPU for the same tiny model, batch and sequence (optional: Debian's python3-torch).
let torch: Record<string, unknown> | null = null;
try {
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
