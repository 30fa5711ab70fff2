// A full tfjs-wasm heap must raise an error, not hang: tfjs-wasm writes each new tensor at whatever _malloc
// returns, and when the heap cannot grow that is address 0 (issue 18: the 8th 512 MiB tensor got offset 0, the
// 9th hung the page). The lab guards _malloc when it starts wasm (engine/backend.ts -> engine/wasm-heap.ts).
// This fills the real heap (about 3-4 GB, for under a minute), then checks that the lab still computes after freeing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium, openHarness } from './chromium';

let browser: Browser;
beforeAll(async () => { browser = await launchChromium(); });
afterAll(async () => { await browser?.close(); });

describe('wasm heap', () => {
  it('an allocation past the heap limit throws an out-of-memory error, and the backend still works after freeing', async () => {
    const page = await openHarness(browser);
    const r = await page.evaluate(async () => {
      const { useBackend, tf } = (window as any).lab;
      await useBackend('wasm');
      const held: any[] = [];
      let error = '', name = '';
      for (let i = 0; i < 12 && !error; i++) {
        try {
          held.push(tf.fill([2 ** 28], i + 1)); // 1 GiB each, written in the heap by the wasm Fill kernel
        } catch (e) {
          error = (e as Error).message;
          name = (e as Error).name;
        }
      }
      // every tensor that was allocated has its own place in the heap (none at address 0, none overlapping)
      const be = tf.backend() as any;
      const offsets = held.map((t) => be.getMemoryOffset(t.dataId)).sort((a: number, b: number) => a - b);
      const heldCount = held.length;
      tf.dispose(held);
      const sum = await tf.sum(tf.add(tf.ones([1000]), tf.ones([1000]))).data();
      return { error, name, heldCount, offsets, sum: sum[0], numTensors: tf.memory().numTensors };
    });
    expect(r.name).toBe('WasmOutOfMemoryError');
    expect(r.error).toMatch(/out of memory: an allocation of 1.00 GB failed.*shorter sequences or a smaller batch/);
    expect(r.heldCount).toBeGreaterThanOrEqual(2); // the heap held at least 2 GB first
    expect(r.offsets[0]).toBeGreaterThan(0);
    for (let i = 1; i < r.offsets.length; i++) expect(r.offsets[i]).toBeGreaterThanOrEqual(r.offsets[i - 1] + 2 ** 30);
    expect(r.sum).toBe(2000);
  }, 180_000);
});
