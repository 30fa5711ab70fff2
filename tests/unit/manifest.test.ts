// A recording's manifest names the model that made it: a LLaMA recording was once labelled "gpt2-llama".
import 'fake-indexeddb/auto';
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { parseGGUF } from '../../src/lib/gguf/reader';
import { LlamaModel } from '../../src/lib/models/llama/model';
import { registerQMatMulKernels } from '../../src/lib/kernels/qmatmul';
import { AnalysisService } from '../../src/lib/worker/analysis';
import { ActivationStore } from '../../src/lib/store/activations';
import { getTask } from '../../src/lib/tasks';
import type { KeptPair } from '../../src/lib/neurons/pipeline';

beforeAll(async () => {
  registerQMatMulKernels();
  await tf.setBackend('cpu');
});

describe('recording manifest', () => {
  it('labels a LLaMA recording as llama, not gpt2', async () => {
    const bytes = new Uint8Array(readFileSync('tests/fixtures/tiny-llama-f32.gguf'));
    const model = await LlamaModel.fromGGUF(bytes, parseGGUF(bytes));
    const svc = new AnalysisService(() => undefined, () => undefined);
    svc.useModel(model, 'cipher', 'LLaMA tiny', model.tokenizer.eosId);
    const [a, b] = getTask('cipher').evalSet(1, 2);
    const kept: KeptPair[] = [{ pair: { id: 'p', a, b }, mem: a, gen: b }];
    svc.host.need().kept = kept;
    const r = await svc.record({ batch: 2 });
    expect(r.rows).toBe(2);
    const store = await ActivationStore.open(r.storeId);
    expect(store.manifest.model).toBe('llama');
    model.dispose();
  });
});
