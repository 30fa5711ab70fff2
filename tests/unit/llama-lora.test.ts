// LoRA on the GGUF LLaMA (cpu backend): finite-difference gradients, a short run that memorizes one answer
// while the frozen base stays bit-identical, and the adapter file round trip.
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { parseGGUF } from '../../src/lib/gguf/reader';
import { LlamaModel } from '../../src/lib/models/llama/model';
import { LoraAdapters, lmLoss, DEFAULT_LORA, type LoraBatch } from '../../src/lib/models/llama/lora';
import { loraOptimizer, loraTrainStep } from '../../src/lib/train/lora-step';
import { registerQMatMulKernels } from '../../src/lib/kernels/qmatmul';

async function load(f: string): Promise<LlamaModel> {
  const bytes = new Uint8Array(readFileSync(`tests/fixtures/${f}`));
  return LlamaModel.fromGGUF(bytes, parseGGUF(bytes));
}

beforeAll(async () => {
  registerQMatMulKernels();
  await tf.setBackend('cpu');
});

function qaBatch(m: LlamaModel): LoraBatch {
  const p = m.tokenizer.encode('12 = ', { addBos: true }), a = m.tokenizer.encode(' the cat and 12');
  return { tokens: [[...p, ...a]], lossMask: [[...p.map(() => 0), ...a.map(() => 1)]] };
}

describe('LoRA', () => {
  it('gradients of the adapters match central finite differences (through the Q8_0 kernels)', async () => {
    const m = await load('tiny-llama-q8_0.gguf');
    const a = LoraAdapters.create(m, { ...DEFAULT_LORA, dropout: 0 }, 1);
    // B starts at zero, which would make A's gradient vanish: give B small random values for the check.
    for (const [n, v] of Object.entries(a.vars)) if (n.endsWith('lora_b')) v.assign(tf.randomNormal(v.shape, 0, 0.05, 'float32', 3));
    m.attachAdapters(a);
    const batch = qaBatch(m);
    const { grads } = a.grads(() => lmLoss(m, batch));
    const lossAt = async () => { const l = lmLoss(m, batch); const v = (await l.data())[0]; l.dispose(); return v; };
    let checked = 0;
    for (const name of ['blk.0.attn_q.lora_a', 'blk.1.attn_v.lora_b', 'blk.0.attn_v.lora_a', 'blk.1.attn_q.lora_b']) {
      const v = a.vars[name], g = (await grads[name].data()) as Float32Array;
      // The 3 entries with the largest analytic gradient (so the check is not dominated by float32 noise).
      const idx = Array.from(g.keys()).sort((i, j) => Math.abs(g[j]) - Math.abs(g[i])).slice(0, 3);
      for (const i of idx) {
        const orig = (await v.data()) as Float32Array, eps = 1e-2;
        const plus = orig.slice(); plus[i] += eps;
        v.assign(tf.tensor(plus, v.shape));
        const lp = await lossAt();
        const minus = orig.slice(); minus[i] -= eps;
        v.assign(tf.tensor(minus, v.shape));
        const lm = await lossAt();
        v.assign(tf.tensor(orig, v.shape));
        const fd = (lp - lm) / (2 * eps);
        expect(Math.abs(fd - g[i]), `${name}[${i}] fd ${fd} analytic ${g[i]}`).toBeLessThan(0.03 * Math.abs(g[i]) + 2e-3);
        checked++;
      }
    }
    expect(checked).toBe(12);
    m.dispose();
  });

  it('a short run drives one memorized answer’s loss down; base weights stay bit-identical', async () => {
    // Q8_0 fixture: its separate output matrix lets a memorized token reach a high probability (the tied
    // fixtures have a deliberately small embedding, which caps the logits).
    const m = await load('tiny-llama-q8_0.gguf');
    const names = ['blk.0.attn_q', 'blk.1.attn_v', 'token_embd', 'output', 'blk.1.ffn_down'];
    const before = await Promise.all(names.map(async (n) => Array.from(await m.weightTensor(n).data())));
    const a = LoraAdapters.create(m, DEFAULT_LORA, 2);
    const opt = loraOptimizer(a);
    const batch = qaBatch(m);
    const losses: number[] = [];
    for (let s = 0; s < 40; s++) losses.push(await loraTrainStep(m, a, opt, batch, 1e-2));
    m.attachAdapters(a);
    const final = lmLoss(m, batch);
    const end = (await final.data())[0];
    console.log('LoRA memorization loss', losses[0].toFixed(3), '->', end.toFixed(4));
    expect(end).toBeLessThan(0.25 * losses[0]);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
    const after = await Promise.all(names.map(async (n) => Array.from(await m.weightTensor(n).data())));
    expect(after).toEqual(before);
    m.detachAdapters();
    const base = lmLoss(m, batch);
    expect(Math.abs((await base.data())[0] - losses[0])).toBeLessThan(1e-4); // without adapters: the base model
    m.dispose();
  });

  it('serializes adapters to a GGUF adapter file and reads them back exactly; rejects bad configs and files', async () => {
    const m = await load('tiny-llama-f16.gguf');
    const a = LoraAdapters.create(m, { r: 4, alpha: 8, dropout: 0.1, targets: ['q_proj', 'v_proj', 'down_proj'] }, 5);
    for (const v of Object.values(a.vars)) v.assign(tf.randomNormal(v.shape, 0, 0.1, 'float32', 9));
    const file = await a.toGGUF();
    const h = parseGGUF(file);
    expect(h.metadata['adapter.type']).toBe('lora');
    expect(h.tensors.find((t) => t.name === 'blk.0.attn_q.weight.lora_a')?.dims).toEqual([64, 4]);
    const b = LoraAdapters.fromGGUF(file, m);
    expect(b.cfg).toEqual(a.cfg);
    for (const [n, v] of Object.entries(a.vars)) expect(Array.from(await b.vars[n].data())).toEqual(Array.from(await v.data()));
    m.attachAdapters(a);
    const la = await lmLoss(m, qaBatch(m)).data();
    m.attachAdapters(b);
    expect((await lmLoss(m, qaBatch(m)).data())[0]).toBe(la[0]);
    expect(() => LoraAdapters.create(m, { ...DEFAULT_LORA, targets: ['x_proj' as never] })).toThrow(/targets \[x_proj\] are unknown: choose from q_proj/);
    expect(() => LoraAdapters.create(m, { ...DEFAULT_LORA, r: 0 })).toThrow(/rank r=0/);
    const other = await load('tiny-llama-q4_k_m.gguf');
    expect(() => LoraAdapters.fromGGUF(file, other)).toThrow(/trained for another model/);
    other.dispose();
    m.dispose();
  });
});
