// The fused kernels in headless Chromium: for each op, on seeded random inputs with ragged shapes, the WGSL
// path on webgpu (SwiftShader here) gives the forward and every gradient of the wasm CPU twin and of the
// float64 JS reference, within the tolerances below; big flat cases go past 65535 workgroups.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openHarness } from './chromium';
import type { CaseRun, CaseSpec, Worst } from '../../src/lib/kernels/selfcheck';

let browser: Browser;
let page: Page;
beforeAll(async () => {
  browser = await launchChromium();
  page = await openHarness(browser);
});
afterAll(async () => {
  await browser?.close();
});

interface Report {
  spec: CaseSpec;
  backends: string[];
  stayedOnGpu: boolean | null;
  gpuKernels: string[];
  /** `${array} ${a} vs ${b}` -> worst element */
  checks: Record<string, Worst>;
}

/** Runs the cases on webgpu (and on wasm unless `wasm` is false), compares in the page, returns summaries. */
async function check(specs: CaseSpec[], tol: Record<string, [number, number]>, wasm = true): Promise<Report[]> {
  return page.evaluate(
    async ({ specs, tol, wasm }) => {
      const { useBackend } = (window as any).lab;
      // import() is spelled inside a string: vitest would otherwise rewrite it into its own SSR loader
      const sc = await new Function('p', 'return import(p)')('/src/lib/kernels/selfcheck.ts');
      const gpu: CaseRun[] = [];
      await useBackend('webgpu');
      for (const s of specs) gpu.push(await sc.runCase(s));
      const cpu: CaseRun[] = [];
      if (wasm) {
        await useBackend('wasm');
        for (const s of specs) cpu.push(await sc.runCase(s));
      }
      return specs.map((spec: any, i: number) => {
        const ref = sc.referenceCase(spec);
        const checks: Record<string, any> = {};
        for (const name of Object.keys(ref)) {
          const [atol, rtol] = tol[name] ?? tol.default;
          checks[`${name} webgpu vs reference`] = sc.worstElement(gpu[i].arrays[name], ref[name], atol, rtol);
          if (wasm) {
            checks[`${name} webgpu vs wasm`] = sc.worstElement(gpu[i].arrays[name], cpu[i].arrays[name], atol, rtol);
            checks[`${name} wasm vs reference`] = sc.worstElement(cpu[i].arrays[name], ref[name], atol, rtol);
          }
        }
        return {
          spec,
          backends: [gpu[i].backend, ...(wasm ? [cpu[i].backend] : [])],
          stayedOnGpu: gpu[i].stayedOnGpu,
          gpuKernels: gpu[i].kernels,
          checks,
        };
      });
    },
    { specs, tol, wasm },
  );
}

function expectReports(reports: Report[], kernel: string): void {
  if (process.env.MEMGEN_DEBUG)
    for (const r of reports)
      for (const [k, w] of Object.entries(r.checks)) console.log(`${r.spec.op} ${JSON.stringify(r.spec)} ${k}: max |diff| ${w.maxAbsDiff.toExponential(2)}`);
  for (const r of reports) {
    const label = JSON.stringify(r.spec);
    expect(r.backends[0], label).toBe('webgpu');
    if (r.backends.length > 1) expect(r.backends[1], label).toBe('wasm');
    // the WGSL path ran: the lab kernel was dispatched and its result stayed on the GPU until read
    expect(r.gpuKernels, label).toContain(kernel);
    expect(r.stayedOnGpu, label).toBe(true);
    for (const [name, w] of Object.entries(r.checks))
      expect(w.ok, `${label} ${name}: worst element ${w.index}: got ${w.got}, want ${w.want} (|diff| ${w.diff})`).toBe(true);
  }
  expect((page as Page & { errors?: string[] }).errors ?? []).toEqual([]); // no WGSL/validation errors either
}

describe('fused kernels: webgpu == wasm == reference', () => {
  it('gelu (scalar and vec4 paths)', async () => {
    const specs: CaseSpec[] = [
      { op: 'gelu', shape: [37, 29], seed: 1 }, // 1073 elements: scalar path
      { op: 'gelu', shape: [16, 33], seed: 2 }, // 528: vec4 path
    ];
    expectReports(await check(specs, { default: [1e-5, 1e-5] }), 'LabGelu');
  });

  it('layerNorm: forward and dx, dgamma, dbeta', async () => {
    const specs: CaseSpec[] = [
      { op: 'layerNorm', N: 7, C: 45, seed: 3 }, // 32-thread rows
      { op: 'layerNorm', N: 130, C: 300, seed: 4 }, // 128-thread rows, 3 row partitions for dgamma/dbeta
    ];
    expectReports(await check(specs, { default: [1e-4, 1e-4] }), 'LabLayerNorm');
  });

  it('embedding: forward and the scatter-add table gradient', async () => {
    const specs: CaseSpec[] = [
      { op: 'embedding', V: 37, C: 19, N: 150, seed: 5 }, // ids repeat; 3 scan steps of 64
      { op: 'embedding', V: 5, C: 70, N: 9, seed: 6 },
    ];
    expectReports(await check(specs, { y: [0, 0], default: [1e-5, 1e-5] }), 'LabEmbedding');
  });

  it('softmaxCrossEntropy: forward and dlogits, with ignored rows', async () => {
    const specs: CaseSpec[] = [
      { op: 'softmaxCrossEntropy', N: 11, V: 77, seed: 7 },
      { op: 'softmaxCrossEntropy', N: 6, V: 600, seed: 8 },
    ];
    expectReports(await check(specs, { default: [1e-5, 1e-4] }), 'LabSoftmaxCrossEntropy');
  });

  it('causalAttention: forward and dq, dk, dv (one tile and several tiles)', async () => {
    const specs: CaseSpec[] = [
      { op: 'causalAttention', B: 2, NH: 3, T: 7, HS: 5, seed: 9 },
      { op: 'causalAttention', B: 1, NH: 2, T: 300, HS: 70, seed: 10 }, // T > 256: two key tiles; HS > 64: 2 dims per thread
    ];
    expectReports(await check(specs, { default: [2e-5, 2e-4] }), 'LabCausalAttention');
  });
});

