// ggml tensor types as GGUF stores them: id, name, elements per block, bytes per block.
// Block layouts (ggml-common.h): see quant.ts for each supported one.

export const GGML_TYPES: Record<number, { name: string; blockSize: number; typeSize: number }> = {
  0: { name: 'F32', blockSize: 1, typeSize: 4 },
  1: { name: 'F16', blockSize: 1, typeSize: 2 },
  2: { name: 'Q4_0', blockSize: 32, typeSize: 18 },
  3: { name: 'Q4_1', blockSize: 32, typeSize: 20 },
  6: { name: 'Q5_0', blockSize: 32, typeSize: 22 },
  7: { name: 'Q5_1', blockSize: 32, typeSize: 24 },
  8: { name: 'Q8_0', blockSize: 32, typeSize: 34 },
  9: { name: 'Q8_1', blockSize: 32, typeSize: 36 },
  10: { name: 'Q2_K', blockSize: 256, typeSize: 84 },
  11: { name: 'Q3_K', blockSize: 256, typeSize: 110 },
  12: { name: 'Q4_K', blockSize: 256, typeSize: 144 },
  13: { name: 'Q5_K', blockSize: 256, typeSize: 176 },
  14: { name: 'Q6_K', blockSize: 256, typeSize: 210 },
  15: { name: 'Q8_K', blockSize: 256, typeSize: 292 },
  16: { name: 'IQ2_XXS', blockSize: 256, typeSize: 66 },
  17: { name: 'IQ2_XS', blockSize: 256, typeSize: 74 },
  18: { name: 'IQ3_XXS', blockSize: 256, typeSize: 98 },
  19: { name: 'IQ1_S', blockSize: 256, typeSize: 50 },
  20: { name: 'IQ4_NL', blockSize: 32, typeSize: 18 },
  21: { name: 'IQ3_S', blockSize: 256, typeSize: 110 },
  22: { name: 'IQ2_S', blockSize: 256, typeSize: 82 },
  23: { name: 'IQ4_XS', blockSize: 256, typeSize: 136 },
  24: { name: 'I8', blockSize: 1, typeSize: 1 },
  25: { name: 'I16', blockSize: 1, typeSize: 2 },
  26: { name: 'I32', blockSize: 1, typeSize: 4 },
  27: { name: 'I64', blockSize: 1, typeSize: 8 },
  28: { name: 'F64', blockSize: 1, typeSize: 8 },
  29: { name: 'IQ1_M', blockSize: 256, typeSize: 56 },
  30: { name: 'BF16', blockSize: 1, typeSize: 2 },
};

/** The formats this lab can dequantize and multiply on the GPU. */
export const SUPPORTED_TYPES = ['F32', 'F16', 'Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'] as const;
export type QuantType = (typeof SUPPORTED_TYPES)[number];

export const TYPE_ID: Record<QuantType, number> = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, Q4_K: 12, Q6_K: 14 };

export function typeName(id: number): string {
  return GGML_TYPES[id]?.name ?? `unknown type ${id}`;
}

export function isSupported(name: string): name is QuantType {
  return (SUPPORTED_TYPES as readonly string[]).includes(name);
}

/** Bytes of a row-major tensor whose innermost dimension is ne0 (must be a multiple of the block size). */
export function tensorBytes(type: QuantType, nElements: number): number {
  const t = GGML_TYPES[TYPE_ID[type]];
  return (nElements / t.blockSize) * t.typeSize;
}

export function blockInfo(type: QuantType): { blockSize: number; typeSize: number } {
  const t = GGML_TYPES[TYPE_ID[type]];
  return { blockSize: t.blockSize, typeSize: t.typeSize };
}
