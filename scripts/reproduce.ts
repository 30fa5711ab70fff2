// npm run reproduce -- --task cipher --preset tiny --backend wasm --out reproduce-output/cipher.json   (--model = --preset)
//   [--checkpoint static-models/cipher-tiny.mgck]   skip training, start from a checkpoint
//   [--stage train|neurons|all]                       stop after training, after the neurons, or do everything (default all)
//   [--steps N --seed N --evalEvery N --evalLimit N --lr X --decode beam|greedy (default beam: training evaluation,
//    pair labels and steering) --answerOnlyLoss true|false]
//   [--pairs N --pairTime S --alphas 0.5,1,3,5 --controlSeeds N (10) --maxPrompts N (fresh prompts per steering table, 300)]
//   [--steerDecode beam|greedy --hookSet resid|ln2|mlp --consistency true|false]
//   [--crossAlphas 1,3 (the α of cross-steering in the consistency checks)]
//   [--seeds N: trains seeds 1..N of the preset (or --seedList 1,2,5) and runs the whole analysis on each; each
//    seed's report goes to <out>-seedK.json, and <out> is the first seed's report with every seed's headline
//    figures (table "seeds": mean and range, in how many seeds each steering claim holds)]
//   [--recordingPoints resid,ln2,mlp (default; 'none' skips) --pointAlphas 1,3: after the main analysis, the same
//    pairs recorded, ranked, probed and steered (top 5%, these α, the same controls and fresh prompts) at each point]
//   [--save-checkpoint file.mgck] [--stopAfter N (stop training at step N, keeping the best checkpoint so far)]
//   --task mixed [--tasks cipher,color --answerOnlyTasks cipher]   one model on several tasks: the pipeline runs on
//                                                                   the first part, then inter-task consistency
//                                                                   (the second part's neurons, cross-steering)
// Drives the lab headless (its own worker API, in the system Chromium) and writes the same report the Report
// page shows: JSON (and HTML beside it when the report builder is available).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parseArgs, saveReportHtml, startDriver } from './lab-driver';

const args = parseArgs(process.argv.slice(2));
const task = args.task ?? 'cipher';
// --model names a GPT-2 preset (tiny, classroom, gpt2-small); LLaMA GGUF files go through the LLaMA page.
if (args.model && /\.gguf$/i.test(args.model)) throw new Error('--model with a GGUF file is not run headless yet: fine-tune and analyze LLaMA on the LLaMA page, then save the report there.');
const preset = args.model ?? args.preset ?? 'tiny';
const backend = args.backend ?? 'wasm';
const stage = args.stage ?? 'all';
const out = args.out ?? `reproduce-output/${task}-${preset}-${backend}.json`;
const overrides: Record<string, number | string | boolean | string[]> = {};
for (const k of ['steps', 'seed', 'batchSize', 'evalEvery', 'evalLimit', 'lr', 'warmup', 'gradAccum', 'weightDecay'])
  if (args[k] !== undefined) overrides[k] = Number(args[k]);
if (args.decode) overrides.evalDecode = args.decode;
if (args.answerOnlyLoss) overrides.answerOnlyLoss = args.answerOnlyLoss === 'true';
const list = (v: string) => v.split(',').map((x) => x.trim()).filter(Boolean);
if (args.tasks) overrides.tasks = list(args.tasks) as unknown as string;
if (args.answerOnlyTasks !== undefined) overrides.answerOnlyTasks = list(args.answerOnlyTasks) as unknown as string;
const opts = {
  task, preset, backend, stage, overrides,
  checkpointB64: args.checkpoint ? readFileSync(args.checkpoint).toString('base64') : '',
  checkpointName: args.checkpoint ? basename(args.checkpoint) : '',
  pairs: Number(args.pairs ?? 1000),
  pairTime: Number(args.pairTime ?? 600),
  alphas: (args.alphas ?? '0.5,1,3,5').split(',').map(Number),
  controlSeeds: Number(args.controlSeeds ?? 10),
  maxPrompts: Number(args.maxPrompts ?? 300),
  pairDecode: args.decode ?? 'beam',
  steerDecode: args.steerDecode ?? args.decode ?? 'beam',
  hookSet: args.hookSet ?? 'resid',
  consistency: (args.consistency ?? 'true') === 'true',
  stopAfter: Number(args.stopAfter ?? 0),
  crossAlphas: (args.crossAlphas ?? '1,3').split(',').map(Number),
  recordingPoints: (args.recordingPoints ?? 'resid,ln2,mlp') === 'none' ? [] : (args.recordingPoints ?? 'resid,ln2,mlp').split(','),
  pointAlphas: (args.pointAlphas ?? '1,3').split(',').map(Number),
};
if (args.checkpoint && !existsSync(args.checkpoint)) throw new Error(`No checkpoint file at ${args.checkpoint}.`);
const seedList = args.seedList ? list(args.seedList).map(Number) : args.seeds ? Array.from({ length: Number(args.seeds) }, (_, i) => i + 1) : [];
if (seedList.some((x) => !Number.isInteger(x) || x < 0)) throw new Error(`--seeds takes a count (e.g. 3) and --seedList seeds (e.g. 1,2,3): got ${args.seeds ?? args.seedList}.`);
if (seedList.length && args.checkpoint) throw new Error('--seeds trains each seed: leave --checkpoint out.');

