// Registers every lab kernel (WGSL program on webgpu, CPU twin on wasm and cpu, gradient) with tfjs, once.
// Each kernel folder exports a `register...()`; list it in KERNELS below.
const KERNELS: Array<() => void> = [];

let done = false;
export function registerLabKernels(): void {
  if (done) return;
  done = true;
  for (const register of KERNELS) register();
}
