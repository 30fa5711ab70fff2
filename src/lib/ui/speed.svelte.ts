// Training speed measured on this device, per backend and preset: from a short probe (a few training steps in a
// fresh worker) or from a run the user trained here. ETAs and preset descriptions come from these numbers, never
// from a constant. Kept in localStorage under the adapter's name, so another GPU (or none) measures again.
import { labState } from './lab.svelte';
import { probeSpeedInFreshWorker } from '../worker/client';
import type { PresetName } from '../models/gpt2/config';
import type { TaskName } from '../tasks/types';

export interface Measured {
  stepsPerSec: number;
  batchSize: number;
  gradAccum: number;
  /** 'probe': a few steps timed after a warm-up step; 'run': a training run on this device (evaluations included). */
  source: 'probe' | 'run';
  /** Seconds of the probe's first step (shader compiles, allocations); probes only. */
  warmupSec?: number;
  at: string;
}

const KEY = 'memgen.speed.v1';

function load(): Record<string, Measured> {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? '{}') as Record<string, Measured>;
  } catch {
    return {};
  }
}

export const speed = $state({ table: load(), probing: '' as string, error: '' as string });

/** The adapter (or "cpu" for wasm) this device's numbers belong to. */
function deviceKey(backend: string): string {
  const a = labState.device?.adapter;
  const cores = typeof navigator !== 'undefined' ? navigator.hardwareConcurrency : 0;
  return backend === 'webgpu' ? `webgpu:${a?.vendor}/${a?.architecture}/${a?.description}` : `wasm:${cores}cores`;
}

function key(backend: string, task: string, preset: string): string {
  return `${deviceKey(backend)}|${task}|${preset}`;
}

export function measuredSpeed(backend: string | null, task: string, preset: string): Measured | null {
  if (!backend) return null;
  return speed.table[key(backend, task, preset)] ?? null;
}

export function rememberSpeed(backend: string, task: string, preset: string, m: Omit<Measured, 'at'>): void {
  if (!(m.stepsPerSec > 0) || !Number.isFinite(m.stepsPerSec)) return;
  speed.table = { ...speed.table, [key(backend, task, preset)]: { ...m, at: new Date().toISOString() } };
  try {
    localStorage.setItem(KEY, JSON.stringify(speed.table));
  } catch {
    /* a full or blocked storage only loses the cache */
  }
}

/** Probes `preset` on each backend in turn (each in a fresh worker), remembering the speeds. */
export async function probeSpeeds(task: TaskName | 'mixed', preset: PresetName, backends: Array<'webgpu' | 'wasm'>, steps = 2): Promise<void> {
  if (speed.probing) return;
  speed.error = '';
  try {
    for (const b of backends) {
      speed.probing = b;
      const r = await probeSpeedInFreshWorker(b, task, preset, steps);
      rememberSpeed(b, task, preset, { stepsPerSec: r.stepsPerSec, batchSize: r.batchSize, gradAccum: r.gradAccum, source: 'probe', warmupSec: r.warmupSec });
    }
  } catch (e) {
    speed.error = `The speed probe failed: ${(e as Error).message}`;
  } finally {
    speed.probing = '';
  }
}

export function formatRate(r: number): string {
  return r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toPrecision(2);
}

/** "about 12 min" for `steps` at the measured rate, or null when nothing was measured for this backend/preset. */
export function formatDuration(sec: number): string {
  if (sec < 90) return `${Math.max(1, Math.round(sec))} s`;
  if (sec < 5400) return `${Math.round(sec / 60)} min`;
  return `${(sec / 3600).toFixed(1)} h`;
}
