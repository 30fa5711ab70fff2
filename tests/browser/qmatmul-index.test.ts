// The WebGPU quantized matmul at the real vocabulary: its block forward runs one 64-lane workgroup per output, so
// M x 128,256 x 64 threads pass 2^31 from M = 262 rows (the tied output projection of a LLaMA-3 prefill or LoRA
// batch). tfjs's flat thread index is an i32 and wraps there; the kernel now takes its output from the workgroup
// id on a 2-D grid instead. Running 2^31 threads on SwiftShader takes about an hour, so this runs the kernel's
// own index WGSL (WORKGROUP_OUTPUT_WGSL, on the grid outputGrid lays out) at the workgroups a real-size dispatch
// ends with, on the GPU, beside the thread-index formula tfjs's getGlobalIndex uses. The kernel itself on a grid
// of two rows (66,000 outputs) is checked against the CPU reference in llama-kernels.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium, openHarness, loadModules } from './chromium';

let browser: Browser;
beforeAll(async () => { browser = await launchChromium(); });
afterAll(async () => { await browser?.close(); });

describe('qMatMul index range on WebGPU', () => {
  it('addresses the last output of M = 261, 263 and 4096 rows against a 128,256 vocabulary; the thread index does not', async () => {
    const page = await openHarness(browser);
    await loadModules(page, { q: '/src/lib/kernels/qmatmul/index.ts', wgsl: '/src/lib/kernels/qmatmul/webgpu.ts', quant: '/src/lib/gguf/quant.ts' });
    const r = await page.evaluate(async () => {
      const w = window as any;
      const { useBackend, tf } = w.lab;
      const { WORKGROUP_OUTPUT_WGSL, outputGrid, qMatMulProgram } = w.wgsl;
      w.q.registerQMatMulKernels();
      await useBackend('webgpu');
      const N = 128256, K = 2048;
      const cases = [261, 263, 4096].map((M) => {
        const n = M * N;
        // new layout: the grid the program asks for, and its last real workgroup
        const p = qMatMulProgram('Q4_K', M, N, K);
        const [gx, gy] = p.dispatch;
        // old layout: dispatch [M*N, 1, 1], which tfjs folds into a square of ceil(sqrt(M*N)) per side
        const a = Math.ceil(Math.sqrt(n));
        return { M, grid: [gx, gy, p.dispatch[2]], newWid: [(n - 1) % gx, Math.floor((n - 1) / gx), gx, gy], oldWid: [(n - 1) % a, Math.floor((n - 1) / a), a, a] };
      });
      const probe = {
        variableNames: ['p'], outputShape: [cases.length, 2], shaderKey: 'lab_qmm_index_probe', dispatchLayout: { x: [0, 1] },
        dispatch: [1, 1, 1], workgroupSize: [64, 1, 1], size: true, uniforms: '',
        getUserCode: () => `${WORKGROUP_OUTPUT_WGSL}
          fn main(index : i32) {
            if (index >= uniforms.size / 2) { return; }
            let b = index * 8;
            // the block kernel's output index, from the workgroup id (the fix)
            let o = workgroupOutput(vec3<u32>(u32(p[b]), u32(p[b + 1]), 0u), vec3<u32>(u32(p[b + 2]), u32(p[b + 3]), 1u));
            // the old one: tfjs's getGlobalIndex for the last lane of the workgroup, divided by the 64 lanes
            let g = i32((0u * u32(p[b + 6]) * u32(p[b + 7]) + u32(p[b + 5]) * u32(p[b + 6]) + u32(p[b + 4])) * 64u + 63u);
            setOutputAtIndexI32(index * 2, o);
            setOutputAtIndexI32(index * 2 + 1, g / 64);
          }`,
      };
      const words = new Int32Array(cases.length * 8);
      cases.forEach((c, i) => { words.set(c.newWid, i * 8); words.set(c.oldWid, i * 8 + 4); });
      const input = tf.tensor1d(words, 'int32');
      const info = tf.backend().runWebGPUProgram(probe, [input], 'int32');
      const out = Array.from(await tf.engine().makeTensorFromTensorInfo(info).data() as Int32Array);
      return { backend: tf.getBackend(), N, cases: cases.map((c, i) => ({ ...c, newIndex: out[2 * i], oldIndex: out[2 * i + 1] })) };
    });
    console.log('last output index [new, old] per M', r.cases.map((c: any) => [c.M, c.newIndex, c.oldIndex]));
    expect(r.backend).toBe('webgpu');
    for (const c of r.cases) {
      expect(c.grid.every((d: number) => d >= 1 && d <= 65535), `grid ${c.grid}`).toBe(true);
      expect(c.grid[0] * c.grid[1]).toBeGreaterThanOrEqual(c.M * r.N);
      expect(c.newIndex, `M=${c.M}`).toBe(c.M * r.N - 1); // the last output, row M-1
      expect(Math.floor(c.newIndex / r.N)).toBe(c.M - 1);
    }
    // The thread index reaches the last output below 2^31 threads and wraps negative above: rows past 261 were lost.
    expect(r.cases[0].oldIndex).toBe(261 * r.N - 1);
    expect(r.cases[1].oldIndex).toBeLessThan(0);
    expect(r.cases[2].oldIndex).not.toBe(4096 * r.N - 1);
  });
});
