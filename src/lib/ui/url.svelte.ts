// The lab's state lives in the URL query (?page=train&task=cipher&seed=1...), so a link reproduces a view.
// Unknown or bad parameters are collected in `urlWarnings`, shown to the user, and ignored.
import { untrack } from 'svelte';

export { PAGES, type PageName } from './link-params';
import { readLinkParams, type PageName } from './link-params';

function read(): { params: Record<string, string>; warnings: string[] } {
  return readLinkParams(location.search);
}

const initial = read();
export const url = $state({ params: initial.params, warnings: initial.warnings });

export function param(name: string, fallback = ''): string {
  return url.params[name] ?? fallback;
}

/**
 * Parameters that belong to some pages only: moving to another page drops them, so Steer's alpha does not ride
 * along to the Train page (and a copied link carries only what its page uses).
 */
const OWNED: Record<string, readonly PageName[]> = {
  alpha: ['steer'], top: ['steer'], dir: ['steer'], item: ['steer'], teacher: ['home'],
  split: ['tasks'], preset: ['train'], run: ['report', 'runs'],
  steps: ['train'], batch: ['train'], accum: ['train'], lr: ['train'], warmup: ['train'], every: ['train'], limit: ['train'], decode: ['train'],
  hook: ['neurons', 'steer', 'neuron'], neuron: ['neurons', 'steer', 'neuron'], pairs: ['home', 'neurons', 'steer', 'neuron'],
};

/** The page-owned parameters each page had when the user left it (this tab only). */
const left: Partial<Record<PageName, Record<string, string>>> = {};

/** Sets (or clears with null) parameters and writes them to the address bar without a reload. */
export function setParams(p: Record<string, string | number | null | undefined>, push = false): void {
  // read untracked: an effect that writes settings into the link must not re-run because the link changed
  const next = { ...untrack(() => url.params) };
  if (typeof p.page === 'string' && p.page !== (next.page ?? 'home')) {
    const from = (next.page ?? 'home') as PageName;
    const to = p.page as PageName;
    const kept: Record<string, string> = {};
    for (const k of Object.keys(next)) {
      if (!OWNED[k]) continue;
      if (OWNED[k].includes(from)) kept[k] = next[k];
      if (!OWNED[k].includes(to)) delete next[k];
    }
    left[from] = kept;
    // coming back to a page brings its own settings back (the link then reproduces it again)
    for (const [k, v] of Object.entries(left[to] ?? {})) if (!(k in next) && !(k in p)) next[k] = v;
  }
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
