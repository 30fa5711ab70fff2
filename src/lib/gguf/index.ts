// GGUF files: read, write, and the block formats the lab computes with.
export { parseGGUF, readGGUFHeader, readTensorBytes, findTensor, GGUFError, type GGUFHeader, type GGUFTensorInfo } from './reader'; // header + tensor bytes, validated
export { writeGGUF, type GGUFWriteTensor, type GGUFWriteValue } from './writer'; // GGUF v3 writer (fixtures, LoRA files)
export { dequantize, quantize, halfToFloat, floatToHalf } from './quant'; // F32/F16/Q8_0/Q4_0/Q4_K/Q6_K
export { SUPPORTED_TYPES, type QuantType } from './types'; // ggml type table
