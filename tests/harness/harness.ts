// Blank same-origin page for browser tests, the bench and `npm run reproduce`.
// `labImport(path)` loads any lab module: code passed to page.evaluate must not contain a literal `import(`
// (vitest rewrites it to its SSR loader), and tsx's keepNames wraps functions in `__name(...)`.
import { useBackend, tf, wasmThreadsInUse } from '../../src/lib/engine/backend';

const w = window as unknown as Record<string, unknown>;
w.__name = (f: unknown) => f;
w.labImport = (path: string) => import(/* @vite-ignore */ path);
w.lab = { useBackend, tf, wasmThreadsInUse };
w.harnessReady = true;
