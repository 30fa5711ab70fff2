// Backend selection for tfjs. WebGPU first; wasm only when the user picks it (never a silent fallback).
// Used by the GPU worker (the lab) and by the test harness page; pages never import this.
import * as tf from '@tensorflow/tfjs';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { guardWasmAllocations } from './wasm-heap';
import { setWasmPaths, setThreadsCount, getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { registerLabKernels } from '../kernels/registry';

export type BackendName = 'webgpu' | 'wasm' | 'cpu';

export interface DeviceInfo {
  webgpuAvailable: boolean;
  /** Plain-words reason when WebGPU cannot be used. */
  webgpuProblem?: string;
  adapter?: {
    vendor: string;
    architecture: string;
    device: string;
    description: string;
    isFallback: boolean;
  };
  features: string[];
  shaderF16: boolean;
  limits: Record<string, number>;
  backend: BackendName | null;
  crossOriginIsolated: boolean;
  wasmThreads: boolean;
  /** Threads in the wasm backend's XNNPACK pool (null until wasm has started). */
  wasmThreadsInUse: number | null;
  /** navigator.hardwareConcurrency: the logical cores the browser reports. */
  logicalCores: number | null;
}

/** The limits that decide which presets and models fit. */
const LIMIT_KEYS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

export class BackendUnavailableError extends Error {
  constructor(
    public readonly backend: BackendName,
    reason: string,
  ) {
    super(reason);
    this.name = 'BackendUnavailableError';
  }
}

export async function probeDevice(): Promise<DeviceInfo> {
  const nav = (globalThis as { navigator?: Navigator }).navigator;
  const isolated = Boolean((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated);
  const info: DeviceInfo = {
    webgpuAvailable: false,
    features: [],
    shaderF16: false,
    limits: {},
    backend: (tf.getBackend() as BackendName) ?? null,
    crossOriginIsolated: isolated,
    wasmThreads: isolated,
    wasmThreadsInUse: wasmThreadsInUse(),
    logicalCores: nav?.hardwareConcurrency ?? null,
  };
  if (!nav?.gpu) {
    info.webgpuProblem =
      'This browser does not expose WebGPU (navigator.gpu is missing). Use a recent Chrome or Edge, ' +
      'or Firefox/Safari with WebGPU enabled; or continue on the slower wasm backend.';
    return info;
  }
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await nav.gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    info.webgpuProblem = `Requesting a WebGPU adapter failed: ${(e as Error).message}`;
    return info;
  }
  if (!adapter) {
    info.webgpuProblem =
      'WebGPU is present but no GPU adapter was found (the GPU may be blocklisted or disabled). ' +
      'Check chrome://gpu, update the graphics driver, or continue on the wasm backend.';
    return info;
  }
  const ai = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
  const a = adapter as GPUAdapter & { isFallbackAdapter?: boolean };
  info.webgpuAvailable = true;
  info.adapter = {
    vendor: ai?.vendor ?? '',
    architecture: ai?.architecture ?? '',
    device: ai?.device ?? '',
    description: ai?.description ?? '',
    isFallback: Boolean(a.isFallbackAdapter ?? (ai as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter),
  };
  info.features = [...adapter.features.values()].map(String).sort();
  info.shaderF16 = adapter.features.has('shader-f16');
  for (const k of LIMIT_KEYS) info.limits[k] = Number((adapter.limits as unknown as Record<string, number>)[k]);
  return info;
}

let wasmPathsSet = false;

/**
 * tfjs-backend-wasm 4.22 sizes XNNPACK's thread pool as min(requested, hardwareConcurrency / 2) (its C++ assumes
 * two hyperthreads per core and reads the count once, when the module starts), so a 2-core machine gets one
 * thread whatever setThreadsCount asks. While the module starts, the browser's navigator reports twice the
 * cores; then we ask for hardwareConcurrency threads and put navigator back. Returns the undo.
 */
function showWasmAllCores(): () => void {
  const nav = (globalThis as { navigator?: Navigator }).navigator;
  const cores = nav?.hardwareConcurrency ?? 0;
  if (!nav || cores < 2 || !(globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated) return () => {};
  setThreadsCount(cores);
  const own = Object.getOwnPropertyDescriptor(nav, 'hardwareConcurrency'); // a page may have set one (the bench does)
  try {
    Object.defineProperty(nav, 'hardwareConcurrency', { value: 2 * cores, configurable: true });
  } catch {
    return () => {};
  }
  return () => {
    if (own) Object.defineProperty(nav, 'hardwareConcurrency', own);
    else delete (nav as { hardwareConcurrency?: number }).hardwareConcurrency;
  };
}

/** Threads the wasm backend's XNNPACK pool runs (null before wasm has started). */
export function wasmThreadsInUse(): number | null {
  try {
    return getThreadsCount();
  } catch {
    return null;
  }
}

/**
 * tf.setBackend, rejected as soon as an uncaught error reaches this scope while the backend starts. When a wasm
 * worker thread dies on start (as the minified build's once did: "ReferenceError: e is not defined"), the
 * emscripten glue rethrows its error here and its start promise never settles; without this the lab's header
 * stayed at "starting" for ever and the page said nothing.
 */
async function setBackendOrThreadError(name: BackendName): Promise<boolean> {
  const scope = globalThis as unknown as Partial<EventTarget>;
  if (typeof scope.addEventListener !== 'function' || typeof scope.removeEventListener !== 'function') return tf.setBackend(name);
  let onError: (ev: Event) => void = () => {};
  const died = new Promise<never>((_, reject) => {
    onError = (ev) => {
      const e = ev as ErrorEvent;
      const inner = (e.error as { message?: string } | undefined)?.message ?? e.message ?? 'unknown error';
      reject(new Error(`one of its worker threads failed while starting (${inner}). Reload the page; if it persists, report it with this message.`));
    };
    scope.addEventListener!('error', onError);
  });
  try {
    return await Promise.race([tf.setBackend(name), died]);
  } finally {
    scope.removeEventListener!('error', onError);
  }
}

/** Switch tfjs to `name`. Throws BackendUnavailableError with a plain reason if it cannot. */
export async function useBackend(name: BackendName): Promise<BackendName> {
  registerLabKernels();
  if (name === 'wasm' && !wasmPathsSet) {
    setWasmPaths({
      'tfjs-backend-wasm.wasm': wasmPlain,
      'tfjs-backend-wasm-simd.wasm': wasmSimd,
      'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
    });
    wasmPathsSet = true;
  }
  if (name === 'webgpu') {
    const dev = await probeDevice();
    if (!dev.webgpuAvailable) throw new BackendUnavailableError('webgpu', dev.webgpuProblem ?? 'WebGPU unavailable');
  }
  let ok = false;
  const restoreCores = name === 'wasm' ? showWasmAllCores() : () => {};
  try {
    ok = await setBackendOrThreadError(name);
  } catch (e) {
    throw new BackendUnavailableError(name, `Could not start the ${name} backend: ${(e as Error).message}`);
  } finally {
    restoreCores();
  }
  if (!ok) throw new BackendUnavailableError(name, `Could not start the ${name} backend.`);
  await tf.ready();
  if (name === 'wasm') guardWasmAllocations(tf.backend()); // a full heap throws instead of hanging
  if (name === 'webgpu') {
    // Small ops must really run on the GPU, or "WebGPU == wasm" tests would compare the CPU with itself.
    tf.env().set('WEBGPU_CPU_FORWARD', false);
    watchDevice();
  }
  return name;
}

// ---- GPU device loss ----------------------------------------------------------------------------
// A lost device (driver reset, another tab, the OS reclaiming the GPU) makes every tensor on it useless.
// The worker notices through GPUDevice.lost, stops the job at its next step, rebuilds the device, and
// resumes from the last checkpoint.

export class DeviceLostError extends Error {
  constructor() {
    super('The GPU device was lost.');
    this.name = 'DeviceLostError';
  }
}

let lost: string | null = null;
let watched: GPUDevice | null = null;

function watchDevice(): void {
  const dev = (tf.backend() as unknown as { device?: GPUDevice }).device;
  if (!dev || dev === watched) return;
  watched = dev;
  lost = null;
  oom = null;
  // tfjs allocates without error scopes, so a failed allocation surfaces here, after the call that made it.
  dev.addEventListener('uncapturederror', (ev) => {
    const err = (ev as GPUUncapturedErrorEvent).error;
    if (watched === dev && typeof GPUOutOfMemoryError !== 'undefined' && err instanceof GPUOutOfMemoryError) oom = err.message || 'out of memory';
  });
  void dev.lost.then((info) => {
    if (watched === dev) lost = `${info.reason ?? 'unknown'}${info.message ? `: ${info.message}` : ''}`;
  });
}

// ---- GPU out of memory ---------------------------------------------------------------------------

let oom: string | null = null;

export class GpuOutOfMemoryError extends Error {
  constructor(readonly detail: string) {
    super(`The GPU ran out of memory (${detail}).`);
    this.name = 'GpuOutOfMemoryError';
  }
}

/** The message of a GPU out-of-memory error seen since the last call (and clears it), or null. */
export function takeOutOfMemory(): string | null {
  const m = oom;
  oom = null;
  return m;
}

/** Errors thrown by an allocation that failed (GPU, wasm heap or JS), in the words tfjs and the browser use. */
export function isOutOfMemoryError(e: unknown): boolean {
  if (e instanceof GpuOutOfMemoryError) return true;
  const m = String((e as Error)?.message ?? e);
  return /out of memory|OutOfMemory|Array buffer allocation failed|Cannot enlarge memory|Aborted\(OOM\)/i.test(m);
}

/**
 * Fault injection for tests: the current device reports an out-of-memory error, as a real failed allocation
 * would (GPUOutOfMemoryError through the device's uncapturederror event).
 */
export function simulateOutOfMemory(): void {
  const dev = (tf.backend() as unknown as { device?: GPUDevice }).device;
  if (!dev) throw new Error('The current backend has no GPU device.');
  dev.dispatchEvent(new GPUUncapturedErrorEvent('uncapturederror', { error: new GPUOutOfMemoryError('simulated: a buffer allocation failed') }));
}

export function isDeviceLost(): boolean {
  return lost !== null;
}

/**
 * After an unexplained GPU error: waits up to `ms` for the device's lost promise, which can settle just after
 * the failing call (a destroyed device first fails mapAsync, then reports the loss). True if it was lost.
 */
export async function confirmDeviceLoss(ms = 1000): Promise<boolean> {
  if (lost !== null) return true;
  const dev = watched;
  if (!dev || tf.getBackend() !== 'webgpu') return false;
  await Promise.race([dev.lost, new Promise((r) => setTimeout(r, ms))]);
  await new Promise((r) => setTimeout(r, 0)); // let watchDevice's handler record the reason
  return lost !== null;
}

export function lastDeviceLoss(): string | null {
  return lost;
}

/** Fault injection for tests and the Device page: destroys the current GPU device. */
export function simulateDeviceLoss(): void {
  const dev = (tf.backend() as unknown as { device?: GPUDevice }).device;
  if (!dev) throw new Error('The current backend has no GPU device to lose.');
  dev.destroy();
}

/** Replaces the webgpu backend with one on a fresh device (tfjs keeps registered kernels by backend name). */
export async function rebuildWebGPU(): Promise<void> {
  const adapter = await navigator.gpu?.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new BackendUnavailableError('webgpu', 'No GPU adapter is available after the device was lost. Reload the page, or continue on wasm.');
  const keys = ['maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup'] as const;
  const requiredLimits: Record<string, number> = {};
  for (const k of keys) requiredLimits[k] = (adapter.limits as unknown as Record<string, number>)[k];
  const requiredFeatures = (['timestamp-query', 'bgra8unorm-storage'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  if (tf.findBackend('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', async () => new WebGPUBackend(device));
  const ok = await tf.setBackend('webgpu');
  if (!ok) throw new BackendUnavailableError('webgpu', 'Could not restart WebGPU after the device was lost.');
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  watchDevice();
}

export { tf };
