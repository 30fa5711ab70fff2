// Page side of the worker: one shared Comlink proxy. Pages call methods; they never do tensor math.
import * as Comlink from 'comlink';
import type { LabApi } from './api';
import type { Progress } from './jobs';

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

/** Wraps a progress callback so the worker can call it across the message channel. */
export function progressProxy(fn: (p: Progress) => void): (p: Progress) => void {
  return Comlink.proxy(fn);
}

export { Comlink };
