// MemGen Lab service worker: precaches the built app on first visit and serves it offline.
// The build (scripts/vite-plugin-offline.ts) replaces the PRECACHE placeholder below with the list of every
// built file and a version hash; without that list (dev server) this worker caches nothing and passes through.
/* eslint-env serviceworker */
const PRECACHE = /*__MEMGEN_PRECACHE__*/ null;

const PREFIX = 'memgen-offline-';
const CACHE = PRECACHE ? PREFIX + PRECACHE.version : null;
// The page must stay cross-origin isolated offline (SharedArrayBuffer for wasm threads), so responses from the
// cache carry the same headers the server sends.
const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};
// The lab's Content-Security-Policy, so the GPU worker has it on a host that sends no headers too (a worker
// takes its policy from its own script's response). A copy of LAB_CSP in scripts/csp.ts (tests/unit/csp.test.ts).
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' blob:; worker-src 'self' blob:; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' https: http://localhost:* http://127.0.0.1:* blob: data:; object-src 'none'; base-uri 'self'";

const scoped = (path) => new URL(path, self.registration.scope).href;

self.addEventListener('install', (event) => {
  if (!CACHE) return;
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // cache: 'reload' skips the HTTP cache, so the precache holds what the server has now.
    await cache.addAll(PRECACHE.files.map((f) => new Request(scoped(f), { cache: 'reload' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

/**
 * A response rebuilt with the isolation and CSP headers (a fetched or cached response's headers are immutable). Also
 * applied to network responses, so the lab is isolated even on a static host that cannot set headers. Only
 * plain same-origin responses are touched (an opaque redirect has status 0 and cannot be rebuilt).
 */
function isolated(res) {
  if (res.type !== 'basic' && res.type !== 'default') return res;
  const headers = new Headers(res.headers);
  for (const [k, v] of Object.entries(ISOLATION)) headers.set(k, v);
  headers.set('Content-Security-Policy', CSP);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (!CACHE || req.method !== 'GET' || !req.url.startsWith(self.registration.scope)) return;
  if (req.mode === 'navigate') {
    // Pages: the network first (a new build shows at once), the cached app shell when offline. The lab's state
    // is in the query (?page=tasks), so every navigation in scope gets index.html.
    event.respondWith((async () => {
      const res = await fetch(req).catch(() => null);
      if (res) return isolated(res);
      const shell = await (await caches.open(CACHE)).match(scoped('index.html'));
      if (shell) return isolated(shell);
      return new Response('MemGen Lab is offline and its app shell is not cached yet: open it once while online.', {
        status: 503, headers: { 'Content-Type': 'text/plain; charset=utf-8' },
      });
    })());
    return;
  }
  // Built files have content hashes in their names: the cache first, the network for anything else.
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(req, { ignoreVary: true });
    return isolated(hit ?? (await fetch(req)));
  })());
});
