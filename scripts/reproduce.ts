// npm run reproduce -- --task cipher --preset tiny --backend wasm --out reproduce-output/cipher.json
// Trains from scratch through the lab's worker in headless Chromium and writes a JSON report with the chosen
// checkpoint (paper's rule: max #gen x #mem) and its validation mem / gen / other.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs, startDriver } from './lab-driver';

const args = parseArgs(process.argv.slice(2));
const task = args.task ?? 'cipher';
const preset = args.preset ?? 'tiny';
const backend = args.backend ?? 'wasm';
const out = args.out ?? `reproduce-output/${task}-${preset}-${backend}.json`;
const overrides: Record<string, number | string | boolean> = {};
for (const k of ['steps', 'seed', 'batchSize', 'evalEvery', 'evalLimit', 'lr', 'warmup', 'gradAccum'])
  if (args[k] !== undefined) overrides[k] = Number(args[k]);
if (args.decode) overrides.evalDecode = args.decode;
if (args.ops) overrides.ops = args.ops;

const started = Date.now();
const d = await startDriver();
await d.page.exposeFunction('__report', (kind: string, payload: string) => {
  const p = JSON.parse(payload);
  if (kind === 'log' && p.step % 50 === 0) console.log(`step ${p.step}  loss ${p.loss.toFixed(4)}  ${Math.round(p.tokensPerSec)} tok/s`);
  if (kind === 'notice') console.log(p);
  if (kind === 'eval') console.log(`eval @${p.e.step}: gen ${p.e.gen}  mem ${p.e.mem}  other ${p.e.other}${p.isBest ? '  (best)' : ''}`);
});
try {
  const result = await d.page.evaluate(
    async ({ task, preset, backend, overrides }) => {
      const mod = (window as unknown as { labImport: (p: string) => Promise<any> }).labImport;
      const { getLab, Comlink } = await mod('/src/lib/worker/client.ts');
      const { loadArtifact, getRun } = await mod('/src/lib/store/runs.ts');
      const lab = getLab();
      const device = await lab.init(backend as 'webgpu' | 'wasm');
      if (overrides.ops) await lab.training.setOpsImpl(String(overrides.ops) as never);
      const cfg = { ...(await lab.training.defaults(task as never, preset as never)), ...overrides };
      const report = (window as unknown as { __report: (k: string, p: string) => void }).__report;
      const done = new Promise<{ status: string; message?: string }>((resolve) => {
        void lab.training.start(cfg as never, Comlink.proxy({
          onProgress: () => undefined, // Comlink proxies every member: each callback must exist
          onNotice: (m: string) => report('notice', JSON.stringify(m)),
          onLog: (e: unknown) => report('log', JSON.stringify(e)),
          onEval: (e: unknown, isBest: boolean) => report('eval', JSON.stringify({ e, isBest })),
          onDone: (status: string, message?: string) => resolve({ status, message }),
          onStart: (i: { runId: string }) => ((window as unknown as { __runId: string }).__runId = i.runId),
        }));
      });
      const end = await done;
      const run = await getRun((window as unknown as { __runId: string }).__runId);
      const best = run?.artifacts.best ? await loadArtifact(run.artifacts.best) : undefined;
      let b64 = '';
      if (best) {
        const u8 = new Uint8Array(best);
        let s = '';
        for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode(...u8.subarray(i, i + 0x8000));
        b64 = btoa(s);
      }
      return { end, run, device, cfg, checkpointBase64: b64 };
    },
    { task, preset, backend, overrides },
  );
  const s = result.run?.summary as { best?: { step: number; mem: number; gen: number; other: number; total: number; decode: string }; evals?: unknown[] } | undefined;
  const best = s?.best ?? null;
  const report = {
    kind: 'memgen-reproduce',
    version: 1,
    createdAt: new Date().toISOString(),
    task, preset, backend,
    device: { adapter: result.device.adapter ?? null, backend: result.device.backend },
    config: result.cfg,
    status: result.end,
    wallSeconds: (Date.now() - started) / 1000,
    chosenCheckpoint: best && {
      step: best.step, decode: best.decode,
      mem: best.mem, gen: best.gen, other: best.other, total: best.total,
      memPct: (100 * best.mem) / best.total, genPct: (100 * best.gen) / best.total, otherPct: (100 * best.other) / best.total,
      bothBehaviors: best.mem / best.total >= 0.1 && best.gen / best.total >= 0.1,
    },
    evals: s?.evals ?? [],
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2));
  if (args['save-checkpoint'] && result.checkpointBase64) {
    writeFileSync(args['save-checkpoint'], Buffer.from(result.checkpointBase64, 'base64'));
    console.log(`checkpoint written to ${args['save-checkpoint']}`);
  }
  console.log(`report written to ${out}`);
  console.log(JSON.stringify(report.chosenCheckpoint));
  if (result.end.status !== 'done') process.exitCode = 1;
} finally {
  await d.close();
}
