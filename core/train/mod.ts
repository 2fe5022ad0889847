// ef.train: training state. Checkpoints today; optimizers join them here.
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
