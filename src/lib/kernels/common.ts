// Shared glue for the lab kernels: `defineLabOp` (an op's kernels by name: its CPU twin registered on the 'cpu'
// and 'wasm' backends, its WGSL on 'webgpu', and its gradient), flat dispatch for "one workgroup per row"
// programs, and argument checks. The WGSL snippets the programs share are in wgsl.ts.
// Each op folder (embedding/, layernorm/, gelu/, crossentropy/, attention/, adamw/, qmatmul/) builds on these.
import * as tf from '@tensorflow/tfjs';
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

/** What a kernel body sees of an input: shape, dtype and its values (a view; read it, never keep it). */
export interface HostInput {
  shape: number[];
  dtype: tf.DataType;
  values: ArrayLike<number>;
}

/** The float32/int32 arrays a CPU twin writes its outputs into. */
export type HostOutput = Float32Array | Int32Array;

export interface HostKernel {
  /** Output shapes and dtypes from the input shapes (called before any output is allocated). */
  outputs(inputs: Record<string, HostInput>, attrs: tf.NamedAttrMap): Array<{ shape: number[]; dtype: 'float32' | 'int32' }>;
  /** Fills `outs` (same order as `outputs`), reading `inputs`. Must not allocate tfjs tensors. */
  compute(inputs: Record<string, HostInput>, outs: HostOutput[], attrs: tf.NamedAttrMap): void;
}

// The two CPU backends, described only by what the twins use (no runtime import of either package).
interface CpuBackendLike {
  data: { get(dataId: tf.DataId): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): tf.TensorInfo;
}
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): tf.backend_util.TypedArray;
}

function hostInputs(
  inputs: tf.NamedTensorInfoMap,
  read: (t: tf.TensorInfo) => ArrayLike<number>,
): Record<string, HostInput> {
  const out: Record<string, HostInput> = {};
  for (const [name, t] of Object.entries(inputs)) {
    if (!t) continue;
    out[name] = { shape: t.shape, dtype: t.dtype, values: read(t) };
  }
  return out;
}

function unwrap(outs: tf.TensorInfo[]): tf.TensorInfo | tf.TensorInfo[] {
  return outs.length === 1 ? outs[0] : outs;
}

/**
 * Registers one CPU twin under `kernelName` for both CPU backends.
 * cpu: reads `backend.data.get(id).values`, returns `makeTensorInfo(shape, dtype, values)`.
 * wasm: allocates every output first (a malloc can grow the heap and detach older views), then takes
 * heap views of inputs and outputs and computes in place.
 */
function registerHostKernel(kernelName: string, k: HostKernel, wasmFirst?: LabKernel['wasm']): void {
  tf.registerKernel({
    kernelName,
    backendName: 'cpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const be = backend as unknown as CpuBackendLike;
      const ins = hostInputs(inputs, (t) => be.data.get(t.dataId).values as ArrayLike<number>);
      const specs = k.outputs(ins, attrs ?? {});
      const outs = specs.map((s) => (s.dtype === 'int32' ? new Int32Array(size(s.shape)) : new Float32Array(size(s.shape))));
      k.compute(ins, outs, attrs ?? {});
      return unwrap(specs.map((s, i) => be.makeTensorInfo(s.shape, s.dtype, outs[i])));
    },
  });
  tf.registerKernel({
    kernelName,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const first = wasmFirst?.(inputs as Record<string, tf.TensorInfo>, backend, attrs ?? {});
      if (first) return Array.isArray(first) ? unwrap(first) : first;
      const be = backend as unknown as WasmBackendLike;
      const shapes = hostInputs(inputs, () => []); // shapes only: nothing read from the heap yet
      const specs = k.outputs(shapes, attrs ?? {});
      const infos = specs.map((s) => be.makeOutput(s.shape, s.dtype)); // allocate first
      const ins = hostInputs(inputs, (t) => be.typedArrayFromHeap(t)); // then views, valid until the next malloc
      const outs = infos.map((t) => be.typedArrayFromHeap(t) as HostOutput);
      k.compute(ins, outs, attrs ?? {});
      return unwrap(infos);
    },
  });
}

