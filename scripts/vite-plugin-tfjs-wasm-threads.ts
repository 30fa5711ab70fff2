// Vite plugin: keeps tfjs-backend-wasm's threaded build working after minification.
//
// Why: tfjs starts each pthread worker from a Blob holding `wasmFactoryThreadedSimd.toString()`, the source text
// of the emscripten factory function alone. Upstream, that function reads `_scriptDir` from the IIFE around it,
// guarded by `typeof _scriptDir !== "undefined"`, so in the worker (where the closure is gone) the guard is
// simply false. The minifier knows `_scriptDir` is a local binding, renames it (to `e`) and drops the `typeof`
// guard (`e !== void 0`); the text in the Blob then reads a variable that does not exist, and every pthread
// worker dies with "ReferenceError: e is not defined", so the backend never finishes starting.
//
// The fix moves `_scriptDir`'s declaration into the factory itself, so its text is self-contained. In a
// browser the value is the same either way (no `document.currentScript` in a worker, no `__filename`).
import type { Plugin } from 'vite';

const GLUE = /@tensorflow[\\/]tfjs-backend-wasm[\\/]wasm-out[\\/]tfjs-backend-wasm-threaded-simd\.js$/;
export const OUTER =
  "  var _scriptDir = typeof document !== 'undefined' && document.currentScript ? document.currentScript.src : undefined;\n" +
  "  if (typeof __filename !== 'undefined') _scriptDir = _scriptDir || __filename;\n";
const HEAD = 'function(WasmBackendModuleThreadedSimd) {\n';

/** The glue's source with `_scriptDir` declared inside the factory function; throws if the layout changed. */
export function selfContainedFactory(code: string): string {
  const outerAt = code.indexOf(OUTER);
  const headAt = code.indexOf(HEAD);
  if (outerAt < 0 || headAt < outerAt) {
    throw new Error(
      'memgen-tfjs-wasm-threads: the layout of tfjs-backend-wasm-threaded-simd.js changed (was tfjs upgraded?). ' +
        'Check that its factory still closes over _scriptDir, and update scripts/vite-plugin-tfjs-wasm-threads.ts.',
    );
  }
  const without = code.slice(0, outerAt) + code.slice(outerAt + OUTER.length);
  const at = without.indexOf(HEAD) + HEAD.length;
  return without.slice(0, at) + OUTER + without.slice(at);
}

export function tfjsWasmThreads(): Plugin {
  return {
    name: 'memgen-tfjs-wasm-threads',
    enforce: 'pre',
    transform(code, id) {
      if (!GLUE.test(id.split('?')[0])) return null;
      return { code: selfContainedFactory(code), map: null };
    },
  };
}
