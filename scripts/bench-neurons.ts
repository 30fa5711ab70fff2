// Benchmark of the neuron-analysis path in headless Chromium:
//   1. IndexedDB activation store: write and read MB/s in large batched chunks (float32 and float16);
//   2. analysis time for 5,000 pairs (10,000 rows) x 131,072 neurons (32 hooks x 4,096), streamed in chunks:
//      the JS StreamingStats path (what the worker runs on wasm/CPU) plus ranking and BH,
//      and statsTf per hook on the wasm and webgpu backends (stops at a time budget and extrapolates).
// Usage: npx tsx scripts/bench-neurons.ts --out bench-output/neurons.json [--mb 512] [--tf-budget-s 60]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createServer } from 'vite';
import { launchChromium } from '../tests/browser/chromium';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}
const out = arg('out', 'bench-output/neurons.json');
const totalMB = Number(arg('mb', '512'));
const tfBudgetS = Number(arg('tf-budget-s', '60'));
if (!(totalMB > 0) || !(tfBudgetS > 0)) throw new Error('--mb and --tf-budget-s must be positive numbers.');

// No HMR socket: a page busy computing for seconds misses its pings, and Vite's client then reloads the page.
const server = await createServer({ server: { port: 0, host: '127.0.0.1', hmr: false, ws: false }, logLevel: 'error' });
await server.listen();
const addr = server.httpServer?.address();
if (!addr || typeof addr === 'string') throw new Error('Vite server did not start');
const browser = await launchChromium();
const result: Record<string, unknown> = { date: new Date().toISOString(), host: 'headless Chromium (SwiftShader WebGPU)' };
try {
  const page = await browser.newPage();
  page.on('console', (m) => console.log('[page]', m.text()));
  page.on('pageerror', (e) => console.log('[page error]', e));
  await page.goto(`http://127.0.0.1:${addr.port}/tests/harness/index.html`);
  await page.waitForFunction(() => (window as unknown as { harnessReady?: boolean }).harnessReady === true);
  // Strings, so no tool rewrites them: a module loader, and the `__name` helper tsx's keepNames calls in functions.
  await page.evaluate('window.labImport = (p) => import(p); window.__name = (f) => f;');

  // ---- 1. IndexedDB throughput ----
  const idb = [];
  for (const cfg of [
    { dtype: 'float32', chunkMB: 8 },
    { dtype: 'float32', chunkMB: 16 },
    { dtype: 'float16', chunkMB: 8 },
  ] as const) {
    const r = await page.evaluate(
      async ({ dtype, chunkMB, totalMB }) => {
        const { ActivationStore } = await (window as any).labImport('/src/lib/store/index.ts');
        const hooks = Array.from({ length: 8 }, (_, l) => ({ name: `blocks.${l}.hook_resid_post`, layer: l, dim: 2048 }));
        const rowBytes = hooks.length * 2048 * 4; // float32 input bytes per row
        const rows = Math.floor((totalMB * 2 ** 20) / rowBytes);
        const batch = 256;
        const id = `bench-${dtype}-${chunkMB}`;
        await ActivationStore.delete(id);
        const store = await ActivationStore.create(
          { id, version: 1, model: 'bench', checkpoint: 'none', task: 'math', hooks, dtype, createdAt: new Date().toISOString() },
          { chunkBytes: chunkMB * 2 ** 20, maxBufferBytes: 512 * 2 ** 20 },
        );
        // One batch of random rows, appended repeatedly: generation stays out of the timing.
        const data: Record<string, Float32Array> = {};
        for (const h of hooks) data[h.name] = Float32Array.from({ length: batch * h.dim }, () => Math.random() * 4 - 2);
        const labels = Uint8Array.from({ length: batch }, (_, i) => i % 2);
        const ids = Array.from({ length: batch }, (_, i) => `p${i}`);
        const t0 = performance.now();
        for (let done = 0; done < rows; done += batch) {
          const n = Math.min(batch, rows - done);
          const part: Record<string, Float32Array> = {};
          for (const h of hooks) part[h.name] = data[h.name].subarray(0, n * h.dim);
          await store.appendRows(part, labels.subarray(0, n), ids.slice(0, n));
        }
        await store.flush();
        const writeMs = performance.now() - t0;
        const reopened = await ActivationStore.open(id);
        const t1 = performance.now();
        let sum = 0;
        for (const h of hooks) for await (const ch of reopened.iterate(h.name)) sum += ch.data[0];
        const readMs = performance.now() - t1;
        const storedBytes = rows * hooks.length * 2048 * (dtype === 'float16' ? 2 : 4);
        const inputBytes = rows * rowBytes;
        await ActivationStore.delete(id);
        return {
          dtype, chunkMBPerKey: chunkMB, rows, chunks: reopened.manifest.chunkRows.length, rowsPerChunk: store.rowsPerChunk,
          inputMB: inputBytes / 2 ** 20, storedMB: storedBytes / 2 ** 20, writeMs, readMs,
          writeMBps_input: inputBytes / 2 ** 20 / (writeMs / 1000), writeMBps_stored: storedBytes / 2 ** 20 / (writeMs / 1000),
          readMBps_decoded: inputBytes / 2 ** 20 / (readMs / 1000), readMBps_stored: storedBytes / 2 ** 20 / (readMs / 1000),
          checksumFinite: Number.isFinite(sum),
        };
      },
      { ...cfg, totalMB },
    );
    console.log('idb', JSON.stringify(r));
    idb.push(r);
  }
  result.indexeddb = idb;

  // ---- 2a. Analysis on the JS streaming path ----
  const analysis = await page.evaluate(async () => {
    const { StreamingStats, rankNeurons, adjustAcross, layerDistribution } = await (window as any).labImport('/src/lib/neurons/stats.ts');
    const nHooks = 32;
    const dim = 4096; // 32 x 4096 = 131,072 neurons
    const rows = 10_000; // 5,000 pairs
    const chunk = 256;
    // A pool of chunk rows per hook, reused for every chunk with fresh labels (generation stays out of the timing).
    let seed = 1;
    const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296;
    const pool = Array.from({ length: nHooks }, () => Float32Array.from({ length: chunk * dim }, () => rand() * 2 - 1));
    const stats = Array.from({ length: nHooks }, (_, l) => new StreamingStats(`blocks.${l}.hook_resid_post`, l, dim));
    const t0 = performance.now();
    for (let done = 0; done < rows; done += chunk) {
      const n = Math.min(chunk, rows - done);
      const labels = Uint8Array.from({ length: n }, () => (rand() < 0.5 ? 1 : 0));
      for (let h = 0; h < nHooks; h++) stats[h].add(pool[h].subarray(0, n * dim), labels);
    }
    const accumulateMs = performance.now() - t0;
    const t1 = performance.now();
    const done = stats.map((s: any) => s.finish({ welch: true }));
    const finishWelchMs = performance.now() - t1;
    const t2 = performance.now();
    adjustAcross(done);
    const bhMs = performance.now() - t2;
    const t3 = performance.now();
    const top5 = rankNeurons(done, 0.05);
    const top10 = rankNeurons(done, 0.1);
    const rankMs = (performance.now() - t3) / 2;
    layerDistribution(top10, done.map((s: any) => s.layer));
    return {
      rows, neurons: nHooks * dim, hooks: nHooks, dim, chunkRows: chunk,
      accumulateMs, finishWelchMs, bhMs, rankMsPerCall: rankMs, totalMs: accumulateMs + finishWelchMs + bhMs + rankMs,
      top5: top5.length, top10: top10.length,
    };
  });
  console.log('analysis js', JSON.stringify(analysis));
  result.analysisStreamingJs = analysis;

  // ---- 2b. statsTf per hook on wasm and webgpu (time-bounded; extrapolated to all hooks) ----
  const tfRuns = [];
  for (const backend of ['wasm', 'webgpu'] as const) {
    const r = await page.evaluate(
      async ({ backend, budgetMs }) => {
        const { useBackend, tf } = (window as any).lab;
        const { statsTf } = await (window as any).labImport('/src/lib/neurons/stats.ts');
        await useBackend(backend);
        const nHooks = 32;
        const dim = 4096;
        const rows = 10_000;
        let seed = 3;
        const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296;
        const acts = Float32Array.from({ length: rows * dim }, () => rand() * 2 - 1); // (rows, dim), one hook
        const labels = Int32Array.from({ length: rows }, (_, i) => i % 2);
        const y = tf.tensor1d(labels, 'int32');
        const perHook: { uploadMs: number; statsMs: number }[] = [];
        const start = performance.now();
        for (let h = 0; h < nHooks && performance.now() - start < budgetMs; h++) {
          const t0 = performance.now();
          const x = tf.tensor2d(acts, [rows, dim]);
          const t1 = performance.now();
          await statsTf(x, y);
          const t2 = performance.now();
          x.dispose();
          perHook.push({ uploadMs: t1 - t0, statsMs: t2 - t1 });
        }
        y.dispose();
        const measured = perHook.reduce((a, p) => a + p.uploadMs + p.statsMs, 0);
        const steady = perHook.length > 1 ? perHook.slice(1) : perHook; // the first includes shader/kernel setup
        const meanHook = steady.reduce((a, p) => a + p.uploadMs + p.statsMs, 0) / steady.length;
        return {
          backend: tf.getBackend(), rows, dim, hooksMeasured: perHook.length, hooksTotal: nHooks, perHook,
          measuredMs: measured,
          totalMsForAllHooks: perHook.length === nHooks ? measured : perHook[0].uploadMs + perHook[0].statsMs + meanHook * (nHooks - 1),
          extrapolated: perHook.length < nHooks,
        };
      },
      { backend, budgetMs: tfBudgetS * 1000 },
    );
    console.log('statsTf', backend, JSON.stringify({ ...r, perHook: undefined }));
    tfRuns.push(r);
  }
  result.analysisStatsTf = tfRuns;
  result.goal = { indexeddbWriteMBps: 100 };
} finally {
  await browser.close();
  await server.close();
}
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(result, null, 2));
console.log(`wrote ${out}`);
