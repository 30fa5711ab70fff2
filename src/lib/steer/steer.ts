// Inference-time intervention (METHOD.md section 5, after Li et al.'s ITI): after each selected layer, at the
// last position, add alpha * shift to the selected neurons, on every forward call (prefill, every generated
// token, every beam). Toward mem: shift = +NMD; toward gen: shift = -NMD. The decoders here recompute the whole
// sequence, so "the last position of every forward call" is every position from the last prompt token on.
import * as tf from '@tensorflow/tfjs';
import type { HookFn } from '../models/types';
import type { RankedNeuron } from '../neurons/stats';
import { Rng, deriveSeed } from '../util/rng';

export type Direction = 'toMem' | 'toGen';

/**
 * The controls every targeted shift is compared with (METHOD.md section 5):
 *   paper     - the authors' random control: random positions of all hooks, uniform shifts in +-max|NMD|;
 *   matched   - random informative positions of the same hooks, as many per hook as the targeted set has there,
 *               each given one of the targeted set's own shift values on that hook (a random assignment):
 *               same size, same layer profile, other neurons;
 *   direction - the mean-difference (DiffMean) direction of each targeted hook's full width, scaled to the L2
 *               norm of the targeted shift on that hook: is a set of neurons better than a direction?
 */
export type ControlKind = 'paper' | 'matched' | 'direction';
export const CONTROL_KINDS: readonly ControlKind[] = ['paper', 'matched', 'direction'];

/** A neuron location for the controls: its width and, for matched and direction, its NMD and constant positions. */
export interface ControlHook {
  name: string;
  dim: number;
  /** NMD of every position of the hook (mem mean minus gen mean); needed by the direction control. */
  nmd?: ArrayLike<number>;
  /** 1 where the position is constant over the recorded rows; matched and direction leave those out. */
  degenerate?: ArrayLike<number>;
}

/** One neuron to shift: where, and by how much before alpha. */
export interface NeuronShift {
  hook: string;
  index: number;
  shift: number;
}

/** Targeted shifts: +NMD toward mem, -NMD toward gen. */
export function targetedShifts(top: RankedNeuron[], direction: Direction): NeuronShift[] {
  const sign = direction === 'toMem' ? 1 : -1;
  return top.map((n) => ({ hook: n.hook, index: n.index, shift: sign * n.nmd }));
}

/**
 * The random control: as many random (hook, neuron) positions as the targeted set, drawn without repeats from
 * all positions, each shifted by a value uniform in [-M, M] with M = max |NMD| of the targeted set.
 */
export function randomControl(top: RankedNeuron[], hooks: { name: string; dim: number }[], seed: number): NeuronShift[] {
  const M = top.reduce((m, n) => Math.max(m, Math.abs(n.nmd)), 0);
  const total = hooks.reduce((a, h) => a + h.dim, 0);
  const count = Math.min(top.length, total);
  const g = new Rng(deriveSeed(seed, 'random-control'));
  const r = () => g.next();
  const picked = new Set<number>();
  while (picked.size < count) picked.add(Math.floor(r() * total));
  const out: NeuronShift[] = [];
  for (const flat of picked) {
    let rest = flat;
    let h = 0;
    while (rest >= hooks[h].dim) rest -= hooks[h++].dim;
    out.push({ hook: hooks[h].name, index: rest, shift: (2 * r() - 1) * M });
  }
  return out;
}

function byHook<T extends { hook: string }>(xs: T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) m.set(x.hook, [...(m.get(x.hook) ?? []), x]);
  return m;
}

function hookOf(hooks: ControlHook[], name: string, what: string): ControlHook {
  const h = hooks.find((x) => x.name === name);
  if (!h) throw new Error(`${what}: the targeted set uses ${name}, which is not among the hooks given (${hooks.map((x) => x.name).join(', ')}).`);
  return h;
}

/**
 * The matched control: per hook of the targeted set, as many random informative positions (not constant, not in
 * the targeted set while others remain) as the set has there, each given one of the set's own shift values on
 * that hook in a random order. So the intervention has the targeted one's size and layer profile.
 */
