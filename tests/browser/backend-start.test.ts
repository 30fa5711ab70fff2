// A backend that fails while starting says so: when a wasm worker thread dies on start (as the minified build's
// once did, "ReferenceError: e is not defined"), tfjs's start promise never settles; useBackend must refuse with
// the thread's error instead of waiting for ever (the page then shows it, not "starting").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium, openHarness } from './chromium';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe('backend start', () => {
  it('refuses with the thread error when a wasm worker thread dies on start', async () => {
    const page = await openHarness(browser);
    const r = await page.evaluate(async () => {
      // every pthread script tfjs makes (a Blob of type application/javascript) now throws, as the broken build's did
      const real = URL.createObjectURL.bind(URL);
      URL.createObjectURL = (b: Blob | MediaSource) =>
        b instanceof Blob && b.type === 'application/javascript' ? real(new Blob(['throw new ReferenceError("e is not defined")'], { type: b.type })) : real(b);
      const { useBackend } = (window as unknown as { lab: { useBackend: (n: string) => Promise<string> } }).lab;
      const hung = new Promise<string>((res) => setTimeout(() => res('still starting after 90 s'), 90_000));
      return Promise.race([useBackend('wasm').then((b) => `started ${b}`, (e: Error) => `${e.name}: ${e.message}`), hung]);
    });
    expect(r).toMatch(/^BackendUnavailableError: Could not start the wasm backend: one of its worker threads failed while starting \(.*e is not defined\)/);
    await page.close();
  });
});
