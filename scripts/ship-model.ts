// npx tsx scripts/ship-model.ts <checkpoint.mgck> [--title "..."]
// Copies a trained checkpoint into static-models/ (shipped with the lab, loadable in one click) and records its
// config, seed, training log and validation mem/gen/other in static-models/index.json and a JSON sidecar.
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { decodeCheckpoint } from '../src/lib/train/checkpoint';
import { parseArgs } from './lab-driver';

const file = process.argv[2];
if (!file || !existsSync(file)) throw new Error('usage: npx tsx scripts/ship-model.ts <checkpoint.mgck> [--title "..."]');
const args = parseArgs(process.argv.slice(3));
const buf = readFileSync(file);
const ck = decodeCheckpoint(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
const h = ck.header;
const name = `${h.task}-${h.preset}-s${h.seed}.mgck`;
const dir = 'static-models';
copyFileSync(file, join(dir, name));
const meta = {
  file: name,
  task: h.task,
  preset: h.preset,
  seed: h.seed,
  step: h.step,
  title: args.title ?? `GPT-2 ${h.preset} on ${h.task === 'mixed' ? `${((h.train.tasks as string[] | undefined) ?? []).join(' + ')} mixed` : h.task} (seed ${h.seed}, step ${h.step})`,
  eval: h.eval,
  config: h.config,
  train: h.train,
  bytes: buf.byteLength,
};
writeFileSync(join(dir, name.replace(/\.mgck$/, '.json')), JSON.stringify({ ...meta, log: h.log }, null, 1));
const indexPath = join(dir, 'index.json');
const index = existsSync(indexPath) ? JSON.parse(readFileSync(indexPath, 'utf8')) : { models: [] };
index.models = [...index.models.filter((m: { file: string }) => m.file !== name), meta].sort((a: { task: string }, b: { task: string }) => a.task.localeCompare(b.task));
writeFileSync(indexPath, JSON.stringify(index, null, 1));
console.log(`shipped ${basename(file)} as ${join(dir, name)}: ${JSON.stringify(h.eval)}`);
