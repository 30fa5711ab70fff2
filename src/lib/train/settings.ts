// Training settings: the ONE validator, with upper bounds, for every place a setting comes from: the Train page
// (through the worker's start), a checkpoint file (import, resume), a runs file (import) and link parameters.
// A new setting added here is validated everywhere at once. Every refusal names the field, what it holds, the
// allowed range and what to do; nothing is clamped silently.
// No tfjs here: the page's link parsing imports this module.
import type { TrainConfig } from './trainer';
import { PRESETS } from '../models/gpt2/config';

export class TrainSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainSettingsError';
  }
}

const TASKS = ['arithmetic', 'cipher', 'color'] as const;

type Rule =
  | { kind: 'int'; min: number; max: number }
  | { kind: 'num'; min: number; max: number; minOpen?: boolean; maxOpen?: boolean }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'bool' }
  | { kind: 'tasks' };

/**
 * Bounds of every setting. Upper bounds keep a hostile or mistyped file from sizing tensors the tab cannot hold
 * (batchSize 3e7 crashed the tab on resume) or from dividing by zero (evalEvery 0).
 */
export const TRAIN_RULES: Record<keyof TrainConfig, Rule> = {
  task: { kind: 'enum', values: [...TASKS, 'mixed'] },
  tasks: { kind: 'tasks' },
  answerOnlyTasks: { kind: 'tasks' },
  preset: { kind: 'enum', values: Object.keys(PRESETS) },
  seed: { kind: 'int', min: 0, max: 2 ** 31 - 1 },
  steps: { kind: 'int', min: 1, max: 1_000_000 },
  batchSize: { kind: 'int', min: 1, max: 1024 },
  gradAccum: { kind: 'int', min: 1, max: 65536 }, // costs time only (memory is per micro-batch); OOM advice doubles it
  lr: { kind: 'num', min: 0, max: 1, minOpen: true, maxOpen: true },
  warmup: { kind: 'int', min: 0, max: 1_000_000 },
  minLrRatio: { kind: 'num', min: 0, max: 1 },
  weightDecay: { kind: 'num', min: 0, max: 1 },
  beta1: { kind: 'num', min: 0, max: 1, maxOpen: true },
  beta2: { kind: 'num', min: 0, max: 1, maxOpen: true },
  gradClip: { kind: 'num', min: 0, max: 1e6, minOpen: true },
  evalEvery: { kind: 'int', min: 1, max: 1_000_000 },
  evalDecode: { kind: 'enum', values: ['greedy', 'beam'] },
  beams: { kind: 'int', min: 1, max: 64 },
  evalLimit: { kind: 'int', min: 0, max: 1_000_000 },
  answerOnlyLoss: { kind: 'bool' },
};

const REQUIRED = Object.keys(TRAIN_RULES).filter((k) => k !== 'tasks' && k !== 'answerOnlyTasks') as (keyof TrainConfig)[];

const show = (v: unknown): string => {
  const s = typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? `a list of ${v.length}` : String(v);
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
};

/** What is wrong with one setting's value, or null when it is fine ("batchSize is 3e7: it must be ..."). */
export function trainFieldProblem(key: string, v: unknown): string | null {
  const r = (TRAIN_RULES as Record<string, Rule | undefined>)[key];
  if (!r) return null; // not a training setting (the record may carry others, e.g. "imported")
  switch (r.kind) {
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < r.min || v > r.max)
        return `${key} is ${show(v)}: it must be a whole number from ${r.min} to ${r.max}`;
      return null;
    case 'num': {
      const lowOk = typeof v === 'number' && (r.minOpen ? v > r.min : v >= r.min);
      const highOk = typeof v === 'number' && (r.maxOpen ? v < r.max : v <= r.max);
      if (!Number.isFinite(v) || !lowOk || !highOk)
        return `${key} is ${show(v)}: it must be a number ${r.minOpen ? 'above' : 'from'} ${r.min} ${r.maxOpen ? 'and below' : 'to'} ${r.max}`;
      return null;
    }
    case 'enum':
      if (typeof v !== 'string' || !r.values.includes(v)) return `${key} is ${show(v)}: it must be one of ${r.values.join(', ')}`;
      return null;
    case 'bool':
      if (typeof v !== 'boolean') return `${key} is ${show(v)}: it must be true or false`;
      return null;
    case 'tasks':
      if (!Array.isArray(v) || v.length > TASKS.length || v.some((t) => !(TASKS as readonly unknown[]).includes(t)) || new Set(v).size !== v.length)
        return `${key} is ${show(v)}: it must list different tasks from ${TASKS.join(', ')}`;
      return null;
  }
}

/** Where settings came from and what the user should do about a bad one. */
export interface SettingsSource {
  /** e.g. "in the checkpoint file" */
  where: string;
  /** e.g. "Re-export it from the lab, or start a new run." */
  fix: string;
}

export const FROM_PAGE: SettingsSource = { where: 'on the Train page', fix: 'Change the field named and start again.' };

/**
 * Checks a settings object; returns it typed. With `partial`, missing settings are allowed (the caller fills
 * them with defaults, which are valid); otherwise every setting must be present.
 */
export function checkTrainSettings(raw: unknown, src: SettingsSource = FROM_PAGE, opts: { partial?: boolean } = {}): TrainConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new TrainSettingsError(`The training settings ${src.where} are not an object. ${src.fix}`);
  const o = raw as Record<string, unknown>;
  const bad: string[] = [];
  for (const k of Object.keys(TRAIN_RULES)) {
    if (!Object.hasOwn(o, k) || o[k] === undefined) {
      if (!opts.partial && REQUIRED.includes(k as keyof TrainConfig)) bad.push(`${k} is missing`);
      continue;
    }
    const p = trainFieldProblem(k, o[k]);
    if (p) bad.push(p);
  }
  if (o.task === 'mixed' && Array.isArray(o.tasks) && o.tasks.length < 2) bad.push(`tasks is ${show(o.tasks)}: a mixed task needs at least two different tasks`);
  if (bad.length) throw new TrainSettingsError(`Invalid training settings ${src.where}: ${bad.join('; ')}. ${src.fix}`);
  return o as unknown as TrainConfig;
}
