// The threaded tfjs-wasm glue, as the lab's build rewrites it: the factory function's own source text (which
// tfjs hands to each pthread worker as a Blob) must run without the IIFE around it. Upstream it closes over
// `_scriptDir`, which breaks once a minifier drops the `typeof` guard (see the plugin's header).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { runInNewContext } from 'node:vm';
import { OUTER, selfContainedFactory } from '../../scripts/vite-plugin-tfjs-wasm-threads';

const require = createRequire(import.meta.url);
const gluePath = require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');

/** Evaluates the glue as a CommonJS module and returns the exported factory's source text. */
function factoryText(code: string): string {
  const module = { exports: {} as unknown };
  runInNewContext(code, { module, exports: module.exports });
  return String(module.exports);
}

describe('tfjs-wasm threads plugin', () => {
  it('moves _scriptDir into the factory, so its text stands alone', () => {
    const code = readFileSync(gluePath, 'utf8');
    // upstream: the factory text uses _scriptDir without declaring it
    const before = factoryText(code);
    expect(before).toMatch(/_scriptDir/);
    expect(before).not.toMatch(/var _scriptDir/);
    // rewritten: declared inside the factory; nothing else changes
    const after = factoryText(selfContainedFactory(code));
    expect(after).toMatch(/^function\(WasmBackendModuleThreadedSimd\) \{\n\s*var _scriptDir = /);
    expect(after.replace(OUTER, '')).toBe(before);
  });

  it('refuses a glue whose layout it does not know, naming the file to update', () => {
    expect(() => selfContainedFactory('var x = 1;')).toThrow(/layout of tfjs-backend-wasm-threaded-simd\.js changed.*vite-plugin-tfjs-wasm-threads\.ts/);
  });
});
