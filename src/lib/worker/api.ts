// The GPU worker's API. Everything that touches tfjs or the GPU lives behind this object;
// pages reach it through Comlink (see client.ts). Methods take and return plain data.
import * as Comlink from 'comlink';
import { probeDevice, useBackend, simulateDeviceLoss, simulateOutOfMemory, tf, type BackendName, type DeviceInfo } from '../engine/backend';
import type { JobTracker } from './jobs';
import { TrainingService } from './training';
import { AnalysisService } from './analysis';
import { LlamaService } from './llama';

export class LabApi {
  private backend: BackendName | null = null;
  private jobs = new Map<string, JobTracker>();
  /** GPT-2 training (pages call `lab.training.start(...)` through Comlink). */
  readonly training = new TrainingService((t) => this.jobs.set(t.jobId, t), (t) => this.jobs.delete(t.jobId));
  /** Neurons and steering on the active model (`lab.analysis.findPairs(...)`, `lab.analysis.sweep(...)`). */
  readonly analysis = new AnalysisService((t) => this.jobs.set(t.jobId, t), (t) => this.jobs.delete(t.jobId));
  /** LLaMA-3.2 from GGUF (`lab.llama.loadFromUrl(...)`, `lab.llama.generate(...)`). */
  readonly llama = new LlamaService((t) => this.jobs.set(t.jobId, t), (t) => this.jobs.delete(t.jobId));

  /** Hands the loaded LLaMA to the Neurons and Steer pages as the active model for `task`. */
  useLlamaForAnalysis(task: 'arithmetic' | 'cipher' | 'color'): ReturnType<AnalysisService['useModel']> {
    const m = this.llama.getModel();
    // The authors trained the cipher task inside the chat template; prompts go to the model the same way.
    m.setPromptFormat(task === 'cipher' ? { chat: true, systemPrompt: 'You are a helpful assistant.' } : { chat: false });
    return this.analysis.useModel(m, task, `LLaMA ${this.llama.info().name ?? ''}`.trim(), m.tokenizer.eosId);
  }

  /** What the device offers, without changing anything. */
  async deviceInfo(): Promise<DeviceInfo> {
    const info = await probeDevice();
    info.backend = this.backend;
    return info;
  }

  /** Starts a backend. Rejects with a plain-words reason if it is unavailable (the page offers wasm then). */
  async init(name: BackendName): Promise<DeviceInfo> {
    this.backend = await useBackend(name);
    return this.deviceInfo();
  }

  currentBackend(): BackendName | null {
    return this.backend;
  }

  /** A quick proof that the backend computes: a matmul against a float64 JS reference. */
  async selfTest(n = 64): Promise<{ backend: string; maxAbsError: number; ms: number }> {
    this.requireBackend();
    const a = Float32Array.from({ length: n * n }, (_, i) => Math.sin(i * 0.37));
    const b = Float32Array.from({ length: n * n }, (_, i) => Math.cos(i * 0.11));
    const t0 = performance.now();
    const c = tf.tidy(() => tf.matMul(tf.tensor2d(a, [n, n]), tf.tensor2d(b, [n, n])));
    const got = await c.data();
    c.dispose();
    const ms = performance.now() - t0;
    let err = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
        err = Math.max(err, Math.abs(s - got[i * n + j]));
      }
    return { backend: tf.getBackend(), maxAbsError: err, ms };
  }

  /** Fault injection (tests): the GPU reports it ran out of memory. */
  simulateOutOfMemory(): void {
    simulateOutOfMemory();
  }

  /** Fault injection (tests, and the Device page's "simulate" button): destroys the GPU device. */
  simulateDeviceLoss(): void {
    simulateDeviceLoss();
  }

  memory(): { numTensors: number; numBytes: number } {
    const m = tf.memory();
    return { numTensors: m.numTensors, numBytes: m.numBytes };
  }

  // ---- jobs ---------------------------------------------------------------------------------------
  /** Ids of the jobs running now (training, fine-tuning, analysis steps). */
  jobIds(): string[] {
    return [...this.jobs.keys()];
  }
  cancel(jobId: string): boolean {
    const j = this.jobs.get(jobId);
    if (j) j.cancelled = true;
    return Boolean(j);
  }
  pause(jobId: string, paused: boolean): boolean {
    const j = this.jobs.get(jobId);
    if (j) j.paused = paused;
    return Boolean(j);
  }
  cancelAll(): void {
    for (const j of this.jobs.values()) j.cancelled = true;
  }

  protected requireBackend(): void {
    if (!this.backend) throw new Error('No backend started yet: choose WebGPU or wasm on the Device panel first.');
  }
}

export function exposeLab(api: LabApi): void {
  Comlink.expose(api);
}
