// Browser storage of the lab (IndexedDB).
export { ActivationStore, StoreQuotaError, ManifestSchema, StoredManifestSchema } from './activations'; // recorded activations, chunked
export type { ActivationManifest, StoredManifest, HookSpec, ActivationChunk, StoreOptions } from './activations';
export { kvStore, type KvStore } from './kv'; // small typed key-value store over idb-keyval, for other stores
export { f32ToF16, f16ToF32, toHalfBits } from './f16'; // float16 encoding of stored activations
