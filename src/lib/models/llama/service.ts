import * as Comlink from 'comlink';
// LlamaService: what the worker exposes as `lab.llama` (pages call `await getLab().llama.method(...)`).
// Loads a GGUF LLaMA from an ArrayBuffer, a Blob/File (header first, then tensor by tensor) or a URL
// (https or localhost; streamed with progress/ETA, cached with the Cache API, resumed with Range requests),
// reports its shape and memory, generates text, and hands the HookedModel to recording/steering code.
import { metaString, parseGGUF, readGGUFHeader, type GGUFHeader, type GGUFSource } from '../../gguf/reader';
import { LlamaModel, generate } from './model';
import { configFromGGUF } from './config';
import { LlamaTokenizer } from './tokenizer';
import { isQFormat } from '../../kernels/qmatmul';
import { LoraAdapters, type LoraConfig } from './lora';
import { createAdapters, defaultFineTuneConfig, fineTune, type FineTuneConfig, type FineTuneEval, type FineTuneLog } from './finetune';
import { JobTracker, CancelledError, type Progress } from '../../worker/jobs';
import { newRun, saveArtifacts, saveRun, type RunRecord } from '../../store/runs';

export interface LlamaInfo {
  name: string;
  arch: string;
  nLayer: number;
  dModel: number;
  dMlp: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  vocabSize: number;
  nCtx: number;
  ropeBase: number;
  tiedOutput: boolean;
  /** Number of tensors of each ggml type in the file. */
  quantTypes: Record<string, number>;
  fileBytes: number;
  /** Bytes of weights held on the device (quantized blocks stay packed). */
  weightBytes: number;
  /** weightBytes + an f32 KV cache for one sequence at the full context length. */
  estimatedGpuBytes: number;
}

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

export interface GenerateRequest {
  maxTokens?: number;
  greedy?: boolean;
  /** Wrap the prompt in the Llama-3 chat format (user turn + assistant header). */
  chat?: boolean;
  temperature?: number;
  topK?: number;
  seed?: number;
}

export interface GenerateResult {
  text: string;
  ids: number[];
  promptIds: number[];
}

/** What a GGUF header says about a model, before any weight is allocated. */
export interface LlamaPlan {
  name: string;
  arch: string;
  nLayer: number;
  dModel: number;
  nHead: number;
  nHeadKv: number;
  /** Head size and MLP width (the memory plan needs them). */
  headDim?: number;
  dMlp?: number;
  vocabSize: number;
  nCtx: number;
  quantTypes: Record<string, number>;
  fileBytes: number;
  /** Device bytes of the weights once loaded (quantized blocks stay packed, the rest becomes F32). */
  weightBytes: number;
  /** The largest single weight buffer: it must fit maxStorageBufferBindingSize and maxBufferSize. */
  largestBuffer: { name: string; bytes: number };
  /** The lab's test fixtures (scripts/make-fixtures.ts): random, untrained weights, so any output is noise. */
  randomWeights: boolean;
}

export interface AdapterInfo {
  r: number;
  alpha: number;
  dropout: number;
  targets: string[];
  params: number;
  /** Where it came from: "fine-tune (best at step 40)", "file foo.gguf"... */
  source: string;
}

export interface FineTuneEvents {
  onStart?: (i: { jobId: string; runId: string; config: FineTuneConfig; adapterParams: number }) => void;
  onLog?: (e: FineTuneLog) => void;
  onEval?: (e: FineTuneEval, isBest: boolean) => void;
  onProgress?: (p: Progress) => void;
  onDone?: (status: 'done' | 'cancelled' | 'failed', message?: string) => void;
}

export interface FineTuneSummary {
  status: 'done' | 'cancelled' | 'failed';
  message?: string;
  runId: string;
  best: FineTuneEval | null;
  steps: number;
}

const CACHE_NAME = 'memgen-models';