export function matchedControl(top: RankedNeuron[], hooks: ControlHook[], direction: Direction, seed: number): NeuronShift[] {
  const g = new Rng(deriveSeed(seed, 'matched-control'));
  const out: NeuronShift[] = [];
  for (const [name, list] of byHook(targetedShifts(top, direction))) {
    const h = hookOf(hooks, name, 'matchedControl');
    const taken = new Set(list.map((x) => x.index));
    const live: number[] = [];
    const liveTaken: number[] = [];
    for (let j = 0; j < h.dim; j++) if (!h.degenerate?.[j]) (taken.has(j) ? liveTaken : live).push(j);
    // the targeted positions only when the hook has too few others (a top set that fills most of a hook)
    const pool = live.length >= list.length ? live : [...live, ...g.shuffle(liveTaken)];
    if (pool.length < list.length) throw new Error(`matchedControl: ${name} has ${pool.length} informative positions, fewer than the ${list.length} targeted there.`);
    const picked = g.shuffle(pool.slice()).slice(0, list.length);
    const values = g.shuffle(list.map((x) => x.shift));
    picked.forEach((index, i) => out.push({ hook: name, index, shift: values[i] }));
  }
  return out;
}

/**
 * The direction control: on every hook of the targeted set, the whole hook's mean difference (sign x NMD over
 * its informative positions), scaled to the L2 norm of the targeted shift on that hook.
 */
export function directionControl(top: RankedNeuron[], hooks: ControlHook[], direction: Direction): NeuronShift[] {
  const sign = direction === 'toMem' ? 1 : -1;
  const out: NeuronShift[] = [];
  for (const [name, list] of byHook(targetedShifts(top, direction))) {
    const h = hookOf(hooks, name, 'directionControl');
    if (!h.nmd || h.nmd.length !== h.dim) throw new Error(`directionControl: no NMD for all ${h.dim} positions of ${name}; pass the analysis's NMD with the hooks.`);
    const target = Math.hypot(...list.map((x) => x.shift));
    let norm = 0;
    for (let j = 0; j < h.dim; j++) if (!h.degenerate?.[j]) norm += h.nmd[j] * h.nmd[j];
    norm = Math.sqrt(norm);
    if (!(norm > 0)) continue;
    for (let j = 0; j < h.dim; j++) if (!h.degenerate?.[j] && h.nmd[j] !== 0) out.push({ hook: name, index: j, shift: (sign * h.nmd[j] * target) / norm });
  }
  return out;
}

/** The shifts of one control run (direction is deterministic: the seed is ignored). */
export function controlShifts(kind: ControlKind, top: RankedNeuron[], hooks: ControlHook[], direction: Direction, seed: number): NeuronShift[] {
  if (kind === 'paper') return randomControl(top, hooks, seed);
  if (kind === 'matched') return matchedControl(top, hooks, direction, seed);
  return directionControl(top, hooks, direction);
}

/**
 * Hooks that add alpha * shift to the selected neurons. Where the edit lands is the run's business: decoders pass
 * editFrom = promptLength - 1 (models/generate.ts), so it lands from the last prompt token on; a plain
 * runWithHooks edits every position. Nothing is added where alpha = 0 (no hooks at all).
 */
export function steeringHooks(shifts: NeuronShift[], alpha: number, dims: Record<string, number>): Record<string, HookFn> {
  const byHook = new Map<string, NeuronShift[]>();
  for (const s of shifts) byHook.set(s.hook, [...(byHook.get(s.hook) ?? []), s]);
  const hooks: Record<string, HookFn> = {};
  if (alpha === 0) return hooks;
  for (const [name, list] of byHook) {
    const D = dims[name];
    const delta = new Float32Array(D);
    for (const s of list) delta[s.index] += alpha * s.shift;
    hooks[name] = (act) => tf.add(act, tf.tensor1d(delta)); // (B, T, D) + (D)
  }
  return hooks;
}
