// npx tsx scripts/bench-decode.ts [--backend wasm|cpu --n 128 --rounds 3 --out bench-output/decode.json
//                                  --checkpoint static-models/cipher-tiny-s1.mgck
//                                  --guided true (the guided path's pair search instead: see below) --pairs 300 --pairTime 180]
// Decoding speed in Node (tfjs wasm or cpu backend, one thread): the shipped cipher model decodes N validation-style
// prompts greedy and beam-5 (chunks of 64 rows, as the pair search and steering do), with the KV cache and without
// it (the whole sequence recomputed each step: the decoder before the cache). Contenders alternate round by round;
// min and median seconds and every round, /proc/loadavg around each (the cores are shared). Also checks that both
// paths gave the same tokens. Speed is reported here, never asserted in tests.
// --guided: the Home page's heaviest step, the pair search (findFlipPairs to --pairs kept, capped at --pairTime s,
// chunks of 64 pairs), before (greedy, no cache: the decoder the guided path had) and now (beam 5 with the cache:
// its default), one after the other, with the pairs tried and kept and the seconds each took.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { parseArgs } from './lab-driver';
import { decodeCheckpoint } from '../src/lib/train/checkpoint';
import { GPT2, getOps } from '../src/lib/models/gpt2';
import { TaskTokenizer } from '../src/lib/tasks/tokenizer';
import { getTask } from '../src/lib/tasks';
import { answerBudget } from '../src/lib/train/evaluate';
import { findFlipPairs } from '../src/lib/neurons/pipeline';
import { beamDecode, greedyDecode } from '../src/lib/models/generate';

const args = parseArgs(process.argv.slice(2));
const backend = args.backend ?? 'wasm';
const n = Number(args.n ?? 128);
const rounds = Number(args.rounds ?? 3);
const out = args.out ?? 'bench-output/decode.json';
const file = args.checkpoint ?? 'static-models/cipher-tiny-s1.mgck';
if (backend === 'wasm') {
  setWasmPaths(resolve('node_modules/@tensorflow/tfjs-backend-wasm/dist') + '/');
  await import('@tensorflow/tfjs-backend-wasm');
}
await tf.setBackend(backend);
await tf.ready();
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);

const buf = readFileSync(file);
const ck = decodeCheckpoint(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
const model = new GPT2(ck.header.config, ck.tensors, TaskTokenizer.fromJSON(ck.header.tokenizer), getOps('fused'));
const task = getTask(ck.header.task as 'cipher');
const items = task.evalSet(7, n).slice(0, n);
const prompts = items.map((it) => model.encodePrompt(it.prompt));
const maxNewTokens = answerBudget(model, items);

if (args.guided === 'true') {
  const target = Number(args.pairs ?? 300), cap = Number(args.pairTime ?? 180);
  const padId = (task.tokenizer() as { padId?: number }).padId;
  const runs: Record<string, unknown>[] = [];
  for (const [name, decode, cache] of [['before: greedy, uncached', 'greedy', false], ['now: beam-5, cached', 'beam', true]] as const) {
    const l0 = loadavg();
    const t0 = performance.now();
    const r = await findFlipPairs(model, task, { seed: 1, target, maxTried: 50_000, timeCapSeconds: cap, decode, chunk: 64, padId, cache });
    const s = (performance.now() - t0) / 1000;
    runs.push({ name, seconds: s, tried: r.tried, kept: r.kept.length, flipRate: r.flipRate, stoppedBy: r.stoppedBy, labelCounts: r.labelCounts, pairsPerSecond: r.tried / s, loadavg: [l0, loadavg()] });
    console.log(JSON.stringify(runs[runs.length - 1]));
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ what: 'the guided path pair search on the shipped cipher model, before and now', checkpoint: file, backend, target, timeCapSeconds: cap, date: new Date().toISOString(), runs }, null, 2));
  process.exit(0);
}

type Mode = { name: string; run: () => Promise<number[][]> };
const modes: Mode[] = [
  { name: 'greedy, cached', run: () => greedyDecode(model, prompts, { maxNewTokens, batchSize: 64 }) },
  { name: 'greedy, uncached', run: () => greedyDecode(model, prompts, { maxNewTokens, batchSize: 64, cache: false }) },
  { name: 'beam-5, cached', run: () => beamDecode(model, prompts, { maxNewTokens, batchSize: 64, beams: 5 }) },
  { name: 'beam-5, uncached', run: () => beamDecode(model, prompts, { maxNewTokens, batchSize: 64, beams: 5, cache: false }) },
];
const times: Record<string, number[]> = {}, outputs: Record<string, string> = {}, loads: number[][] = [];
for (let r = 0; r < rounds; r++) {
  for (const m of modes) {
    loads.push(loadavg());
    const t0 = performance.now();
    const got = await m.run();
    (times[m.name] ??= []).push((performance.now() - t0) / 1000);
    outputs[m.name] = JSON.stringify(got);
  }
}
loads.push(loadavg());
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const result = {
  what: 'decode N cipher prompts with the shipped model, KV cache vs whole-sequence recompute',
  checkpoint: file, backend, prompts: n, maxNewTokens, rounds, date: new Date().toISOString(),
  modes: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, { minS: Math.min(...v), medianS: med(v), roundsS: v }])),
  speedup: {
    greedy: med(times['greedy, uncached']) / med(times['greedy, cached']),
    beam5: med(times['beam-5, uncached']) / med(times['beam-5, cached']),
  },
  sameTokens: { greedy: outputs['greedy, cached'] === outputs['greedy, uncached'], beam5: outputs['beam-5, cached'] === outputs['beam-5, uncached'] },
  loadavg: loads,
};
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(result, null, 2));
console.log(JSON.stringify({ modes: result.modes, speedup: result.speedup, sameTokens: result.sameTokens }, null, 1));
model.dispose();
