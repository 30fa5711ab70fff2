// Inference-time intervention (METHOD.md section 5, after Li et al.'s ITI): after each selected layer, at the
// last position, add alpha * shift to the selected neurons, on every forward call (prefill, every generated
// token, every beam). Toward mem: shift = +NMD; toward gen: shift = -NMD. The decoders here recompute the whole
// sequence, so "the last position of every forward call" is every position from the last prompt token on.
import * as tf from '@tensorflow/tfjs';
import type { HookFn } from '../models/types';
import type { RankedNeuron } from '../neurons/stats';
import { Rng, deriveSeed } from '../util/rng';

export type Direction = 'toMem' | 'toGen';

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

/**
 * Hooks that add alpha * shift at positions promptLength-1 .. seqLength-1 of each row (all rows when the
 * forward gives no lengths: then only the last position). Nothing is added where alpha = 0.
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
    hooks[name] = (act, ctx) => {
      const [B, T] = act.shape;
      const mask = new Float32Array(B * T);
      for (let b = 0; b < B; b++) {
        const from = ctx.promptLengths ? ctx.promptLengths[b] - 1 : T - 1;
        const to = ctx.seqLengths ? ctx.seqLengths[b] : T;
        for (let t = Math.max(0, from); t < Math.min(T, to); t++) mask[b * T + t] = 1;
      }
      // (B, T, 1) * (D) -> (B, T, D)
      return tf.add(act, tf.mul(tf.tensor3d(mask, [B, T, 1]), tf.tensor1d(delta)));
    };
  }
  return hooks;
}
