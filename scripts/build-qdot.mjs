// Builds the wasm SIMD quantized matmul (src/lib/kernels/qmatmul/wasm-simd/asm/qdot.ts, AssemblyScript) into
// src/lib/kernels/qmatmul/wasm-simd/qdot-wasm.ts: four binaries as base64: with and without relaxed SIMD (the loader
// takes the relaxed one where the engine validates it), each importing a plain memory or a shared one
// (tfjs-wasm's threaded build), since a wasm memory import must match the memory's kind.
//   node scripts/build-qdot.mjs          write the file
//   node scripts/build-qdot.mjs --check  rebuild and fail if the committed file differs (CI, tests/unit/qdot.test.ts)
import { SHARED, buildKernelFile } from './asc-kernel.mjs';

await buildKernelFile({
  script: 'build-qdot.mjs',
  src: 'src/lib/kernels/qmatmul/wasm-simd/asm/qdot.ts',
  out: 'src/lib/kernels/qmatmul/wasm-simd/qdot-wasm.ts',
  variants: {
    QDOT_WASM: ['--enable', 'simd'],
    QDOT_WASM_SHARED: ['--enable', 'simd,threads', ...SHARED],
    QDOT_WASM_RELAXED: ['--enable', 'simd,relaxed-simd'],
    QDOT_WASM_RELAXED_SHARED: ['--enable', 'simd,relaxed-simd,threads', ...SHARED],
  },
});
