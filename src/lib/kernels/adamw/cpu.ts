// CPU twin of LabClipAdamW for the 'cpu' and 'wasm' backends (it runs reference.ts). No WGSL version yet: on
// webgpu the op-by-op path of train/adamw.ts runs instead.
import type { HostKernel } from '../common';
import { clipAdamW, type AdamWHyper, type ParamOut, type ParamSlot } from './reference';

export const adamWHost: HostKernel = {
  outputs: (ins, attrs) => {
    const n = (attrs.decay as number[]).length;
    const out: Array<{ shape: number[]; dtype: 'float32' }> = [];
    for (let j = 0; j < n; j++) for (let k = 0; k < 3; k++) out.push({ shape: ins[`p${j}`].shape, dtype: 'float32' });
    out.push({ shape: [], dtype: 'float32' });
    return out;
  },
  compute: (ins, outs, attrs) => {
    const decay = attrs.decay as number[];
    const slots: ParamSlot[] = decay.map((d, j) => ({ p: ins[`p${j}`].values, g: ins[`g${j}`].values, m: ins[`m${j}`].values, v: ins[`v${j}`].values, decay: d === 1 }));
    const o: ParamOut[] = decay.map((_, j) => ({ p: outs[3 * j], m: outs[3 * j + 1], v: outs[3 * j + 2] }));
    outs[outs.length - 1][0] = clipAdamW(slots, o, attrs as unknown as AdamWHyper);
  },
};
