import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { cpSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join, normalize } from 'node:path';
import type { Plugin } from 'vite';
import { offlinePrecache } from './scripts/vite-plugin-offline.ts';
import { tfjsWasmThreads } from './scripts/vite-plugin-tfjs-wasm-threads.ts';
import { labCsp } from './scripts/csp.ts';

/** Serves ./static-models at /static-models in dev and copies it into the build (shipped checkpoints). */
function staticModels(): Plugin {
  const dir = join(process.cwd(), 'static-models');
  return {
    name: 'memgen-static-models',
    configureServer(server) {
      server.middlewares.use('/static-models', (req, res, next) => {
        const rel = normalize(decodeURIComponent((req.url ?? '/').split('?')[0])).replace(/^([/\\])+/, '');
        const file = join(dir, rel);
        if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) return next();
        res.setHeader('Content-Type', file.endsWith('.json') ? 'application/json' : 'application/octet-stream');
        res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
        res.end(readFileSync(file));
      });
    },
    writeBundle(options) {
      if (existsSync(dir)) cpSync(dir, join(options.dir ?? 'dist', 'static-models'), { recursive: true });
    },
  };
}

// Cross-origin isolation lets the wasm backend use SharedArrayBuffer (threads) in the worker.
// The CSP (scripts/csp.ts, sent by labCsp()) is strict: no eval, no remote scripts; connect-src allows the
// model downloads the user asks for (https, or http on this machine).
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  plugins: [svelte(), staticModels(), offlinePrecache(), tfjsWasmThreads(), labCsp()],
  base: './',
  // The worker bundle gets its own plugins: the lab's tfjs runs there.
  worker: { format: 'es', plugins: () => [tfjsWasmThreads()] },
  // Pre-bundle every dependency up front, so a page never reloads mid-test to optimize a late discovery.
  optimizeDeps: {
    include: ['d3', 'comlink', 'idb-keyval', 'zod', '@tensorflow/tfjs', '@tensorflow/tfjs-backend-webgpu', '@tensorflow/tfjs-backend-wasm'],
    entries: ['index.html', 'tests/harness/index.html'],
  },
  server: { headers: isolation, port: 5173, strictPort: false },
  preview: { headers: isolation },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          environment: 'node',
          include: ['tests/unit/**/*.test.ts'],
          testTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          environment: 'node',
          include: ['tests/browser/**/*.test.ts'],
          globalSetup: ['tests/browser/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
