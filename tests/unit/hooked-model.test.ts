// The one model interface (models/types.ts): GPT-2 and LLaMA expose runWithHooks / runWithCache with the same
// semantics, checked by one function run on both. A planted model that dispatches hooks by hand (edits land
// everywhere, the cache reads before the edit) fails the same check, so it can tell a model that bypasses the
// shared dispatcher. Callers outside src/lib/models never hand hooks to forward themselves.
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { GPT2, initWeights, getOps, type GPT2Config } from '../../src/lib/models/gpt2';
import { LlamaModel } from '../../src/lib/models/llama/model';
import { parseGGUF } from '../../src/lib/gguf/reader';
import { registerQMatMulKernels } from '../../src/lib/kernels/qmatmul';
import { batchTensor, disposeCache, gatherLast, padRight, runWithCache, runWithHooks } from '../../src/lib/models/hooks';
import type { ForwardOptions, HookContext, HookedModel, TextTokenizer } from '../../src/lib/models/types';

const tok: TextTokenizer = { encode: (s) => [...s].map((c) => (c.charCodeAt(0) % 20) + 1), decode: (ids) => ids.map((i) => String.fromCharCode(i + 96)).join(''), eosId: 0, bosId: 21 };
const cfg: GPT2Config = { nLayer: 2, nHead: 2, dModel: 16, nCtx: 16, vocabSize: 22, eps: 1e-5 };

beforeAll(async () => {
  registerQMatMulKernels();
  await tf.setBackend('cpu');
});

const gpt2 = () => new GPT2(cfg, initWeights(cfg, 3), tok, getOps('fused'));
const llama = async () => {
  const bytes = new Uint8Array(readFileSync('tests/fixtures/tiny-llama-f32.gguf'));
  return LlamaModel.fromGGUF(bytes, parseGGUF(bytes));
};

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};