describe('training through all five ops', () => {
  it('variableGrads and 3 Adam steps through the fused ops equal the stock ops, on webgpu and on wasm', async () => {
    const r = await page.evaluate(async () => {
      const { useBackend, tf } = (window as any).lab;
      const K = await new Function('p', 'return import(p)')('/src/lib/kernels/index.ts');
      const sc = await new Function('p', 'return import(p)')('/src/lib/kernels/selfcheck.ts');
      const [B, T, C, V, NH] = [2, 5, 12, 9, 3];
      const HS = C / NH;
      const out: Record<string, number> = {};
      for (const be of ['webgpu', 'wasm']) {
        await useBackend(be);
        const run = async (ops: any, tag: string) => {
          const u = (shape: number[], seed: number, lo: number, hi: number) => tf.tensor(sc.seededUniform(shape.reduce((a, b) => a * b, 1), seed, lo, hi), shape);
          const vars = [u([V, C], 1, -0.5, 0.5), u([C], 2, 0.8, 1.2), u([C], 3, -0.1, 0.1), u([C, 3 * C], 4, -0.4, 0.4)].map((t, i) => tf.variable(t, true, `${be}.${tag}.${i}`));
          const [wte, g, b, wqkv] = vars;
          const ids = tf.tensor2d(Int32Array.from(sc.seededUniform(B * T, 5, 0, V), Math.floor), [B, T], 'int32');
          const targets = tf.tensor1d(Int32Array.from(sc.seededUniform(B * T, 6, 0, V), Math.floor), 'int32');
          const weights = tf.tensor1d(Float32Array.from({ length: B * T }, (_, i) => (i % 5 === 0 ? 0 : 1)));
          const loss = () => tf.tidy(() => {
            const h = ops.layerNorm(ops.embedding(wte, ids), g, b); // (B, T, C)
            const qkv = tf.matMul(h.reshape([B * T, C]), wqkv).reshape([B, T, 3, NH, HS]).transpose([2, 0, 3, 1, 4]); // (3, B, NH, T, HS)
            const [q, k, v] = tf.unstack(qkv);
            const z = ops.causalAttention(q, k, v, 1 / Math.sqrt(HS)).transpose([0, 2, 1, 3]).reshape([B * T, C]); // (B*T, C)
            const logits = tf.matMul(ops.gelu(z), wte, false, true); // (B*T, V)
            return tf.div(tf.sum(ops.softmaxCrossEntropy(logits, targets, weights)), tf.sum(weights));
          });
          const { value, grads } = tf.variableGrads(loss, vars);
          // read with await data(): dataSync() gives wrong numbers on webgpu
          const gradArrays: Float32Array[] = await Promise.all(vars.map((x: any) => grads[x.name].data()));
          const opt = tf.train.adam(0.01);
          for (let i = 0; i < 3; i++) opt.minimize(loss, false, vars);
          return { first: (await value.data())[0], after: (await loss().data())[0], gradArrays };
        };
        const f = await run(K, 'fused');
        const s = await run(K.stock, 'stock');
        let gradDiff = 0;
        f.gradArrays.forEach((a: Float32Array, i: number) => a.forEach((x, j) => (gradDiff = Math.max(gradDiff, Math.abs(x - s.gradArrays[i][j])))));
        out[`${be} loss diff`] = Math.abs(f.first - s.first);
        out[`${be} grad max diff`] = gradDiff;
        out[`${be} loss after 3 steps diff`] = Math.abs(f.after - s.after);
        out[`${be} loss decrease`] = f.first - f.after;
      }
      return out;
    });
    if (process.env.MEMGEN_DEBUG) console.log(r);
    for (const be of ['webgpu', 'wasm']) {
      expect(r[`${be} loss diff`], be).toBeLessThan(1e-5);
      expect(r[`${be} grad max diff`], be).toBeLessThan(1e-4);
      expect(r[`${be} loss after 3 steps diff`], be).toBeLessThan(1e-4);
      expect(r[`${be} loss decrease`], be).toBeGreaterThan(0);
    }
  });
});

describe('more than 65535 workgroups (flat dispatch folded by tfjs)', () => {
  it('gelu on 4,200,001 elements (65,626 workgroups)', async () => {
    expectReports(await check([{ op: 'gelu', shape: [4_200_001], seed: 11 }], { default: [1e-5, 1e-5] }, false), 'LabGelu');
  });
  it('layerNorm with 66,000 rows (one workgroup per row)', async () => {
    expectReports(await check([{ op: 'layerNorm', N: 66_000, C: 5, seed: 12 }], { default: [1e-4, 1e-4] }, false), 'LabLayerNorm');
  });
  it('causalAttention with 67,584 query rows (one workgroup per row, all five passes)', async () => {
    const spec: CaseSpec = { op: 'causalAttention', B: 64, NH: 33, T: 32, HS: 2, seed: 14 };
    expectReports(await check([spec], { default: [2e-5, 2e-4] }, false), 'LabCausalAttention');
  });
  it('embedding gradient with a 70,000-row table (one workgroup per row)', async () => {
    expectReports(await check([{ op: 'embedding', V: 70_000, C: 3, N: 40, seed: 13 }], { y: [0, 0], default: [1e-6, 1e-6] }, false), 'LabEmbedding');
  });
});
