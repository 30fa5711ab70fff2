// The lab's fused kernels for GPT-2 training. Each op is one registered tfjs kernel (WGSL on webgpu, a CPU
// twin from reference.ts on wasm and cpu) with a registered gradient kernel, so tf.grad and optimizers work
// on all three backends. `stock` has the same ops from stock tfjs ops, for the side-by-side benchmark.
export { embedding, registerEmbedding } from './embedding';             // table (V, C), ids int32 (...) -> (..., C)
export { layerNorm, registerLayerNorm } from './layernorm';             // x (..., C) normalized over C, * gamma + beta
export { gelu, registerGelu } from './gelu';                            // GPT-2's tanh GELU, elementwise
export { softmaxCrossEntropy, registerCrossEntropy } from './crossentropy'; // logits (N, V), targets, weights -> (N)
export { causalAttention, registerAttention } from './attention';      // q, k, v (B, NH, T, HS) -> (B, NH, T, HS)
export { stock } from './stock';                                        // the same five from stock tf ops
export { linear, linearT, matMul2d, setTransposeMode } from './matmul';                // x·w + b, x·wᵀ: fast matmuls forward and backward