/** Plans a load from the header alone (dims, quant types, device bytes), with the same checks as loading. */
export function planFromHeader(h: GGUFHeader, name: string): LlamaPlan {
  const c = configFromGGUF(h); // throws on a wrong architecture or inconsistent dims
  LlamaTokenizer.fromGGUF(h); // throws on an unsupported tokenizer
  const quantTypes: Record<string, number> = {};
  let weightBytes = 0, largest = { name: '', bytes: 0 };
  for (const t of h.tensors) {
    quantTypes[t.type] = (quantTypes[t.type] ?? 0) + 1;
    if (t.dims.length !== 2) continue; // norms and rope factors: small
    const bytes = t.type === 'F32' || !isQFormat(t.type) ? t.nElements * 4 : t.nBytes;
    weightBytes += bytes;
    if (bytes > largest.bytes) largest = { name: t.name, bytes };
  }
  return {
    name, arch: 'llama', nLayer: c.nLayer, dModel: c.dModel, nHead: c.nHead, nHeadKv: c.nHeadKv, headDim: c.headDim, dMlp: c.dMlp, vocabSize: c.vocabSize,
    nCtx: c.nCtx, quantTypes, fileBytes: h.fileSize, weightBytes, largestBuffer: largest,
    randomWeights: /^memgen-(tiny|random)-llama/.test(metaString(h, 'general.name', '')), // fixtures and the full-size bench file
  };
}

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

export class LlamaService {
  /** Reached from pages as a nested Comlink proxy (`lab.llama.method()`). */
  readonly [Comlink.proxyMarker] = true;
  private model: LlamaModel | null = null;
  private header: GGUFHeader | null = null;
  private name = '';
  /** A file whose header was read (inspect*) but whose weights are not loaded yet. */
  private pending: { blob: Blob; header: GGUFHeader; name: string } | null = null;
  private adapter: LoraAdapters | null = null;
  private adapterSource = '';
  private tuning: JobTracker | null = null;
  private nextJob = 1;

  /** Load from bytes in memory. */
  async loadFromBuffer(buf: ArrayBuffer, name: string): Promise<LlamaInfo> {
    return this.load(buf, parseGGUF(buf), name);
  }

  /** Load from a File/Blob: the header is read first, then each tensor once. */
  async loadFromBlob(blob: Blob, name: string): Promise<LlamaInfo> {
    return this.load(blob, await readGGUFHeader(blob), name);
  }

  /** Load from https (or localhost), from the Cache API when the file was fetched before. */
  async loadFromUrl(url: string, onProgress?: (p: DownloadProgress) => void): Promise<LlamaInfo> {
    const { blob, name } = await this.fetchCached(url, onProgress);
    return this.loadFromBlob(blob, name);
  }

  /** The model file at `url`, from the Cache API when it was fetched before; only files that parse are cached. */
  private async fetchCached(url: string, onProgress?: (p: DownloadProgress) => void): Promise<{ blob: Blob; name: string }> {
    const u = checkModelUrl(url);
    const cache = typeof caches !== 'undefined' ? await caches.open(CACHE_NAME).catch(() => null) : null;
    const hit = await cache?.match(u.href);
    let blob: Blob;
    if (hit) {
      blob = await hit.blob();
      onProgress?.({ loaded: blob.size, total: blob.size, bytesPerSec: 0, etaSec: 0, fromCache: true, resumes: 0 });
    } else {
      blob = await downloadWithResume(u.href, onProgress);
      await readGGUFHeader(blob); // a broken download throws here and is not kept
      await cache?.put(u.href, new Response(blob, { headers: { 'content-length': String(blob.size) } })).catch(() => undefined);
    }
    return { blob, name: u.pathname.split('/').pop() || u.href };
  }

  private async load(src: GGUFSource, h: GGUFHeader, name: string): Promise<LlamaInfo> {
    this.assertIdle();
    const m = await LlamaModel.fromGGUF(src, h);
    this.unload();
    this.model = m;
    this.header = h;
    this.name = name;
    return this.info();
  }

  isLoaded(): boolean {
    return this.model !== null;
  }

  info(): LlamaInfo {
    const m = this.need(), h = this.header!, c = m.config;
    const quantTypes: Record<string, number> = {};
    for (const t of h.tensors) quantTypes[t.type] = (quantTypes[t.type] ?? 0) + 1;
    const kv = 2 * c.nLayer * c.nCtx * c.nHeadKv * c.headDim * 4;
    return {
      name: this.name, arch: 'llama', nLayer: c.nLayer, dModel: c.dModel, dMlp: c.dMlp, nHead: c.nHead, nHeadKv: c.nHeadKv,
      headDim: c.headDim, vocabSize: c.vocabSize, nCtx: c.nCtx, ropeBase: c.ropeBase, tiedOutput: c.tiedOutput,
      quantTypes, fileBytes: h.fileSize, weightBytes: m.weightBytes, estimatedGpuBytes: m.weightBytes + kv,
    };
  }

