import * as Comlink from 'comlink';
// `lab.llama`: the worker's LLaMA service (pages call `await getLab().llama.method(...)`). Loads a GGUF LLaMA from
// an ArrayBuffer, a Blob/File (header first, then tensor by tensor) or a URL (downloads and the Cache API:
// store/download.ts), reports its shape and memory, generates text, fine-tunes LoRA adapters under the one run
// lifecycle (run-tracked.ts, registered with the worker's jobs), and hands the HookedModel to the analysis.
import { parseGGUF, readGGUFHeader, type GGUFHeader, type GGUFSource } from '../gguf/reader';
import { LlamaModel, generate } from '../models/llama/model';
import { kvCacheBytes, type LlamaShape } from '../models/llama/memory-plan';
import { planFromHeader, type LlamaPlan } from '../models/llama/plan';
import { LoraAdapters, type LoraConfig } from '../models/llama/lora';
import { createAdapters, defaultFineTuneConfig, fineTune, type FineTuneConfig, type FineTuneEval, type FineTuneLog } from '../train/llama-finetune';
import { fetchCached, type DownloadProgress } from '../store/download';
import { newRun, saveArtifacts, saveRun, type RunRecord } from '../store/runs';
import { GpuOutOfMemoryError } from '../engine/backend';
import type { JobTracker, Progress } from './jobs';
import { runTracked } from './run-tracked';

export type { DownloadProgress } from '../store/download';
export type { LlamaPlan } from '../models/llama/plan';

export interface LlamaInfo extends LlamaShape {
  name: string;
  arch: string;
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
  /** Something the user should know that does not end the run (the device was lost and rebuilt...). */
  onNotice?: (message: string) => void;
}

export interface FineTuneSummary {
  status: 'done' | 'cancelled' | 'failed';
  message?: string;
  runId: string;
  best: FineTuneEval | null;
  steps: number;
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

  /** `register`/`unregister`: the worker's jobs, so a fine-tune is cancelled by "Cancel all" like any job. */
  constructor(private readonly register: (t: JobTracker) => void = () => undefined, private readonly unregister: (t: JobTracker) => void = () => undefined) {}

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
    const { blob, name } = await fetchCached(url, readGGUFHeader, onProgress);
    return this.loadFromBlob(blob, name);
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
    const kv = kvCacheBytes(c, c.nCtx);
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
    const { blob, name } = await fetchCached(url, readGGUFHeader, onProgress);
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
    const jobId = `llama-ft-${this.nextJob++}`;
    const adapters = createAdapters(m, cfg); // validates the LoRA config
    const record: RunRecord = newRun('train', `LLaMA LoRA ${this.name} on ${cfg.task} (seed ${cfg.seed})`, { ...cfg, model: 'llama-lora', base: this.name });
    let best: { eval: FineTuneEval; bytes: Uint8Array } | null = null;
    let last: FineTuneLog | undefined;
    const evals: FineTuneEval[] = [];
    const r = await runTracked({
      jobId, onProgress: events.onProgress, record, resumable: false,
      register: (t) => { this.tuning = t; this.register(t); },
      unregister: (t) => { this.tuning = null; this.unregister(t); },
      body: async ({ tracker, checkpoint, guard }) => {
        await saveRun(record);
        // the old adapter is replaced by the new one (dispose it only once the run owns the model)
        this.adapter?.dispose();
        this.adapter = null;
        const params = Object.values(adapters.vars).reduce((a, v) => a + v.size, 0);
        events.onStart?.({ jobId, runId: record.id, config: cfg, adapterParams: params });
        tracker.report('training', 0, cfg.steps);
        await fineTune(m, adapters, cfg, {
          checkpoint,
          onLog: (e) => {
            last = e;
            events.onLog?.(e);
            tracker.report('training', e.step, cfg.steps, `loss ${e.loss.toFixed(4)}`);
          },
          onEvalProgress: (d, t) => tracker.report('decoding validation prompts', last?.step ?? 0, cfg.steps, `${d}/${t} prompts`),
          onEval: async (e, bytes) => {
            evals.push(e);
            if (bytes) {
              guard(); // never keep an adapter a lost device or a failed allocation computed
              best = { eval: e, bytes };
              record.summary = { step: e.step, steps: cfg.steps, loss: last?.loss, best: e, evals, task: cfg.task };
              await saveArtifacts(record, { best: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer });
            }
            events.onEval?.(e, bytes !== null);
          },
        });
      },
      stoppedMessage: 'Stopped. The best adapter so far is kept.',
      outOfMemory: (e) => {
        const m = (e as Error)?.message ?? String(e);
        // the wasm heap's error already says what to change
        if ((e as Error)?.name === 'WasmOutOfMemoryError') return `${m} The fine-tune stopped; the best adapter so far is kept.`;
        return `${e instanceof GpuOutOfMemoryError ? m : `The device ran out of memory (${m}).`} The fine-tune stopped; the best adapter so far is kept. ` +
          `Try a smaller batch size or LoRA rank, fewer target matrices, or a smaller model.`;
      },
      settle: () => {
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
        record.summary = { ...record.summary, step: last?.step ?? 0, steps: cfg.steps, loss: last?.loss, best: b?.eval ?? null, evals, task: cfg.task };
      },
      onNotice: (msg) => events.onNotice?.(msg),
      onDone: (status, message) => events.onDone?.(status, message),
    });
    const b = best as { eval: FineTuneEval; bytes: Uint8Array } | null;
    return { status: r.status, message: r.message, runId: record.id, best: b?.eval ?? null, steps: last?.step ?? 0 };
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
