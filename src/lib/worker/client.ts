// Page side of the worker: one shared Comlink proxy. Pages call methods; they never do tensor math.
import * as Comlink from 'comlink';
import type { LabApi } from './api';
import type { Progress } from './jobs';
import type { SpeedProbe } from './training';
import type { TaskName } from '../tasks/types';
import type { PresetName } from '../models/gpt2/config';

export type Lab = Comlink.Remote<LabApi>;

let lab: Lab | null = null;
let worker: Worker | null = null;

export function getLab(): Lab {
  if (!lab) {
    worker = new Worker(new URL('./gpu.worker.ts', import.meta.url), { type: 'module', name: 'memgen-gpu' });
    lab = Comlink.wrap<LabApi>(worker);
  }
  return lab;
}

/**
 * Measures `preset`'s training speed on `backend` in a fresh worker of its own (so the lab's worker keeps its
 * backend and its models), then closes that worker.
 */
export async function probeSpeedInFreshWorker(backend: 'webgpu' | 'wasm', task: TaskName | 'mixed', preset: PresetName, steps = 2): Promise<SpeedProbe> {
  const w = new Worker(new URL('./gpu.worker.ts', import.meta.url), { type: 'module', name: `memgen-probe-${backend}` });
  try {
    const api = Comlink.wrap<LabApi>(w);
    await api.init(backend);
    return await api.training.probeSpeed(task, preset, steps);
  } finally {
    w.terminate();
  }
}

/** Wraps a progress callback so the worker can call it across the message channel. */
export function progressProxy(fn: (p: Progress) => void): (p: Progress) => void {
  return Comlink.proxy(fn);
}

export { Comlink };
