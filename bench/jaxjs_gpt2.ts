// jax-js contender for `npm run bench`: the same GPT-2 training step as the lab and bench/torch_gpt2_baseline.py
// (pre-LN blocks, causal attention, tanh GELU, tied head, cross-entropy, clip to norm 1, AdamW), written in
// jax-js (@jax-js/jax, a dev dependency; never shipped) and compiled as one jit'ed step. It runs in the bench's
// page beside the lab so the rounds alternate; throughput counts the lab's real tokens per step, as PyTorch's does.
// Differences from the lab, none of which changes the work per step: weight decay on every parameter (as the
// PyTorch baseline), random token batches of the lab's mean length (B x T), fixed learning rate.
import { init, defaultDevice, jit, valueAndGrad, numpy as np, nn, tree, blockUntilReady, type Array as JArray } from '@jax-js/jax';
import { mulberry32, normalSampler } from '../src/lib/util/rng';

type Block = { ln1g: JArray; ln1b: JArray; wqkv: JArray; bqkv: JArray; wo: JArray; bo: JArray; ln2g: JArray; ln2b: JArray; wfc: JArray; bfc: JArray; wpr: JArray; bpr: JArray };
type Params = { wte: JArray; wpe: JArray; blocks: Block[]; lnfg: JArray; lnfb: JArray };
export interface JaxShape { layers: number; width: number; heads: number; vocab: number; ctx: number; batch: number }

function layerNorm(x: JArray, g: JArray, b: JArray): JArray {
  const mean = np.mean(x.ref, -1, { keepdims: true });
  const xc = x.sub(mean);
  const v = np.mean(np.square(xc.ref), -1, { keepdims: true });
  return xc.div(np.sqrt(v.add(1e-5))).mul(g).add(b);
}

function lossFn(p: Params, ids: JArray, tgt: JArray, s: JaxShape): JArray {
  const B = s.batch, T = s.ctx, C = s.width, NH = s.heads, HS = C / NH;
  let x = np.take(p.wte.ref, ids, 0).add(np.take(p.wpe, np.arange(0, T, 1, { dtype: np.int32 }), 0));
  for (const b of p.blocks) {
    const qkv = np.matmul(layerNorm(x.ref, b.ln1g, b.ln1b), b.wqkv).add(b.bqkv);
    const [q, k, v] = np.split(qkv, 3, -1).map((t) => t.reshape([B, T, NH, HS]));
    const y = nn.dotProductAttention(q, k, v, { isCausal: true }).reshape([B, T, C]);
    x = x.add(np.matmul(y, b.wo).add(b.bo));
    const h = nn.gelu(np.matmul(layerNorm(x.ref, b.ln2g, b.ln2b), b.wfc).add(b.bfc), { approximate: true });
    x = x.add(np.matmul(h, b.wpr).add(b.bpr));
  }
  const logits = np.matmul(layerNorm(x, p.lnfg, p.lnfb), np.transpose(p.wte));
  return nn.logSoftmax(logits, -1).mul(nn.oneHot(tgt, s.vocab)).sum().mul(-1 / (B * T));
}

function initParams(s: JaxShape, seed: number): Params {
  const normal = normalSampler(mulberry32(seed));
  const C = s.width;
  const n = (shape: number[], sd: number) => np.array(Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => sd * normal())).reshape(shape);
  const z = (shape: number[]) => np.zeros(shape);
  const o = (shape: number[]) => np.ones(shape);
  const blocks = Array.from({ length: s.layers }, () => ({
    ln1g: o([C]), ln1b: z([C]), wqkv: n([C, 3 * C], 0.02), bqkv: z([3 * C]), wo: n([C, C], 0.02), bo: z([C]),
    ln2g: o([C]), ln2b: z([C]), wfc: n([C, 4 * C], 0.02), bfc: z([4 * C]), wpr: n([4 * C, C], 0.02), bpr: z([C]),
  }));
  return { wte: n([s.vocab, C], 0.02), wpe: n([s.ctx, C], 0.01), blocks, lnfg: o([C]), lnfb: z([C]) };
}

/** Builds the model and its jit'ed step on jax-js' wasm device; returns a function running `steps` steps. */
export async function makeJaxStep(s: JaxShape, device: 'wasm' | 'webgpu' = 'wasm', sameBatch = false): Promise<{ run(steps: number): Promise<number>; dispose(): void; version: string }> {
  await init(device);
  defaultDevice(device);
  let params = initParams(s, 0);
  let m = tree.map((a: JArray) => np.zerosLike(a.ref), params) as Params;
  let v = tree.map((a: JArray) => np.zerosLike(a.ref), params) as Params;
  const lr = 3e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
  const step = jit((p: Params, mm: Params, vv: Params, ids: JArray, tgt: JArray, bc1: JArray, bc2: JArray) => {
    const [loss, g] = valueAndGrad((pp: Params) => lossFn(pp, ids, tgt, s))(tree.ref(p));
    const norm = np.sqrt((tree.leaves(tree.ref(g)) as JArray[]).map((a) => np.square(a).sum()).reduce((a, b) => a.add(b)));
    const scale = np.minimum(np.divide(1, norm.add(1e-6)), 1);
    const gl = tree.leaves(g) as JArray[], pl = tree.leaves(p) as JArray[], ml = tree.leaves(mm) as JArray[], vl = tree.leaves(vv) as JArray[];
    const np_: JArray[] = [], nm: JArray[] = [], nv: JArray[] = [];
    for (let i = 0; i < gl.length; i++) {
      const gi = gl[i].mul(scale.ref);
      const mi = ml[i].mul(b1).add(gi.ref.mul(1 - b1));
      const vi = vl[i].mul(b2).add(np.square(gi).mul(1 - b2));
      const upd = mi.ref.div(bc1.ref).div(np.sqrt(vi.ref.div(bc2.ref)).add(eps));
      np_.push(pl[i].mul(1 - lr * wd).sub(upd.mul(lr)));
      nm.push(mi); nv.push(vi);
    }
    scale.dispose(); bc1.dispose(); bc2.dispose();
    const def = tree.structure(p as never);
    return [tree.unflatten(def, np_), tree.unflatten(def, nm), tree.unflatten(def, nv), loss] as never;
  });
  let t = 0;
  let rand = mulberry32(1);
  const run = async (steps: number) => {
    let loss: JArray | null = null;
    for (let i = 0; i < steps; i++) {
      t++;
      if (sameBatch) rand = mulberry32(1); // overfitting one batch: the sanity check that the step learns
      // a random batch of B sequences of T + 1 tokens: inputs are the first T, targets the last T
      const seq = Int32Array.from({ length: s.batch * (s.ctx + 1) }, () => Math.floor(rand() * s.vocab));
      const cut = (from: number) => np.array(Int32Array.from({ length: s.batch * s.ctx }, (_, j) => seq[Math.floor(j / s.ctx) * (s.ctx + 1) + (j % s.ctx) + from]), { dtype: np.int32 }).reshape([s.batch, s.ctx]);
      const inp = cut(0), tgt = cut(1);
      loss?.dispose();
      [params, m, v, loss] = step(params, m, v, inp, tgt, np.array(1 - b1 ** t), np.array(1 - b2 ** t)) as unknown as [Params, Params, Params, JArray];
    }
    await blockUntilReady([params, m, v]);
    const l = (await loss!.data())[0];
    return l;
  };
  return { run, dispose: () => { tree.dispose([params, m, v]); step.dispose(); }, version: '0.1.25' };
}
