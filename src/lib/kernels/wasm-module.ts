// Loading the lab's generated wasm kernels (AssemblyScript built into base64 strings in a .ts file) against a given
// memory: on the wasm backend tfjs-wasm's own heap, so tensors are read and written where tfjs keeps them. Shared by
// the quantized matmul's SIMD path (qmatmul/wasm-simd/) and the GPT-2 ops' (wasm-simd/).

/** The bytes of a base64 string. */
export function decodeBase64(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Compiles base64 wasm once per string (a few KB, so a synchronous compile is allowed even on a page's main thread). */
const compiled = new Map<string, WebAssembly.Module>();
export function compileBase64(b64: string): WebAssembly.Module {
  let mod = compiled.get(b64);
  if (!mod) compiled.set(b64, (mod = new WebAssembly.Module(decodeBase64(b64) as BufferSource)));
  return mod;
}

/**
 * A kernel module bound to memories: instantiated once per memory with the build for its kind (a wasm memory import
 * must match the memory's kind: shared for tfjs-wasm's threaded build). After one failure (no wasm SIMD here) it
 * answers null, and `unavailable` says why; callers then use their JS twins.
 */
export class MemoryBoundModule<E> {
  private readonly instances = new WeakMap<WebAssembly.Memory, E>();
  unavailable: string | null = null;
  constructor(private readonly moduleFor: (shared: boolean) => WebAssembly.Module) {}

  exportsFor(memory: WebAssembly.Memory): E | null {
    const have = this.instances.get(memory);
    if (have) return have;
    if (this.unavailable) return null;
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    try {
      const k = new WebAssembly.Instance(this.moduleFor(shared), { env: { memory } }).exports as unknown as E;
      this.instances.set(memory, k);
      return k;
    } catch (e) {
      this.unavailable = (e as Error).message;
      return null;
    }
  }
}
