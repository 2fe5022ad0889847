// ef.train: optimizers, the global step, learning-rate schedules, clipping and checkpoints.
export { CheckpointError } from "./checkpoint_error.ts";
export { type CheckpointFileSystem, denoFileSystem, writeFileAtomic } from "./checkpoint_files.ts";
export { type Manifest, type ManifestTensor, sha256Hex } from "./checkpoint_manifest.ts";
export {
  decodeSafetensors,
  encodeSafetensors,
  SAFETENSORS_DTYPE,
  type SafetensorsFile,
  type StoredTensor,
  storedToTensor,
} from "./checkpoint_safetensors.ts";
export {
  type SaveableVariable,
  type SaveOptions,
  Saver,
  type SaverOptions,
  type VariableSet,
} from "./checkpoint_saver.ts";
export {
  checkHyper,
  type GradAndVar,
  type Hyperparameter,
  type MinimizeOptions,
  Optimizer,
} from "./optimizer.ts";
export {
  AdagradOptimizer,
  AdamOptimizer,
  type AdamOptions,
  GradientDescentOptimizer,
  MomentumOptimizer,
  RMSPropOptimizer,
  type RMSPropOptions,
} from "./optimizers.ts";
export { getGlobalStep, getOrCreateGlobalStep, GLOBAL_STEP } from "./global_step.ts";
export {
  cosineDecay,
  exponentialDecay,
  piecewiseConstant,
  polynomialDecay,
  type StepLike,
} from "./learning_rate.ts";
export { clipByGlobalNorm, globalNorm } from "./clip.ts";
export { freezeGraph, type FrozenGraph } from "./freeze.ts";
