// The LLaMA page in headless Chromium on the wasm backend: load the tiny Q8_0 GGUF through the file input,
// read the info panel, chat, run a 4-step LoRA fine-tune on cipher with live charts and a stored adapter,
// then hand the model to the Neurons page, which shows it as the active model. A wrong file gives a plain error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { join, resolve } from 'node:path';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { baseUrl, launchChromium, screenshotDir } from './chromium';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe('LLaMA page', () => {
  it('loads a GGUF file, chats, fine-tunes with live charts, stores the adapter and hands the model to Neurons', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 1000 } });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${baseUrl()}/?page=llama&backend=wasm`, { timeout: 120_000 });
    await page.waitForSelector('h1:has-text("LLaMA")');
    await page.waitForSelector('[data-testid=llama-file]:not([disabled])', { timeout: 120_000 });

    // a file that is not a GGUF: a plain-words error, nothing loaded
    const bad = join(process.cwd(), 'test-output', 'not-a-model.gguf');
    mkdirSync(join(process.cwd(), 'test-output'), { recursive: true });
    writeFileSync(bad, 'hello, I am not a model');
    await page.setInputFiles('[data-testid=llama-file]', bad);
    await page.waitForSelector('[data-testid=llama-error]');
    expect(await page.textContent('[data-testid=llama-error]')).toMatch(/Could not use "not-a-model.gguf"/);

    // a download that fails on the network is reported as a network failure, not as a bad file
    await ctx.route('https://models.example.test/**', (r) => r.abort('internetdisconnected'));
    await page.fill('[data-testid=llama-url]', 'https://models.example.test/Llama-3.2-1B-Q4_K_M.gguf');
    await page.click('[data-testid=llama-url-load]');
    await page.waitForFunction(() => /network/.test(document.querySelector('[data-testid=llama-error]')?.textContent ?? ''), null, { timeout: 60_000 });
    const net = await page.textContent('[data-testid=llama-error]');
    expect(net).toMatch(/the network failed .*check the connection/);
    expect(net).not.toMatch(/valid GGUF/);

    // the tiny fixture: header, info panel, then weights
    await page.setInputFiles('[data-testid=llama-file]', resolve('tests/fixtures/tiny-llama-q8_0.gguf'));
    await page.waitForSelector('[data-testid=llama-status]:has-text("loaded")', { timeout: 120_000 });
    expect(await page.isVisible('[data-testid=llama-error]')).toBe(false);
    const infoText = await page.textContent('[data-testid=llama-info]');
    expect(infoText).toContain('tiny-llama-q8_0.gguf');
    expect(infoText).toMatch(/Architecture\s*llama/);
    expect(await page.textContent('[data-testid=llama-layers]')).toBe('2');
    expect(await page.textContent('[data-testid=llama-quant]')).toMatch(/Q8_0 × \d+/);
    expect(infoText).toMatch(/wasm backend/);

    // chat
    await page.fill('[data-testid=chat-input]', 'the cat');
    await page.click('[data-testid=chat-send]');
    await page.waitForSelector('[data-testid=chat-output]', { timeout: 120_000 });
    // the fixture's weights are random: the page says its output is noise
    expect(await page.textContent('[data-testid=random-weights]')).toMatch(/untrained random weights: the output is noise/);
    expect(((await page.textContent('[data-testid=chat-output]')) ?? '').length).toBeGreaterThan(0);

    // fine-tune: cipher, 4 updates, evaluate every 2 on 2 prompts
    await page.selectOption('[data-testid=ft-task]', 'cipher');
    await page.fill('[data-testid=ft-steps]', '4');
    await page.fill('[data-testid=ft-accum]', '2');
    await page.fill('[data-testid=ft-lr]', '0.001');
    await page.fill('[data-testid=ft-eval-every]', '2');
    await page.fill('[data-testid=ft-eval-limit]', '2');
    await page.click('[data-testid=ft-start]');
    await page.waitForSelector('[data-testid=ft-live] [data-testid=line-chart] path[d]', { timeout: 300_000, state: 'attached' });
    await page.waitForSelector('text=Fine-tuning finished', { timeout: 300_000 });
    // the progress line says it finished, never the last evaluation's stale "decoding validation prompts"
    const done = await page.textContent('[data-testid=ft-live] [data-testid=progress]');
    expect(done).toMatch(/finished: 4 \/ 4 steps \(100%\)/);
    expect(done).not.toMatch(/decoding validation prompts/);
    const lossPath = await page.getAttribute('[data-testid=ft-live] [data-testid=line-chart] path[d]', 'd');
    expect((lossPath ?? '').length).toBeGreaterThan(20);
    await page.waitForSelector('[data-testid=label-shares] path[d]', { state: 'attached' });
    expect(await page.textContent('[data-testid=ft-live]')).toMatch(/step 4 · loss \d/);
    expect(await page.textContent('[data-testid=ft-best]')).toMatch(/best: step [24], \d gen, \d mem, \d other/);
    // the best adapter is attached and stored in IndexedDB (the table reads the store)
    expect(await page.textContent('[data-testid=adapter-info]')).toMatch(/Attached: fine-tune on cipher \(best at step [24]\)/);
    await page.waitForSelector('[data-testid=adapter-runs] tr:has-text("done")');
    expect(await page.textContent('[data-testid=adapter-runs] tbody tr')).toMatch(/LLaMA LoRA tiny-llama-q8_0\.gguf on cipher.*done.*4 \/ 4/);
    await page.screenshot({ path: join(screenshotDir(), 'llama-finetuned.png'), fullPage: true });

    // download the adapter: a GGUF file
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=adapter-download]')]);
    const path = join(process.cwd(), 'test-output', 'lora-adapter.gguf');
    await dl.saveAs(path);
    expect(readFileSync(path).subarray(0, 4).toString('latin1')).toBe('GGUF');

    // hand over to Neurons
    await page.click('[data-testid=use-for-neurons]');
    await page.waitForSelector('[data-testid=handed]');
    await page.click('[data-testid=goto-neurons]');
    await page.waitForSelector('[data-testid=active-model]', { timeout: 60_000 });
    const active = await page.textContent('[data-testid=active-model]');
    expect(active).toMatch(/LLaMA tiny-llama-q8_0\.gguf \(cipher, llama/);
    await page.screenshot({ path: join(screenshotDir(), 'llama-neurons.png'), fullPage: true });
    expect(errors).toEqual([]);
    await ctx.close();
  });
});
