// GPT-2: the model, its config and presets, and the two op sets it runs on.
export { GPT2, initWeights, weightShapes, isDecayed } from './model';
export { PRESETS, presetConfig, validateConfig, countParams, flopsPerToken, type GPT2Config, type PresetName } from './config';
export { getOps, type ModelOps, type OpsImpl } from './ops';
