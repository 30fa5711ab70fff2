// The defaults of the analysis pipeline in the worker, written once (pages may offer other values).
import type { PairSearchOptions, HookSet } from '../neurons/pipeline';
import type { DecodeMode } from '../train/evaluate';

// Decoding: beam 5 wherever the paper decodes (pair labels, steering, one prompt tried), greedy selectable.
export const PIPELINE_DEFAULTS = {
  /** Step 1: contrastive pairs (padId comes from the model). */
  pairs: { seed: 1, target: 5000, maxTried: 50_000, timeCapSeconds: 600, decode: 'beam', chunk: 64 } satisfies Omit<PairSearchOptions, 'padId'>,
  /** Step 2: recording. */
  record: { hookSet: 'resid' as HookSet, dtype: 'float32' as 'float32' | 'float16', batch: 64 },
  /** Step 3: analysis. */
  analyze: { topFractions: [0.05, 0.1], welch: true, probe: true },
  /** Steering sweeps, and the fresh prompts they steer. */
  steer: { alphas: [0.5, 1, 3, 5], topFractions: [0.05, 0.1], controlSeeds: 10, perDirection: 300, freshSeed: 1, decode: 'beam' as DecodeMode },
  /** One prompt tried five ways: the seed of its random controls. */
  tryPrompt: { controlSeed: 1000 },
  /** Consistency: the second set of pairs, and cross-steering. */
  consistency: { topFraction: 0.05, alpha: 1, controlSeeds: 3, maxPrompts: 300, timeCapSeconds: 300 },
} as const;
