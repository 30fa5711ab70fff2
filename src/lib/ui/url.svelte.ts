// The lab's state lives in the URL query (?page=train&task=cipher&seed=1...), so a link reproduces a view.
// Unknown or bad parameters are collected in `urlWarnings`, shown to the user, and ignored.
import { untrack } from 'svelte';

export const PAGES = ['home', 'tasks', 'train', 'neurons', 'steer', 'llama', 'runs', 'report', 'device'] as const;
export type PageName = (typeof PAGES)[number];

/** Every parameter the lab understands, with a validator. */
const KNOWN: Record<string, (v: string) => boolean> = {
  page: (v) => (PAGES as readonly string[]).includes(v),
  task: (v) => ['arithmetic', 'cipher', 'color', 'mixed'].includes(v),
  /** The task analyzed on a mixed model. */
  part: (v) => ['arithmetic', 'cipher', 'color'].includes(v),
  seed: (v) => /^\d{1,9}$/.test(v),
  preset: (v) => /^[a-z0-9-]{1,32}$/.test(v),
  backend: (v) => ['webgpu', 'wasm'].includes(v),
  checkpoint: (v) => /^[\w.:-]{1,128}$/.test(v),
  split: (v) => ['train', 'val', 'pairs'].includes(v),
  run: (v) => /^[\w.:-]{1,128}$/.test(v),
  hook: (v) => /^[\w.]{1,64}$/.test(v),
  alpha: (v) => Number.isFinite(Number(v)) && Math.abs(Number(v)) <= 100,
  top: (v) => Number.isFinite(Number(v)) && Number(v) > 0 && Number(v) <= 1,
  pairs: (v) => /^\d{2,6}$/.test(v) && Number(v) >= 10,
  neuron: (v) => /^\d{1,7}$/.test(v),
  dir: (v) => ['toGen', 'toMem'].includes(v),
};

function read(): { params: Record<string, string>; warnings: string[] } {
  const params: Record<string, string> = {};
  const warnings: string[] = [];
  const q = new URLSearchParams(location.search);
  for (const [k, v] of q) {
    const check = KNOWN[k];
    if (!check) warnings.push(`Unknown link parameter "${k}" was ignored.`);
    else if (!check(v)) warnings.push(`Link parameter ${k}="${v.slice(0, 40)}" is not valid and was ignored.`);
    else params[k] = v;
  }
  return { params, warnings };
}

const initial = read();
export const url = $state({ params: initial.params, warnings: initial.warnings });

export function param(name: string, fallback = ''): string {
  return url.params[name] ?? fallback;
}

/** Sets (or clears with null) parameters and writes them to the address bar without a reload. */
export function setParams(p: Record<string, string | number | null | undefined>, push = false): void {
  // read untracked: an effect that writes settings into the link must not re-run because the link changed
  const next = { ...untrack(() => url.params) };
  for (const [k, v] of Object.entries(p)) {
    if (v === null || v === undefined || v === '') delete next[k];
    else next[k] = String(v);
  }
  url.params = next;
  const q = new URLSearchParams(next).toString();
  const href = `${location.pathname}${q ? `?${q}` : ''}${location.hash}`;
  if (push) history.pushState(null, '', href);
  else history.replaceState(null, '', href);
}

export function currentPage(): PageName {
  return (url.params.page as PageName) ?? 'home';
}

if (typeof window !== 'undefined') {
  window.addEventListener('popstate', () => {
    const r = read();
    url.params = r.params;
    url.warnings = r.warnings;
  });
}