const started = Date.now();
const d = await startDriver();
await d.page.exposeFunction('__report', (kind: string, payload: string) => {
  const p = JSON.parse(payload);
  if (kind === 'log' && p.step % 50 === 0) console.log(`step ${p.step}  loss ${p.loss.toFixed(4)}  ${Math.round(p.tokensPerSec)} tok/s`);
  else if (kind === 'eval') {
    const parts = p.e.byTask ? '  [' + Object.entries(p.e.byTask as Record<string, { gen: number; mem: number; other: number }>).map(([t, c]) => `${t} ${c.gen}/${c.mem}/${c.other}`).join(', ') + ']' : '';
    console.log(`eval @${p.e.step}: gen ${p.e.gen}  mem ${p.e.mem}  other ${p.e.other}${parts}${p.isBest ? '  (best)' : ''}`);
  }
  else if (kind === 'progress') process.stdout.write(`\r${p.phase}: ${p.done}/${p.total} ${p.message ?? ''}        `);
  else if (kind !== 'log') console.log(`\n${kind}: ${typeof p === 'string' ? p : JSON.stringify(p)}`);
});
/** One whole run (train or load, then the analysis) in the page; returns its report. */
const runOnce = (o: typeof opts) => d.page.evaluate(async (o) => {
    const w = window as unknown as { labImport: (p: string) => Promise<any>; __report: (k: string, p: string) => void };
    const say = (k: string, p: unknown) => w.__report(k, JSON.stringify(p));
    const { getLab, Comlink } = await w.labImport('/src/lib/worker/client.ts');
    const { loadArtifact, getRun } = await w.labImport('/src/lib/store/runs.ts');
    const lab = getLab();
    const device = await lab.init(o.backend);
    const onProgress = Comlink.proxy((p: unknown) => say('progress', p));
    let checkpoint: ArrayBuffer | undefined;
    let trainEnd: { status: string; message?: string } | null = null;
    let cfg: unknown = null;
    if (o.checkpointB64) {
      checkpoint = Uint8Array.from(atob(o.checkpointB64), (c) => c.charCodeAt(0)).buffer;
    } else {
      cfg = { ...(await lab.training.defaults(o.task, o.preset)), ...o.overrides };
      let runId = '';
      trainEnd = await new Promise((resolve) => {
        void lab.training.start(cfg, Comlink.proxy({
          onStart: (i: { runId: string }) => (runId = i.runId),
          onProgress: () => undefined, // Comlink proxies every member: each callback must exist
          onNotice: (m: string) => say('notice', m),
          onLog: (e: { step: number }) => {
            say('log', e);
            // --stopAfter N: stop the run at step N (as the Stop button does); the best checkpoint so far is kept
            if (o.stopAfter > 0 && e.step >= o.stopAfter) void lab.cancelAll();
          },
          onEval: (e: unknown, isBest: boolean) => say('eval', { e, isBest }),
          onDone: (status: string, message?: string) => resolve({ status, message }),
        }));
      });
      const run = await getRun(runId);
      checkpoint = run?.artifacts.best ? await loadArtifact(run.artifacts.best) : undefined;
      if (!checkpoint) throw new Error(`Training ended (${trainEnd!.status}: ${trainEnd!.message ?? ''}) without a checkpoint.`);
    }
    const b64 = (() => { const u8 = new Uint8Array(checkpoint!); let s = ''; for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode(...u8.subarray(i, i + 0x8000)); return btoa(s); })();
    const info = await lab.analysis.useCheckpoint({ buffer: checkpoint!.slice(0), name: o.checkpointName || undefined });
    say('model', info.source);
    if (o.stage !== 'train') {
      say('stage', 'finding contrastive pairs that flip between mem and gen');
      const pairs = await lab.analysis.findPairs({ target: o.pairs, timeCapSeconds: o.pairTime, decode: o.pairDecode }, onProgress);
      say('pairs', pairs);
      if (pairs.kept >= 4) {
        say('stage', 'recording activations');
        await lab.analysis.record({ hookSet: o.hookSet }, onProgress);
        say('stage', 'analyzing');
        await lab.analysis.analyze({}, onProgress);
        if (o.stage === 'all') {
          say('stage', 'steering sweep on fresh prompts, with the paper, matched and direction controls');
          await lab.analysis.sweep({ alphas: o.alphas, controlSeeds: o.controlSeeds, perDirection: o.maxPrompts, decode: o.steerDecode }, onProgress);
          if (o.recordingPoints.length) {
            say('stage', `recording points side by side (${o.recordingPoints.join(', ')})`);
            await lab.analysis.compareRecordingPoints({ hookSets: o.recordingPoints, alphas: o.pointAlphas, controlSeeds: o.controlSeeds, perDirection: o.maxPrompts, decode: o.steerDecode }, onProgress);
          }
          if (o.consistency) {
            say('stage', 'intra-task consistency (a second set of pairs)');
            await lab.analysis.intraTaskConsistency({ seed: 2, target: o.pairs, timeCapSeconds: o.pairTime, crossAlpha: o.crossAlphas }, onProgress);
            // a mixed model: every other part's neurons against this part's (same network, same positions)
            for (const other of (info.mixed ?? []).filter((t: string) => t !== info.task)) {
              say('stage', `inter-task consistency (${info.task} vs ${other})`);
              await lab.analysis.interTaskConsistency({ task: other, target: o.pairs, timeCapSeconds: o.pairTime, crossAlpha: o.crossAlphas }, onProgress);
            }
          }
        }
      }
    }
    const report = await lab.analysis.report(o.backend);
    return { report, device, cfg, trainEnd, checkpointBase64: b64 };
  }, o);

