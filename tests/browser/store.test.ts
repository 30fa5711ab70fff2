// Real IndexedDB and real WebGPU in headless Chromium: a >= 50 MB activation round trip, and statsTf on the GPU
// against the float64 reference.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium, openHarness as openBlank } from './chromium';

// Vitest rewrites `import(` inside functions passed to page.evaluate, so the page gets a loader defined from a string.
async function openHarness(b: Browser) {
  const page = await openBlank(b);
  await page.evaluate('window.labImport = (p) => import(p)');
  return page;
}

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe('activation store in Chromium', () => {
  it('writes 52 MB in chunks, reopens and reads it back byte-equal', async () => {
    const page = await openHarness(browser);
    const r = await page.evaluate(async () => {
      const { ActivationStore } = await (window as any).labImport('/src/lib/store/index.ts');
      const hooks = [0, 1, 2, 3].map((l) => ({ name: `blocks.${l}.hook_resid_post`, layer: l, dim: 2048 }));
      const rowsTotal = 1600; // 4 hooks x 2048 x 4 B x 1600 = 52.4 MB
      const batch = 100;
      // FNV-1a over the 32-bit words of every hook, in row order.
      const hashes = hooks.map(() => 0x811c9dc5);
      const fnv = (h: number, words: Uint32Array) => {
        for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], 0x01000193) >>> 0;
        return h;
      };
      let seed = 12345;
      const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296) * 8 - 4;
      await ActivationStore.delete('browser-roundtrip');
      const store = await ActivationStore.create({
        id: 'browser-roundtrip', version: 1, model: 'test', checkpoint: 'none', task: 'math', hooks,
        dtype: 'float32', createdAt: new Date().toISOString(),
      }, { chunkBytes: 4 * 2 ** 20 }); // 4 MiB per hook per chunk: the 13 MB of each hook spans several chunks
      let writeMs = 0;
      for (let start = 0; start < rowsTotal; start += batch) {
        const rows: Record<string, Float32Array> = {};
        hooks.forEach((h, i) => {
          const a = new Float32Array(batch * h.dim);
          for (let k = 0; k < a.length; k++) a[k] = rand();
          hashes[i] = fnv(hashes[i], new Uint32Array(a.buffer));
          rows[h.name] = a;
        });
        const labels = Uint8Array.from({ length: batch }, (_, i) => (start + i) % 2);
        const ids = Array.from({ length: batch }, (_, i) => `p${start + i}`);
        const t0 = performance.now();
        await store.appendRows(rows, labels, ids);
        writeMs += performance.now() - t0;
      }
      const t0 = performance.now();
      await store.flush();
      writeMs += performance.now() - t0;
      const reopened = await ActivationStore.open('browser-roundtrip');
      const readHashes: number[] = [];
      let labelsOk = true;
      const t1 = performance.now();
      for (const h of hooks) {
        let hh = 0x811c9dc5;
        for await (const ch of reopened.iterate(h.name)) {
          hh = fnv(hh, new Uint32Array(ch.data.buffer, ch.data.byteOffset, ch.data.length));
          for (let i = 0; i < ch.rows; i++) if (ch.labels[i] !== (ch.start + i) % 2 || ch.promptIds[i] !== `p${ch.start + i}`) labelsOk = false;
        }
        readHashes.push(hh);
      }
      const readMs = performance.now() - t1;
      const bytes = rowsTotal * hooks.reduce((a, h) => a + h.dim * 4, 0);
      const rowCount = reopened.rowCount();
      const chunks = reopened.manifest.chunkRows.length;
      await ActivationStore.delete('browser-roundtrip');
      const gone = (await ActivationStore.list()).every((m: { id: string }) => m.id !== 'browser-roundtrip');
      return { hashes, readHashes, labelsOk, rowCount, chunks, bytes, writeMs, readMs, gone };
    });
    console.log(
      `IndexedDB round trip: ${(r.bytes / 1e6).toFixed(1)} MB in ${r.chunks} chunks; ` +
        `write ${(r.bytes / 1e6 / (r.writeMs / 1000)).toFixed(0)} MB/s, read ${(r.bytes / 1e6 / (r.readMs / 1000)).toFixed(0)} MB/s`,
    );
    expect(r.bytes).toBeGreaterThanOrEqual(50 * 2 ** 20);
    expect(r.rowCount).toBe(1600);
    expect(r.chunks).toBeGreaterThan(1);
    expect(r.readHashes).toEqual(r.hashes);
    expect(r.labelsOk).toBe(true);
    expect(r.gone).toBe(true);
  });
});

describe('statsTf', () => {
  for (const backend of ['webgpu', 'wasm'] as const) {
    it(`on ${backend} equals the float64 reference`, async () => {
      const page = await openHarness(browser);
      const r = await page.evaluate(async (backend) => {
        const { useBackend, tf } = (window as any).lab;
        const { statsTf, referenceStats } = await (window as any).labImport('/src/lib/neurons/stats.ts');
        await useBackend(backend);
        const rows = 301;
        const dim = 97;
        let seed = 7;
        const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296;
        const labels = Uint8Array.from({ length: rows }, () => (rand() < 0.45 ? 1 : 0));
        const acts = new Float32Array(rows * dim);
        for (let i = 0; i < rows; i++)
          for (let j = 0; j < dim; j++) acts[i * dim + j] = 5 + (rand() - 0.5) * 2 + (j % 10 === 0 ? labels[i] * 0.5 : 0);
        const x = tf.tensor2d(acts, [rows, dim]);
        const y = tf.tensor1d(labels, 'int32');
        const got = await statsTf(x, y);
        x.dispose();
        y.dispose();
        const ref = referenceStats(acts, labels, dim);
        let errNmd = 0;
        let errR = 0;
        let worst = -1;
        for (let j = 0; j < dim; j++) {
          errNmd = Math.max(errNmd, Math.abs(got.nmd[j] - ref.nmd[j]));
          const e = Math.abs(got.r[j] - ref.r[j]);
          if (e > errR) {
            errR = e;
            worst = j;
          }
        }
        return { backend: tf.getBackend(), errNmd, errR, worst, r0: ref.r[0], r1: ref.r[1], tensors: tf.memory().numTensors };
      }, backend);
      expect(r.backend).toBe(backend);
      expect(r.errNmd, 'NMD max abs error').toBeLessThan(1e-4);
      expect(r.errR, `r max abs error (neuron ${r.worst})`).toBeLessThan(1e-4);
      expect(Math.abs(r.r0)).toBeGreaterThan(Math.abs(r.r1)); // the label-shifted neuron shows up
      expect(r.tensors).toBe(0);
    });
  }
});
