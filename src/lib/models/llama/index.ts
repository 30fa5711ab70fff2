// LLaMA-3.x from GGUF on tfjs.
export { LlamaModel, generate, type KVCache, type GenerateOptions } from './model'; // the HookedModel + KV-cached decoding
export { configFromGGUF, llama3RopeFactors, type LlamaConfig } from './config'; // dims from GGUF metadata
export { LlamaTokenizer, type ChatMessage } from './tokenizer'; // byte-level BPE + Llama-3 chat format
export { LoraAdapters, lmLoss, DEFAULT_LORA, type LoraConfig, type LoraBatch } from './lora'; // adapters, GGUF adapter files (the train step: train/lora-step.ts)
export { LlamaService, type LlamaInfo, type DownloadProgress, type GenerateRequest } from './service'; // worker-facing service (lab.llama)
export { fineTune, defaultFineTuneConfig, promptIds, exampleIds, evaluateLlama, type FineTuneConfig } from './finetune'; // LoRA fine-tuning on a task
