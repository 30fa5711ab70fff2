// The lab's layering rules, checked on the import graph (value imports only; `import type` costs nothing at run time):
// pages never reach tfjs nor a compute module (no tensor math in the page: figures come from src/lib/report's
// view-models, work from the worker), the worker's code never touches the DOM, and a model knows no trainer. The checker itself is tested on a planted fault, so a broken walker cannot pass silently.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { tmpdir } from 'node:os';

const ROOT = process.cwd();
// value imports and re-exports (not `import type` / `export type`), and dynamic imports
const IMPORT =
  /^\s*import\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|^\s*export\s+(?!type\s)[^'";]*?\sfrom\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;

function resolveImport(from: string, spec: string): string | null {
  const base = resolve(dirname(from), spec.replace(/\?.*$/, ''));
  for (const c of [base, `${base}.ts`, `${base}.svelte`, `${base}.svelte.ts`, join(base, 'index.ts')]) {
    if (existsSync(c) && statSync(c).isFile()) return c;
  }
  return null;
}

function sourceOf(file: string): string {
  const src = readFileSync(file, 'utf8');
  if (!file.endsWith('.svelte')) return src;
  return [...src.matchAll(/<script[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]).join('\n');
}

/** Walks the value-import graph from `entry`; returns the chain to the first module matching `bad`, or null. */
export function findPath(entry: string, bad: (spec: string, file: string) => boolean): string[] | null {
  const via = new Map<string, string | null>([[entry, null]]);
  const stack = [entry];
  while (stack.length) {
    const f = stack.pop()!;
    for (const m of sourceOf(f).matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3];
      const target = spec.startsWith('.') ? resolveImport(f, spec) : null;
      if (bad(spec, target ?? spec)) {
        const chain = [spec];
        for (let x: string | null = f; x; x = via.get(x) ?? null) chain.unshift(relative(ROOT, x));
        return chain;
      }
      if (target && !via.has(target)) {
        via.set(target, f);
        stack.push(target);
      }
    }
  }
  return null;
}

const filesIn = (dir: string, ext: RegExp): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? filesIn(join(dir, d.name), ext) : ext.test(d.name) ? [join(dir, d.name)] : [],
  );

const tfjs = (spec: string) => spec.startsWith('@tensorflow/');

/** The pipeline's compute folders: a module there is a compute module when its own import graph reaches tfjs. */
const COMPUTE_DIRS = ['models', 'kernels', 'gguf', 'engine', 'neurons', 'steer', 'train'];
function computeModules(lib: string): (spec: string, file: string) => boolean {
  const memo = new Map<string, boolean>();
  return (_spec, file) => {
    if (!COMPUTE_DIRS.some((d) => file.startsWith(join(lib, d) + '/')) || !existsSync(file)) return false;
    if (!memo.has(file)) memo.set(file, findPath(file, tfjs) !== null);
    return memo.get(file)!;
  };
}
const compute = computeModules(join(ROOT, 'src/lib'));

