// What a GGUF header says about a LLaMA before any weight is allocated: dims, quant types, device bytes.
import { metaString, type GGUFHeader } from '../../gguf/reader';
import { isQFormat } from '../../kernels/qmatmul/reference';
import { configFromGGUF } from './config';
import { LlamaTokenizer } from './tokenizer';

/** What a GGUF header says about a model, before any weight is allocated. */
export interface LlamaPlan {
  name: string;
  arch: string;
  nLayer: number;
  dModel: number;
  nHead: number;
  nHeadKv: number;
  /** Head size and MLP width (the memory plan needs them). */
  headDim?: number;
  dMlp?: number;
  vocabSize: number;
  nCtx: number;
  quantTypes: Record<string, number>;
  fileBytes: number;
  /** Device bytes of the weights once loaded (quantized blocks stay packed, the rest becomes F32). */
  weightBytes: number;
  /** The largest single weight buffer: it must fit maxStorageBufferBindingSize and maxBufferSize. */
  largestBuffer: { name: string; bytes: number };
  /** The lab's test fixtures (scripts/make-fixtures.ts): random, untrained weights, so any output is noise. */
  randomWeights: boolean;
}

/** Plans a load from the header alone (dims, quant types, device bytes), with the same checks as loading. */
export function planFromHeader(h: GGUFHeader, name: string): LlamaPlan {
  const c = configFromGGUF(h); // throws on a wrong architecture or inconsistent dims
  LlamaTokenizer.fromGGUF(h); // throws on an unsupported tokenizer
  const quantTypes: Record<string, number> = {};
  let weightBytes = 0, largest = { name: '', bytes: 0 };
  for (const t of h.tensors) {
    quantTypes[t.type] = (quantTypes[t.type] ?? 0) + 1;
    if (t.dims.length !== 2) continue; // norms and rope factors: small
    const bytes = t.type === 'F32' || !isQFormat(t.type) ? t.nElements * 4 : t.nBytes;
    weightBytes += bytes;
    if (bytes > largest.bytes) largest = { name: t.name, bytes };
  }
  return {
    name, arch: 'llama', nLayer: c.nLayer, dModel: c.dModel, nHead: c.nHead, nHeadKv: c.nHeadKv, headDim: c.headDim, dMlp: c.dMlp, vocabSize: c.vocabSize,
    nCtx: c.nCtx, quantTypes, fileBytes: h.fileSize, weightBytes, largestBuffer: largest,
    randomWeights: /^memgen-(tiny|random)-llama/.test(metaString(h, 'general.name', '')), // fixtures and the full-size bench file
  };
}