/** The contract of HookedModel's two run methods; returns what it found wrong (empty when the model keeps it). */
function checkRunSemantics(m: HookedModel): string[] {
  const bad: string[] = [];
  const rows = [[3, 4, 5, 6, 7], [8, 9, 10]]; // the second row is right-padded
  const batch = padRight(rows, 0);
  const { B, T, seqLengths } = batch;
  const C = m.dims.dModel, L = m.dims.nLayer;
  const resid = `blocks.${L - 1}.hook_resid_post`, pre = `blocks.${L - 1}.hook_resid_pre`, mid = `blocks.${L - 1}.hook_resid_mid`;
  const before = tf.memory().numTensors;
  const ids = batchTensor(batch);

  // runWithCache with a list: exactly those names, (B, T, C), and the logits of a plain forward
  const plain = m.forward(ids);
  const c = m.runWithCache(ids, [resid, 'blocks.0.hook_resid_post', 'blocks.1.hook_resid_pre']);
  if (Object.keys(c.cache).sort().join() !== [resid, 'blocks.0.hook_resid_post', 'blocks.1.hook_resid_pre'].sort().join()) bad.push(`cache names ${Object.keys(c.cache)}`);
  if (c.cache[resid]?.shape.join() !== [B, T, C].join()) bad.push(`cache shape ${c.cache[resid]?.shape}`);
  if (maxDiff(c.logits.dataSync(), plain.dataSync()) !== 0) bad.push('runWithCache logits differ from forward');
  // block 0's output is block 1's input: equal values, separate handles (disposing one keeps the other)
  const out0 = c.cache['blocks.0.hook_resid_post'].dataSync().slice();
  c.cache['blocks.0.hook_resid_post'].dispose();
  if (c.cache['blocks.1.hook_resid_pre'].isDisposed || maxDiff(c.cache['blocks.1.hook_resid_pre'].dataSync(), out0) !== 0) bad.push('cached tensors share a handle');

  // the filter form picks the same names as the list form, in forward order
  const f = m.runWithCache(ids, (n) => n.endsWith('hook_resid_post'));
  const want = m.hookNames().filter((n) => n.endsWith('hook_resid_post'));
  if (Object.keys(f.cache).join() !== want.join()) bad.push(`filter form gave ${Object.keys(f.cache)}`);
  if (maxDiff(f.cache[resid].dataSync(), c.cache[resid].dataSync()) !== 0) bad.push('filter and list caches differ');

  // pos 'last' reads each row's last real position; hooksOnly skips the head
  const last = m.runWithCache(ids, [resid], { pos: 'last', seqLengths, hooksOnly: true });
  if (last.logits.shape.join() !== [B, T, 0].join()) bad.push(`hooksOnly logits ${last.logits.shape}`);
  const all = c.cache[resid].dataSync();
  const lastV = last.cache[resid].dataSync();
  for (let b = 0; b < B; b++) {
    const t = seqLengths[b] - 1;
    if (maxDiff(lastV.slice(b * C, (b + 1) * C), all.slice((b * T + t) * C, (b * T + t + 1) * C)) !== 0) bad.push(`pos 'last' row ${b}`);
  }

  // a hook replacing an activation changes the output; returning nothing changes nothing
  const zeroed = m.runWithHooks(ids, { [resid]: (x) => tf.zerosLike(x) });
  if (!(maxDiff(zeroed.dataSync(), plain.dataSync()) > 1e-3)) bad.push('a replacing hook left the logits as they were');
  const same = m.runWithHooks(ids, { [resid]: () => undefined });
  if (maxDiff(same.dataSync(), plain.dataSync()) !== 0) bad.push('a hook returning nothing changed the logits');

  // edits land only from editFrom on (up to the row's length); the cache reads after the edit
  const editFrom = [3, 1];
  // +1 on channel 0 only (a constant on every channel would vanish in GPT-2's LayerNorms)
  const bump = (x: tf.Tensor) => tf.add(x, tf.tensor1d(Array.from({ length: C }, (_, i) => (i === 0 ? 1 : 0))));
  const e = m.runWithCache(ids, [resid, mid], { hooks: { [mid]: bump }, editFrom, seqLengths });
  const base = m.runWithCache(ids, [mid]);
  const em = e.cache[mid].dataSync(), bm = base.cache[mid].dataSync();
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      const lands = t >= editFrom[b] && t < seqLengths[b];
      const d = em[(b * T + t) * C] - bm[(b * T + t) * C];
      if (lands ? Math.abs(d - 1) > 1e-5 : d !== 0) bad.push(`edit at row ${b} position ${t}: ${d}`);
    }
  // causal: positions before the first edit keep their logits exactly
  const eh = m.runWithHooks(ids, { [mid]: bump }, { editFrom, seqLengths });
  const V = m.dims.vocabSize, ev = eh.dataSync(), pv = plain.dataSync();
  if (maxDiff(ev.slice(0, 3 * V), pv.slice(0, 3 * V)) !== 0) bad.push('an edit changed logits before editFrom');
  if (!(maxDiff(ev.slice(3 * V, 4 * V), pv.slice(3 * V, 4 * V)) > 1e-4)) bad.push('an edit at editFrom did not change its logits');

  // bad input: an unknown name, an edit of another shape
  try { m.runWithCache(ids, ['blocks.99.hook_resid_post']); bad.push('unknown name accepted'); } catch (err) { if (!/no hook point blocks\.99/.test(String(err))) bad.push(`unknown name: ${err}`); }
  try { m.runWithHooks(ids, { [pre]: (x) => x.slice([0, 0, 0], [1, -1, -1]) }); bad.push('shape change accepted'); } catch (err) { if (!/must keep the shape/.test(String(err))) bad.push(`shape change: ${err}`); }

  // tidy contract: what the run methods return is all that stays
  for (const r of [c, f, last, e, base]) disposeCache(r);
  tf.dispose([plain, zeroed, same, eh, ids]);
  if (tf.memory().numTensors !== before) bad.push(`${tf.memory().numTensors - before} tensors leaked`);
  return bad;
}