  async generate(prompt: string, o: GenerateRequest = {}): Promise<GenerateResult> {
    const m = this.need();
    const tok = m.tokenizer;
    const addBos = this.header!.metadata['tokenizer.ggml.add_bos_token'] !== false;
    const promptIds = o.chat ? tok.encode(tok.formatChat([{ role: 'user', content: prompt }])) : tok.encode(prompt, { addBos });
    const ids = await generate(m, promptIds, {
      maxTokens: o.maxTokens ?? 64, greedy: o.greedy ?? !o.temperature, temperature: o.temperature, topK: o.topK, seed: o.seed,
    });
    return { text: tok.decode(ids, { skipSpecial: true }), ids, promptIds };
  }

  /** The HookedModel (worker side only: it holds tensors). */
  getModel(): LlamaModel {
    return this.need();
  }

  unload(): void {
    this.assertIdle();
    this.adapter?.dispose();
    this.adapter = null;
    this.model?.dispose();
    this.model = null;
    this.header = null;
  }

  // ---- reading the header before allocating --------------------------------------------------------

  /** Reads a File/Blob's header only; `loadInspected()` then loads it. Throws on a wrong architecture or a broken file. */
  async inspectBlob(blob: Blob, name: string): Promise<LlamaPlan> {
    const header = await readGGUFHeader(blob);
    const plan = planFromHeader(header, name);
    this.pending = { blob, header, name };
    return plan;
  }

  /** Downloads (or takes from the Cache API) and reads the header; `loadInspected()` then loads it. */
  async inspectUrl(url: string, onProgress?: (p: DownloadProgress) => void): Promise<LlamaPlan> {
    const { blob, name } = await this.fetchCached(url, onProgress);
    return this.inspectBlob(blob, name);
  }

  /** Loads the file last inspected. */
  async loadInspected(): Promise<LlamaInfo> {
    const p = this.pending;
    if (!p) throw new Error('No model file was inspected: choose a file or a URL first.');
    const info = await this.load(p.blob, p.header, p.name);
    this.pending = null;
    return info;
  }

  // ---- LoRA: fine-tuning and adapter files ----------------------------------------------------------

  fineTuneDefaults(task: FineTuneConfig['task']): FineTuneConfig {
    return defaultFineTuneConfig(task);
  }

  isFineTuning(): boolean {
    return this.tuning !== null;
  }

  /** Pauses or resumes the running fine-tune (between forward passes). */
  pauseFineTune(paused: boolean): boolean {
    if (this.tuning) this.tuning.paused = paused;
    return this.tuning !== null;
  }

  /** Stops the running fine-tune at its next forward pass; the best adapter so far stays attached. */
  cancelFineTune(): boolean {
    if (this.tuning) this.tuning.cancelled = true;
    return this.tuning !== null;
  }