/** What a WebGPU kernelFunc gets as its backend (the public part of WebGPUBackend it uses). */
export interface WebGPUBackendLike {
  runWebGPUProgram(
    program: WebGPUProgram,
    inputs: tf.TensorInfo[],
    outputDtype: tf.DataType,
    uniforms?: Array<{ type: 'float32' | 'int32' | 'uint32'; data: number[] }>,
    output?: tf.TensorInfo,
  ): tf.TensorInfo;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

/** A kernel body on webgpu: runs its WGSL program(s) and returns the output(s). */
export type WebGPURun = (
  inputs: Record<string, tf.TensorInfo>,
  backend: WebGPUBackendLike,
  attrs: tf.NamedAttrMap,
) => tf.TensorInfo | tf.TensorInfo[];

function registerWebGPUKernel(kernelName: string, run: WebGPURun): void {
  tf.registerKernel({
    kernelName,
    backendName: 'webgpu',
    // The op functions always pass every input, so the map has no holes.
    kernelFunc: ({ inputs, backend, attrs }) =>
      run(inputs as Record<string, tf.TensorInfo>, backend as unknown as WebGPUBackendLike, attrs ?? {}),
  });
}

/** One kernel of a lab op: its CPU twin (cpu and wasm), its WGSL run (webgpu), and an optional wasm-only body. */
export interface LabKernel {
  host?: HostKernel;
  webgpu?: WebGPURun;
  /**
   * A wasm body tried before the host twin (the SIMD paths: qmatmul/wasm-simd, wasm-simd/); it returns null to
   * leave the call to the host twin.
   */
  wasm?: (inputs: Record<string, tf.TensorInfo>, backend: unknown, attrs: tf.NamedAttrMap) => tf.TensorInfo | tf.TensorInfo[] | null;
}

/** One implementation per pass (the op's kernel and its gradient kernel), as cpu.ts, webgpu.ts and wasm.ts export them. */
export interface PassPair<T> { forward: T; backward: T }

/** The kernels of an op with one forward and one gradient kernel, from its folder's halves. */
export function forwardAndGradient(
  names: PassPair<string>,
  impl: { host: PassPair<HostKernel>; webgpu: PassPair<WebGPURun>; wasm?: Partial<PassPair<LabKernel['wasm']>> },
): Record<string, LabKernel> {
  const pass = (p: 'forward' | 'backward'): LabKernel => ({ host: impl.host[p], webgpu: impl.webgpu[p], wasm: impl.wasm?.[p] });
  return { [names.forward]: pass('forward'), [names.backward]: pass('backward') };
}

/**
 * Defines a lab op's registration: its kernels by name (WGSL on webgpu, the CPU twin on cpu and wasm) and the
 * gradient of its forward kernel. Returns the op's `register()`, which does the work once however often it is
 * called (each op function calls it, and kernels/registry.ts calls every op's at start-up).
 */
export function defineLabOp(op: { kernels: Record<string, LabKernel>; gradient?: tf.GradConfig }): () => void {
  let registered = false;
  return () => {
    if (registered) return;
    registered = true;
    for (const [name, k] of Object.entries(op.kernels)) {
      if (k.webgpu) registerWebGPUKernel(name, k.webgpu);
      if (k.host) registerHostKernel(name, k.host, k.wasm);
    }
    if (op.gradient) tf.registerGradient(op.gradient);
  };
}

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Picks a power-of-two workgroup size for a row of `n` elements, from 32 to 256. */
export function rowWorkgroupSize(n: number): number {
  if (n >= 512) return 256;
  if (n >= 128) return 128;
  if (n >= 48) return 64;
  return 32;
}

/** WGSL indices are i32: tfjs's flat thread index (getGlobalIndex) wraps negative at 2^31 threads. */
export const I32_LIMIT = 2 ** 31;

/** Throws unless a program's `threads` flat thread indices all fit an i32 (past it, outputs go unwritten silently). */
export function checkFlatThreads(op: string, threads: number): void {
  if (threads >= I32_LIMIT) throw new Error(`${op}: ${threads} GPU threads exceed the 2^31 a WebGPU index can address; split the input into smaller batches.`);
}

/**
 * Flat layout for programs that run one workgroup per row: `rows` workgroups of `wg` threads.
 * Only x is used, so above 65535 workgroups tfjs folds the dispatch into 2D/3D and `main(index)` stays
 * correct (the WGSL recovers the row as index / wg).
 */
export function rowDispatch(rank: number, rows: number, wg: number): Pick<WebGPUProgram, 'dispatchLayout' | 'dispatch' | 'workgroupSize'> {
  checkFlatThreads('row kernel', rows * wg);
  return {
    dispatchLayout: { x: Array.from({ length: rank }, (_, i) => i) },
    dispatch: [Math.max(1, rows), 1, 1],
    workgroupSize: [wg, 1, 1],
  };
}

/** Flat layout with one thread per element (or per vec4 when `per` = 4). */
export function flatDispatch(shape: number[], wg: number, per = 1): Pick<WebGPUProgram, 'dispatchLayout' | 'dispatch' | 'workgroupSize'> {
  checkFlatThreads('element kernel', Math.ceil(size(shape) / (wg * per)) * wg);
  return {
    dispatchLayout: { x: shape.map((_, i) => i) },
    dispatch: [Math.max(1, Math.ceil(size(shape) / (wg * per))), 1, 1],
    workgroupSize: [wg, 1, 1],
  };
}

/** Throws a clear error unless `t` has `rank` dims (naming the op and argument). */
export function expectRank(op: string, arg: string, t: tf.Tensor, rank: number, layout: string): void {
  if (t.rank !== rank)
    throw new Error(`${op}: ${arg} must have rank ${rank} ${layout}, got shape [${t.shape.join(', ')}].`);
}

export function expectDtype(op: string, arg: string, t: tf.Tensor, dtype: tf.DataType, fix: string): void {
  if (t.dtype !== dtype) throw new Error(`${op}: ${arg} must be ${dtype}, got ${t.dtype}; ${fix}.`);
}

/**
 * Base of every lab WGSL program: output shape, layout and the pipeline-cache key. The key must name
 * everything baked into the WGSL text (workgroup size, tile sizes, vec4), because tfjs caches pipelines by it.
 * Make a fresh program object per run: tfjs rewrites `shaderKey` when it runs one.
 */
export abstract class LabProgram implements WebGPUProgram {
  abstract variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: WebGPUProgram['dispatchLayout'];
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  constructor(outputShape: number[], layout: Pick<WebGPUProgram, 'dispatchLayout' | 'dispatch' | 'workgroupSize'>, shaderKey: string) {
    this.outputShape = outputShape;
    this.dispatchLayout = layout.dispatchLayout;
    this.dispatch = layout.dispatch;
    this.workgroupSize = layout.workgroupSize;
    this.shaderKey = shaderKey;
  }
  abstract getUserCode(): string;
}
