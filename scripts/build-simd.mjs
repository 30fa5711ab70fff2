// Builds the wasm SIMD kernels of GPT-2's lab ops (src/lib/kernels/wasm-simd/asm/ops.ts, AssemblyScript) into
// src/lib/kernels/wasm-simd/ops-wasm.ts: two binaries as base64, one importing a plain memory and one a shared
// memory (tfjs-wasm's threaded build), since a wasm memory import must match the memory's kind.
//   node scripts/build-simd.mjs          write the file
//   node scripts/build-simd.mjs --check  rebuild and fail if the committed file differs (tests/unit/simd-ops.test.ts)
import { SHARED, buildKernelFile } from './asc-kernel.mjs';

await buildKernelFile({
  script: 'build-simd.mjs',
  src: 'src/lib/kernels/wasm-simd/asm/ops.ts',
  out: 'src/lib/kernels/wasm-simd/ops-wasm.ts',
  variants: { OPS_WASM: ['--enable', 'simd'], OPS_WASM_SHARED: ['--enable', 'simd,threads', ...SHARED] },
});
