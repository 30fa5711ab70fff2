// Vite plugin: after a build, writes the service worker's precache list into <outDir>/sw.js (copied there from
// public/sw.js). The list is every file of the build (index.html, assets, wasm, static-models/*) and the
// version is a hash of their contents, so a new build gives a new sw.js, which the browser then reinstalls.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import type { Plugin } from 'vite';

const PLACEHOLDER = '/*__MEMGEN_PRECACHE__*/ null';
/** Left out of the precache: the worker itself, source maps, and hidden files. */
const skip = (rel: string) => rel === 'sw.js' || rel.endsWith('.map') || rel.split('/').some((p) => p.startsWith('.'));

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}

export function offlinePrecache(): Plugin {
  let outDir = '';
  return {
    name: 'memgen-offline-precache',
    apply: 'build',
    configResolved(c) {
      outDir = resolve(c.root, c.build.outDir);
    },
    // closeBundle runs after every writeBundle hook, so files other plugins copy (static-models) are listed too.
    closeBundle() {
      const swPath = join(outDir, 'sw.js');
      if (!existsSync(swPath)) throw new Error(`memgen-offline-precache: ${swPath} is missing; public/sw.js should be copied into the build.`);
      const sw = readFileSync(swPath, 'utf8');
      if (!sw.includes(PLACEHOLDER)) throw new Error(`memgen-offline-precache: ${swPath} has no "${PLACEHOLDER}" placeholder to fill.`);
      const files = listFiles(outDir).map((p) => relative(outDir, p).split(sep).join('/')).filter((f) => !skip(f)).sort();
      const hash = createHash('sha256');
      for (const f of files) hash.update(f).update('\0').update(readFileSync(join(outDir, f)));
      const precache = { version: hash.digest('hex').slice(0, 16), files };
      writeFileSync(swPath, sw.replace(PLACEHOLDER, JSON.stringify(precache)));
    },
  };
}
