// The lab's Content-Security-Policy as a response header. The dev and preview servers send it with every
// response (vite.config.ts), and the service worker adds it to what it serves (public/sw.js holds a copy, kept
// equal by tests/unit/csp.test.ts). A header, not only index.html's meta tag, because a worker takes its policy
// from its own script's response: without it the GPU worker, which parses every file and makes every fetch,
// ran eval and fetched any host.
//
// Beyond the page's meta policy, the worker needs:
// - script-src blob:  tfjs-wasm's pthread workers importScripts() the emscripten glue from a blob: URL;
// - connect-src http://localhost:* http://127.0.0.1:*  model files the user serves from this machine
//   (the model-URL rule in src/lib/store/download.ts: https anywhere, http only on this machine).
//   The browser checks every redirect hop against connect-src, so a redirect cannot leave the rule either.
// 'wasm-unsafe-eval' compiles WebAssembly without allowing eval or new Function.
import type { Connect, Plugin } from 'vite';

export const LAB_CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval' blob:",
  "worker-src 'self' blob:",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self' https: http://localhost:* http://127.0.0.1:* blob: data:",
  "object-src 'none'",
  "base-uri 'self'",
].join('; ');

/**
 * Sends LAB_CSP with every response of the dev and preview servers. The dev server leaves /tests/ out: the
 * test harness page loads modules with inline scripts (the lab's own pages and its worker are covered).
 */
export function labCsp(): Plugin {
  const set = (skipTests: boolean): Connect.NextHandleFunction => (req, res, next) => {
    if (!(skipTests && (req.url ?? '').startsWith('/tests/'))) res.setHeader('Content-Security-Policy', LAB_CSP);
    next();
  };
  return {
    name: 'memgen-csp',
    configureServer(server) {
      server.middlewares.use(set(true));
    },
    configurePreviewServer(server) {
      server.middlewares.use(set(false));
    },
  };
}
