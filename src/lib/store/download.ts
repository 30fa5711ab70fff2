// Model downloads: the model-URL rule (https, or http on this machine) held at every redirect, a streamed download
// with progress and Range resume, and the Cache API, so a model file is fetched once.
export interface DownloadProgress {
  /** The host the bytes come from, after any redirects (reported before the body is read). */
  host?: string;
  /** The host first asked, when the server redirected elsewhere. */
  redirectedFrom?: string;
  loaded: number;
  /** 0 when the server sends no length. */
  total: number;
  bytesPerSec: number;
  /** Seconds left at the current rate (NaN when unknown). */
  etaSec: number;
  fromCache: boolean;
  /** Range resumes after interrupted transfers. */
  resumes: number;
}

/** The Cache API cache that keeps model files. */
export const MODEL_CACHE = 'memgen-models';

/**
 * Only https, or http on this machine: model files are large and must not travel in clear over a network.
 * (No http://[::1]: the lab's CSP, which enforces this rule in the worker, cannot name an IPv6 host.)
 * `redirectedFrom`: the URL that redirected here, named in the refusal.
 */
export function checkModelUrl(url: string, redirectedFrom?: string): URL {
  let u: URL;
  try {
    u = new URL(url, (globalThis as { location?: { href: string } }).location?.href);
  } catch {
    throw new Error(`"${url}" is not a valid URL. Give a full https:// address of a .gguf file.`);
  }
  const local = ['localhost', '127.0.0.1'].includes(u.hostname);
  if (!(u.protocol === 'https:' || (u.protocol === 'http:' && local))) {
    const what = redirectedFrom ? `${redirectedFrom} redirects to ${u.protocol}//${u.host}, which is refused` : `Refusing ${u.protocol}//${u.host}`;
    throw new Error(`${what}: model URLs must be https (or http on localhost). Give the file's https address.`);
  }
  return u;
}

/**
 * fetch() holding every redirect hop to the model-URL rule. Where redirects are visible (Node), each Location is
 * checked before it is followed. Browsers hide them (an opaque redirect): there the lab's CSP (connect-src,
 * scripts/csp.ts) refuses a hop outside the rule before any request leaves, and the final URL is checked here.
 */
export async function fetchModelUrl(url: string, init: RequestInit = {}): Promise<Response> {
  let at = checkModelUrl(url);
  for (let hop = 0; ; hop++) {
    if (hop > 10) throw new Error(`${url} redirects more than 10 times. Give the file's direct address.`);
    const res = await fetch(at.href, { ...init, redirect: 'manual' });
    if (res.type === 'opaqueredirect') break;
    const location = res.status >= 300 && res.status < 400 ? res.headers.get('location') : null;
    if (location === null) return res;
    await res.body?.cancel();
    at = checkModelUrl(new URL(location, at).href, at.href);
  }
  let res: Response;
  try {
    res = await fetch(at.href, { ...init, redirect: 'follow' });
  } catch (e) {
    throw new Error(
      `${at.href} redirects, and the redirect was refused (${(e as Error).message}): model URLs, and every address ` +
        `they redirect to, must be https (or http on localhost), and the server must allow downloads from other sites (CORS). Give the file's final https address.`,
    );
  }
  if (res.redirected && res.url) {
    try {
      checkModelUrl(res.url, at.href);
    } catch (e) {
      await res.body?.cancel();
      throw e;
    }
  }
  return res;
}

/** Streamed download with progress, Range resume on interruption (up to `maxResumes`), as one Blob. */
export async function downloadWithResume(url: string, onProgress?: (p: DownloadProgress) => void, maxResumes = 5): Promise<Blob> {
  const chunks: Uint8Array[] = [];
  let loaded = 0, total = 0, resumes = 0;
  let host: string | undefined, redirectedFrom: string | undefined;
  const t0 = Date.now();
  const report = () => {
    const dt = Math.max((Date.now() - t0) / 1000, 1e-3), rate = loaded / dt;
    onProgress?.({ host, redirectedFrom, loaded, total, bytesPerSec: rate, etaSec: total && rate > 0 ? (total - loaded) / rate : NaN, fromCache: false, resumes });
  };
  for (;;) {
    const headers: Record<string, string> = loaded > 0 ? { Range: `bytes=${loaded}-` } : {};
    let res: Response;
    try {
      res = await fetchModelUrl(url, { headers });
    } catch (e) {
      if (/must be https|redirects/.test((e as Error).message)) throw e;
      if (resumes++ < maxResumes && loaded > 0) continue;
      throw new Error(`Download of ${url} failed: ${(e as Error).message}. Check the address and your connection.`);
    }
    if (loaded > 0 && res.status === 200) { chunks.length = 0; loaded = 0; } // server ignored Range: start over
    else if (!res.ok) throw new Error(`Download of ${url} failed: HTTP ${res.status} ${res.statusText}.`);
    if (loaded === 0) {
      const len = Number(res.headers.get('content-length') ?? 0);
      total = Number.isFinite(len) ? len : 0;
      // the final host, shown before any byte of the body is read
      const first = new URL(url).host;
      host = res.url ? new URL(res.url).host : first;
      redirectedFrom = host !== first ? first : undefined;
      report();
    }
    if (!res.body) throw new Error(`Download of ${url} returned no body.`);
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        loaded += value.byteLength;
        report();
      }
    } catch (e) {
      if (resumes++ < maxResumes) continue; // interrupted mid-stream: ask for the rest
      throw new Error(`Download of ${url} was interrupted ${resumes} times (${(e as Error).message}); try again later.`);
    }
    if (total && loaded < total) {
      if (resumes++ < maxResumes) continue;
      throw new Error(`Download of ${url} stopped at ${loaded} of ${total} bytes.`);
    }
    return new Blob(chunks as BlobPart[]);
  }
}

/**
 * The model file at `url`, from the Cache API when it was fetched before. `check` reads the downloaded file (a GGUF
 * header, say) and throws on a broken one, which is then not cached.
 */
export async function fetchCached(url: string, check: (blob: Blob) => Promise<unknown>, onProgress?: (p: DownloadProgress) => void): Promise<{ blob: Blob; name: string }> {
  const u = checkModelUrl(url);
  const cache = typeof caches !== 'undefined' ? await caches.open(MODEL_CACHE).catch(() => null) : null;
  const hit = await cache?.match(u.href);
  let blob: Blob;
  if (hit) {
    blob = await hit.blob();
    onProgress?.({ loaded: blob.size, total: blob.size, bytesPerSec: 0, etaSec: 0, fromCache: true, resumes: 0 });
  } else {
    blob = await downloadWithResume(u.href, onProgress);
    await check(blob); // a broken download throws here and is not kept
    await cache?.put(u.href, new Response(blob, { headers: { 'content-length': String(blob.size) } })).catch(() => undefined);
  }
  return { blob, name: u.pathname.split('/').pop() || u.href };
}
