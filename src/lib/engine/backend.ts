// Backend selection for tfjs. WebGPU first; wasm only when the user picks it (never a silent fallback).
// Used by the GPU worker (the lab) and by the test harness page; pages never import this.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
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
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    throw new BackendUnavailableError(name, `Could not start the ${name} backend: ${(e as Error).message}`);
  }
  if (!ok) throw new BackendUnavailableError(name, `Could not start the ${name} backend.`);
  await tf.ready();
  if (name === 'webgpu') {
    // Small ops must really run on the GPU, or "WebGPU == wasm" tests would compare the CPU with itself.
    tf.env().set('WEBGPU_CPU_FORWARD', false);
  }
  return name;
}

export { tf };
