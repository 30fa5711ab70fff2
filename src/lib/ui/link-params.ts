// Link parameters: what the lab understands in its URL query, each with a validator. Pure (no runes), so it is
// unit-tested; url.svelte.ts keeps the reactive state. Training settings in a link (task, preset, seed) go
// through the same validator as the Train page and imported files (train/settings.ts).
import { trainFieldProblem } from '../train/settings';

export const PAGES = ['home', 'tasks', 'train', 'neurons', 'steer', 'llama', 'runs', 'report', 'device', 'neuron'] as const;
export type PageName = (typeof PAGES)[number];

const setting = (key: string, parse: (v: string) => unknown) => (v: string) => trainFieldProblem(key, parse(v)) === null;

/** Every parameter the lab understands, with a validator. */
export const KNOWN: Record<string, (v: string) => boolean> = {
  page: (v) => (PAGES as readonly string[]).includes(v),
  task: setting('task', String),
  /** The task analyzed on a mixed model. */
  part: (v) => ['arithmetic', 'cipher', 'color'].includes(v),
  seed: (v) => /^\d{1,10}$/.test(v) && trainFieldProblem('seed', Number(v)) === null,
  preset: setting('preset', String),
  backend: (v) => ['webgpu', 'wasm'].includes(v),
  checkpoint: (v) => /^[\w.:-]{1,128}$/.test(v),
  split: (v) => ['train', 'val', 'pairs'].includes(v),
  run: (v) => /^[\w.:-]{1,128}$/.test(v),
  hook: (v) => /^[\w.]{1,64}$/.test(v),
  alpha: (v) => Number.isFinite(Number(v)) && Math.abs(Number(v)) <= 100,
  top: (v) => Number.isFinite(Number(v)) && Number(v) > 0 && Number(v) <= 1,
  pairs: (v) => /^\d{2,6}$/.test(v) && Number(v) >= 10,
  neuron: (v) => /^\d{1,7}$/.test(v),
  /** Home: teacher mode (the workshop plan and the printable handout). */
  teacher: (v) => v === '1',
  /** Steer: the validation prompt tried. */
  item: (v) => /^\d{1,6}$/.test(v),
  dir: (v) => ['toGen', 'toMem'].includes(v),
  // Train settings, so a copied link reproduces the run it describes (the Train page's validator)
  steps: setting('steps', Number),
  batch: setting('batchSize', Number),
  accum: setting('gradAccum', Number),
  lr: setting('lr', Number),
  warmup: setting('warmup', Number),
  every: setting('evalEvery', Number),
  limit: setting('evalLimit', Number),
  decode: setting('evalDecode', String),
};

/** At most this many characters of a key or value are echoed back in a warning (a 2 MB key was rendered whole). */
const ECHO = 40;
const clip = (s: string) => (s.length > ECHO ? `${s.slice(0, ECHO)}… (${s.length} characters)` : s);

/** The valid parameters of a query string, and a warning for each one ignored. */
export function readLinkParams(search: string): { params: Record<string, string>; warnings: string[] } {
  const params: Record<string, string> = {};
  const warnings: string[] = [];
  for (const [k, v] of new URLSearchParams(search)) {
    const check = Object.hasOwn(KNOWN, k) ? KNOWN[k] : undefined;
    if (!check) warnings.push(`Unknown link parameter "${clip(k)}" was ignored.`);
    else if (!check(v)) warnings.push(`Link parameter ${k}="${clip(v)}" is not valid and was ignored.`);
    else params[k] = v;
  }
  return { params, warnings };
}
