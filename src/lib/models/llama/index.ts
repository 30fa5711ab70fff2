// LLaMA-3.x from GGUF on tfjs.
export { LlamaModel, generate, type KVCache, type GenerateOptions } from './model'; // the HookedModel + KV-cached decoding
export { configFromGGUF, llama3RopeFactors, type LlamaConfig } from './config'; // dims from GGUF metadata
export { LlamaTokenizer, type ChatMessage } from './tokenizer'; // byte-level BPE + Llama-3 chat format
export { LoraAdapters, lmLoss, DEFAULT_LORA, type LoraConfig, type LoraBatch } from './lora'; // adapters, GGUF adapter files (the train step: train/lora-step.ts)
export { planFromHeader, type LlamaPlan } from './plan'; // what a GGUF header says before loading (the service: worker/llama.ts)