describe('layering', () => {
  const views = [...filesIn(join(ROOT, 'src/pages'), /\.svelte$/), join(ROOT, 'src/App.svelte'), ...filesIn(join(ROOT, 'src/lib/ui'), /\.(svelte|ts)$/)];

  it('finds the pages and views it checks', () => {
    expect(views.length).toBeGreaterThan(8);
  });

  it.each(views.map((v) => [relative(ROOT, v), v]))('%s never imports tfjs, directly or through a module', (_name, file) => {
    expect(findPath(file, tfjs)).toBeNull();
  });

  // A tfjs-free helper of a compute folder (the checkpoint rule, the preset table, the small-sample warnings) is fine;
  // a module that reaches tfjs is not, even when the page would only use a pure function of it.
  it.each(views.map((v) => [relative(ROOT, v), v]))('%s never imports a compute module (one that reaches tfjs)', (_name, file) => {
    expect(findPath(file, compute)).toBeNull();
  });

  it('the worker never touches the DOM', () => {
    const entry = join(ROOT, 'src/lib/worker/gpu.worker.ts');
    const dom = (_spec: string, file: string) =>
      file.startsWith(ROOT) && existsSync(file) && /\b(document|window)\s*\.\s*[a-zA-Z]/.test(sourceOf(file).replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, ''));
    expect(findPath(entry, dom)).toBeNull();
    expect(findPath(entry, (s) => s.endsWith('.svelte') || s === 'd3' || s.startsWith('d3-'))).toBeNull();
  });

  it('a model knows no trainer, no worker and no storage', () => {
    const outside = ['train', 'worker', 'store'].map((d) => `${join(ROOT, 'src/lib', d)}/`);
    for (const f of filesIn(join(ROOT, 'src/lib/models'), /\.ts$/)) {
      const trainer = (_spec: string, file: string) => outside.some((d) => file.includes(d));
      expect(findPath(f, trainer), relative(ROOT, f)).toBeNull();
    }
  });

  it('the checker catches a planted fault through a chain of modules', () => {
    const dir = mkdtempSync(join(tmpdir(), 'layering-'));
    writeFileSync(join(dir, 'Page.svelte'), `<script lang="ts">\n  import type { X } from './types';\n  import { f } from './helper';\n</script>\n<p>{f()}</p>\n`);
    writeFileSync(join(dir, 'types.ts'), `import * as tf from '@tensorflow/tfjs';\nexport type X = tf.Tensor;\n`);
    writeFileSync(join(dir, 'helper.ts'), `export { g as f } from './deep';\n`);
    writeFileSync(join(dir, 'deep.ts'), `import * as tf from '@tensorflow/tfjs';\nexport const g = () => tf.scalar(1);\n`);
    const path = findPath(join(dir, 'Page.svelte'), tfjs);
    expect(path?.slice(-3).map((p) => p.replace(/^.*\/(?=[^/]+\.ts$)/, ''))).toEqual(['helper.ts', 'deep.ts', '@tensorflow/tfjs']);
    // a type-only import of a tfjs module is fine
    writeFileSync(join(dir, 'Page.svelte'), `<script lang="ts">\n  import type { X } from './types';\n</script>\n`);
    expect(findPath(join(dir, 'Page.svelte'), tfjs)).toBeNull();
  });

  it('the compute-module rule catches a page that reaches a steering module through a view helper', () => {
    const lib = mkdtempSync(join(tmpdir(), 'layering-lib-'));
    for (const d of ['pages', 'ui', 'steer', 'models', 'train']) mkdirSync(join(lib, d));
    // Page -> ui/helper -> steer/sweep (a compute module: it reaches tfjs through models/m) and train/rule (pure)
    writeFileSync(join(lib, 'pages/Page.svelte'), `<script lang="ts">\n  import { bars } from '../ui/helper';\n  import { better } from '../train/rule';\n</script>\n`);
    writeFileSync(join(lib, 'ui/helper.ts'), `import { shares } from '../steer/sweep';\nexport const bars = () => shares();\n`);
    writeFileSync(join(lib, 'steer/sweep.ts'), `import { M } from '../models/m';\nexport const shares = () => [M.length];\n`);
    writeFileSync(join(lib, 'models/m.ts'), `import * as tf from '@tensorflow/tfjs';\nexport const M = [tf.version];\n`);
    writeFileSync(join(lib, 'train/rule.ts'), `export const better = (a: number, b: number) => a > b;\n`);
    const rule = computeModules(lib);
    const path = findPath(join(lib, 'pages/Page.svelte'), rule);
    expect(path?.slice(-2)).toEqual([relative(ROOT, join(lib, 'ui/helper.ts')), '../steer/sweep']);
    // without the steering helper, the tfjs-free train/rule import passes
    writeFileSync(join(lib, 'ui/helper.ts'), `export const bars = () => [1];\n`);
    expect(findPath(join(lib, 'pages/Page.svelte'), rule)).toBeNull();
    // and the rule is what finds it: models/m itself is a compute module, train/rule is not
    expect(rule('', join(lib, 'models/m.ts'))).toBe(true);
    expect(rule('', join(lib, 'train/rule.ts'))).toBe(false);
  });
});
