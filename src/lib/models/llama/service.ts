import * as Comlink from 'comlink';
// LlamaService: what the worker exposes as `lab.llama` (pages call `await getLab().llama.method(...)`).
// Loads a GGUF LLaMA from an ArrayBuffer, a Blob/File (header first, then tensor by tensor) or a URL
// (https or localhost; streamed with progress/ETA, cached with the Cache API, resumed with Range requests),
// reports its shape and memory, generates text, and hands the HookedModel to recording/steering code.
import { parseGGUF, readGGUFHeader, type GGUFHeader, type GGUFSource } from '../../gguf/reader';
import { LlamaModel, generate } from './model';

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

const CACHE_NAME = 'memgen-models';

/** Only https, or http on this machine: model files are large and must not travel in clear over a network. */
export function checkModelUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url, (globalThis as { location?: { href: string } }).location?.href);
  } catch {
    throw new Error(`"${url}" is not a valid URL. Give a full https:// address of a .gguf file.`);
  }
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
  if (!(u.protocol === 'https:' || (u.protocol === 'http:' && local))) {
    throw new Error(`Refusing ${u.protocol}//${u.host}: model URLs must be https (or http on localhost).`);
  }
  return u;
}

/** Streamed download with progress, Range resume on interruption (up to `maxResumes`), as one Blob. */
export async function downloadWithResume(url: string, onProgress?: (p: DownloadProgress) => void, maxResumes = 5): Promise<Blob> {
  const chunks: Uint8Array[] = [];
  let loaded = 0, total = 0, resumes = 0;
  const t0 = Date.now();
  const report = () => {
    const dt = Math.max((Date.now() - t0) / 1000, 1e-3), rate = loaded / dt;
    onProgress?.({ loaded, total, bytesPerSec: rate, etaSec: total && rate > 0 ? (total - loaded) / rate : NaN, fromCache: false, resumes });
  };
  for (;;) {
    const headers: Record<string, string> = loaded > 0 ? { Range: `bytes=${loaded}-` } : {};
    let res: Response;
    try {
      res = await fetch(url, { headers });
    } catch (e) {
      if (resumes++ < maxResumes && loaded > 0) continue;
      throw new Error(`Download of ${url} failed: ${(e as Error).message}. Check the address and your connection.`);
    }
    if (loaded > 0 && res.status === 200) { chunks.length = 0; loaded = 0; } // server ignored Range: start over
    else if (!res.ok) throw new Error(`Download of ${url} failed: HTTP ${res.status} ${res.statusText}.`);
    if (loaded === 0) {
      const len = Number(res.headers.get('content-length') ?? 0);
      total = Number.isFinite(len) ? len : 0;
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
    const u = checkModelUrl(url);
    const cache = typeof caches !== 'undefined' ? await caches.open(CACHE_NAME).catch(() => null) : null;
    const hit = await cache?.match(u.href);
    let blob: Blob;
    if (hit) {
      blob = await hit.blob();
      onProgress?.({ loaded: blob.size, total: blob.size, bytesPerSec: 0, etaSec: 0, fromCache: true, resumes: 0 });
    } else {
      blob = await downloadWithResume(u.href, onProgress);
      // Cache only files that parse, so a broken download is not kept.
      await readGGUFHeader(blob);
      await cache?.put(u.href, new Response(blob, { headers: { 'content-length': String(blob.size) } })).catch(() => undefined);
    }
    return this.loadFromBlob(blob, u.pathname.split('/').pop() || u.href);
  }

  private async load(src: GGUFSource, h: GGUFHeader, name: string): Promise<LlamaInfo> {
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
    this.model?.dispose();
    this.model = null;
    this.header = null;
  }

  private need(): LlamaModel {
    if (!this.model) throw new Error('No LLaMA model is loaded: call loadFromUrl, loadFromBlob or loadFromBuffer first.');
    return this.model;
  }
}