describe('HookedModel run methods', () => {
  it('GPT-2 keeps the contract', () => {
    const m = gpt2();
    expect(checkRunSemantics(m)).toEqual([]);
    m.dispose();
  });

  it('LLaMA keeps the same contract', async () => {
    const m = await llama();
    expect(checkRunSemantics(m)).toEqual([]);
    m.dispose();
  });

  it('catches a planted model that dispatches its hooks by hand (edits everywhere, cache before the edit)', () => {
    const real = gpt2();
    // forward calls each hook itself and lets the shared dispatcher see no edits: what a model file writing
    // its own dispatch would do
    const planted: HookedModel = Object.assign(Object.create(Object.getPrototypeOf(real)), real, {
      forward(tokens: tf.Tensor2D, opts: ForwardOptions = {}) {
        const hooks = Object.fromEntries(Object.entries(opts.hooks ?? {}).map(([n, fn]) => [n, (x: tf.Tensor, ctx: HookContext) => { opts.observe?.(n, x); return fn(x, ctx); }]));
        return real.forward(tokens, { hooks, hooksOnly: opts.hooksOnly, observe: (n, x) => { if (!opts.hooks?.[n]) opts.observe?.(n, x); } });
      },
    });
    planted.runWithCache = (t, n, o) => runWithCache(planted, t, n, o);
    planted.runWithHooks = (t, h, o) => runWithHooks(planted, t, h, o);
    const found = checkRunSemantics(planted);
    expect(found.some((s) => s.startsWith('edit at row'))).toBe(true);
    expect(found).toContain('an edit changed logits before editFrom');
    real.dispose();
  });

  it('both models share the hook names the pipeline reads, with the same layouts', async () => {
    const g = gpt2(), l = await llama();
    for (const m of [g, l]) {
      const ids = batchTensor(padRight([[3, 4, 5]], 0));
      const c = m.runWithCache(ids, (n) => /^blocks\.0\.(hook_resid_pre|hook_resid_post|mlp\.hook_post|attn\.hook_z|hook_attn_out)$/.test(n) || n === 'ln_final.hook_normalized');
      const { dModel: C, dMlp: D } = m.dims;
      const heads = m instanceof GPT2 ? m.config.nHead : (m as LlamaModel).config.nHead;
      expect(Object.fromEntries(Object.entries(c.cache).map(([n, t]) => [n, t.shape]))).toEqual({
        'blocks.0.hook_resid_pre': [1, 3, C], 'blocks.0.attn.hook_z': [1, 3, heads, C / heads],
        'blocks.0.hook_attn_out': [1, 3, C], 'blocks.0.mlp.hook_post': [1, 3, D], 'blocks.0.hook_resid_post': [1, 3, C], 'ln_final.hook_normalized': [1, 3, C],
      });
      disposeCache(c);
      ids.dispose();
    }
    g.dispose();
    l.dispose();
  });

  it('adapters attach through the interface: an added output changes the logits, detaching restores them exactly', async () => {
    const g = gpt2(), l = await llama();
    for (const [m, proj] of [[g, 'h.1.mlp.c_proj'], [l, 'blk.1.ffn_down']] as const) {
      const ids = batchTensor(padRight([[3, 4, 5]], 0));
      const a = m.forward(ids).dataSync();
      const seen: string[] = [];
      m.attachAdapters({ apply: (name, x, y) => { seen.push(name); return name === proj ? tf.mul(y, 1.5) : y; } });
      const b = m.forward(ids).dataSync();
      m.detachAdapters();
      const c = m.forward(ids).dataSync();
      expect(seen).toContain(proj);
      expect(maxDiff(a, b)).toBeGreaterThan(1e-3);
      expect(maxDiff(a, c)).toBe(0);
      ids.dispose();
    }
    g.dispose();
    l.dispose();
  });

  it('encodes task prompts through the interface: plain bos + text, or the chat template where the model has one', async () => {
    const g = gpt2(), l = await llama();
    expect(g.encodePrompt('ab')).toEqual([21, ...tok.encode('ab')]);
    expect(() => g.setPromptFormat({ chat: true, systemPrompt: 'x' })).toThrow(/no chat template/);
    expect(l.encodePrompt(' the cat')).toEqual(l.tokenizer.encode(' the cat', { addBos: true }));
    l.setPromptFormat({ chat: true, systemPrompt: 'You are a helpful assistant.' });
    const chat = l.tokenizer.decode(l.encodePrompt('3 + 4 ='));
    expect(chat).toContain('<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>');
    expect(chat.endsWith('<|start_header_id|>assistant<|end_header_id|>\n\n')).toBe(true);
    l.setPromptFormat({ chat: false });
    expect(l.encodePrompt(' the cat')).toEqual(l.tokenizer.encode(' the cat', { addBos: true }));
    g.dispose();
    l.dispose();
  });

  it('gatherLast refuses activations without a position axis', () => {
    const x = tf.zeros([2, 4, 3, 3]);
    expect(() => gatherLast(x, [4, 2], 'blocks.0.attn.hook_pattern')).toThrow(/cache them whole/);
    expect(() => gatherLast(tf.zeros([2, 4]), [4, 2])).toThrow(/\(B, T, \.\.\.\)/);
    expect(() => padRight([[1], []])).toThrow(/non-empty/);
  });
});

describe('callers go through the run methods', () => {
  it('no module outside src/lib/models hands hooks to forward or mutates a model', () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d)) {
        const p = join(d, e);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.(ts|svelte)$/.test(e)) files.push(p);
      }
    };
    walk('src');
    const offenders = files.filter((f) => !f.startsWith(join('src', 'lib', 'models'))).flatMap((f) => {
      const s = readFileSync(f, 'utf8');
      const hits: string[] = [];
      if (/\.forward\([^;]*?\b(hooks|observe)\b/.test(s)) hits.push(`${f}: forward with hooks`);
      if (/\.(linearHook|encodePrompt|promptFormat)\s*=[^=]/.test(s)) hits.push(`${f}: assigns to a model`);
      return hits;
    });
    expect(offenders).toEqual([]);
  });
});
