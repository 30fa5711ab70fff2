// Registers every lab kernel (WGSL program on webgpu, CPU twin on wasm and cpu, gradient) with tfjs, once.
// Each kernel folder exports a `register...()`; list it in KERNELS below.
import { registerAttention, registerCrossEntropy, registerEmbedding, registerGelu, registerLayerNorm } from './index';
import { registerQMatMulKernels } from './qmatmul';
import { registerSharedIdentity } from './identity';
import { registerAdamW } from './adamw';
const KERNELS: Array<() => void> = [registerEmbedding, registerLayerNorm, registerGelu, registerCrossEntropy, registerAttention, registerQMatMulKernels, registerSharedIdentity, registerAdamW];

let done = false;
export function registerLabKernels(): void {
  if (done) return;
  done = true;
  for (const register of KERNELS) register();
}