try {
  const seedRuns: unknown[] = [];
  let first: Awaited<ReturnType<typeof runOnce>> | null = null;
  for (const seed of seedList.length ? seedList : [null]) {
    if (seed !== null) console.log(`\n=== seed ${seed} (${seedList.indexOf(seed) + 1} of ${seedList.length}) ===`);
    const r = await runOnce(seed === null ? opts : { ...opts, overrides: { ...opts.overrides, seed } });
    if (seed !== null) {
      const { headlines } = await import('../src/lib/report/seeds');
      seedRuns.push(headlines(r.report, seed));
      const file = out.replace(/\.json$/, '') + `-seed${seed}.json`;
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify(r.report, null, 2));
      console.log(`\nseed ${seed} report written to ${file}`);
    }
    first ??= r;
  }
  const result = first!;
  if (seedRuns.length) result.report.seedRuns = seedRuns;
  type Counts = { mem: number; gen: number; other: number; total: number };
  const r = result.report as { training?: { chosen?: (Counts & { byTask?: Record<string, Counts> }) | null } | null };
  const chosen = r.training?.chosen ?? null;
  const both = (c: Counts) => c.mem / c.total >= 0.1 && c.gen / c.total >= 0.1;
  const full = {
    ...result.report,
    reproduce: {
      args: process.argv.slice(2), wallSeconds: (Date.now() - started) / 1000, device: result.device.adapter ?? null,
      training: result.trainEnd,
      // a mixed model needs both behaviors in every part
      bothBehaviors: chosen ? (chosen.byTask ? Object.values(chosen.byTask).every(both) : both(chosen)) : null,
    },
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(full, null, 2));
  console.log(`\nHTML report written to ${await saveReportHtml(d, out)}`);
  if (args['save-checkpoint']) {
    writeFileSync(args['save-checkpoint'], Buffer.from(result.checkpointBase64, 'base64'));
    console.log(`\ncheckpoint written to ${args['save-checkpoint']}`);
  }
  console.log(`\nreport written to ${out}`);
  console.log(`chosen checkpoint: ${JSON.stringify(chosen)}  both behaviors (>=10% each): ${full.reproduce.bothBehaviors}`);
  if (result.trainEnd && result.trainEnd.status !== 'done') process.exitCode = 1;
} finally {
  await d.close();
}