  /**
   * LoRA fine-tuning on a task (defaults as the authors; see finetune.ts). Resolves when the run ends; events
   * report it live. The best adapter (#gen x #mem) is saved as run artifact "best" (GGUF bytes) and is the one
   * attached afterwards (the last one when no evaluation ran).
   */
  async fineTune(opts: Partial<FineTuneConfig> & { task: FineTuneConfig['task'] }, events: FineTuneEvents = {}): Promise<FineTuneSummary> {
    const m = this.need();
    this.assertIdle();
    const base = defaultFineTuneConfig(opts.task);
    const cfg: FineTuneConfig = { ...base, ...opts, lora: { ...base.lora, ...(opts.lora ?? {}) } as LoraConfig };
    const tracker = new JobTracker(`llama-ft-${this.nextJob++}`, events.onProgress, 'steps');
    const adapters = createAdapters(m, cfg); // validates the LoRA config
    this.tuning = tracker;
    const record: RunRecord = newRun('train', `LLaMA LoRA ${this.name} on ${cfg.task} (seed ${cfg.seed})`, { ...cfg, model: 'llama-lora', base: this.name });
    let best: { eval: FineTuneEval; bytes: Uint8Array } | null = null;
    let last: FineTuneLog | undefined;
    const evals: FineTuneEval[] = [];
    let status: FineTuneSummary['status'] = 'done', message: string | undefined;
    try {
      await saveRun(record);
      // the old adapter is replaced by the new one (dispose it only once the run owns the model)
      this.adapter?.dispose();
      this.adapter = null;
      const params = Object.values(adapters.vars).reduce((a, v) => a + v.size, 0);
      events.onStart?.({ jobId: tracker.jobId, runId: record.id, config: cfg, adapterParams: params });
      tracker.report('training', 0, cfg.steps);
      await fineTune(m, adapters, cfg, {
        checkpoint: () => tracker.checkpoint(),
        onLog: (e) => {
          last = e;
          events.onLog?.(e);
          tracker.report('training', e.step, cfg.steps, `loss ${e.loss.toFixed(4)}`);
        },
        onEvalProgress: (d, t) => tracker.report('decoding validation prompts', last?.step ?? 0, cfg.steps, `${d}/${t} prompts`),
        onEval: async (e, bytes) => {
          evals.push(e);
          if (bytes) {
            best = { eval: e, bytes };
            record.summary = { step: e.step, steps: cfg.steps, loss: last?.loss, best: e, evals, task: cfg.task };
            await saveArtifacts(record, { best: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer });
          }
          events.onEval?.(e, bytes !== null);
        },
      });
    } catch (e) {
      if (e instanceof CancelledError) { status = 'cancelled'; message = 'Stopped. The best adapter so far is kept.'; }
      else { status = 'failed'; message = (e as Error).message; }
    } finally {
      this.tuning = null;
    }
    // Attach the best adapter (it is what the paper analyses); the last one when no evaluation ran.
    const b = best as { eval: FineTuneEval; bytes: Uint8Array } | null;
    if (b) {
      adapters.dispose();
      this.adapter = LoraAdapters.fromGGUF(b.bytes, m);
      this.adapterSource = `fine-tune on ${cfg.task} (best at step ${b.eval.step})`;
    } else {
      this.adapter = adapters;
      this.adapterSource = `fine-tune on ${cfg.task} (step ${last?.step ?? 0}, not evaluated)`;
    }
    m.attachAdapters(this.adapter);
    record.status = status === 'done' ? 'done' : status;
    record.error = status === 'failed' ? message : undefined;
    record.summary = { ...record.summary, step: last?.step ?? 0, steps: cfg.steps, loss: last?.loss, best: b?.eval ?? null, evals, task: cfg.task };
    try {
      await saveRun(record);
    } catch (e) {
      message = `${message ?? ''} ${(e as Error).message}`.trim();
    }
    events.onDone?.(status, message);
    return { status, message, runId: record.id, best: b?.eval ?? null, steps: last?.step ?? 0 };
  }

  /** Attaches an adapter file (GGUF LoRA, e.g. from exportAdapter or llama.cpp) to the loaded model. */
  loadAdapter(bytes: ArrayBuffer | Uint8Array, source = 'uploaded file'): AdapterInfo {
    const m = this.need();
    this.assertIdle();
    const a = LoraAdapters.fromGGUF(bytes, m); // throws naming the mismatch
    this.adapter?.dispose();
    this.adapter = a;
    this.adapterSource = source;
    m.attachAdapters(a);
    return this.adapterInfo()!;
  }

  /** The attached adapter as GGUF LoRA bytes (for download). */
  async exportAdapter(): Promise<Uint8Array> {
    if (!this.adapter) throw new Error('No adapter is attached: fine-tune or upload one first.');
    return this.adapter.toGGUF();
  }

  /** Back to the base model. */
  detachAdapter(): void {
    this.assertIdle();
    this.model?.detachAdapters();
    this.adapter?.dispose();
    this.adapter = null;
  }

  adapterInfo(): AdapterInfo | null {
    const a = this.adapter;
    if (!a) return null;
    return { ...a.cfg, targets: [...a.cfg.targets], params: Object.values(a.vars).reduce((s, v) => s + v.size, 0), source: this.adapterSource };
  }

  private assertIdle(): void {
    if (this.tuning) throw new Error('A LoRA fine-tune is running: stop it first.');
  }

  private need(): LlamaModel {
    if (!this.model) throw new Error('No LLaMA model is loaded: call loadFromUrl, loadFromBlob or loadFromBuffer first.');
    return this.model;
  }
}
