/**
 * The index file "checkpoint" in a checkpoint directory (TensorFlow's name): which checkpoints
 * exist, oldest first, the last being the latest. It is replaced atomically after a checkpoint's
 * files are complete, so it only ever names whole checkpoints; a checkpoint is its manifest
 * `<name>.json` plus the data file the manifest names.
 *
 *   {"format": "edgeflow.checkpoint-index", "version": 1, "checkpoints": ["ckpt-10", "ckpt-20"]}
 */
import { CheckpointError } from "./checkpoint_error.ts";
import {
  type CheckpointFileSystem,
  joinPath,
  readCheckpointFile,
  writeFileAtomic,
} from "./checkpoint_files.ts";
import { isPlainFileName } from "./checkpoint_manifest.ts";

export const INDEX_FILE = "checkpoint";
export const INDEX_FORMAT = "edgeflow.checkpoint-index";

export interface CheckpointIndex {
  /** Checkpoint names, oldest first. */
  readonly checkpoints: readonly string[];
}

/** The directory's index; an empty one when the directory has none yet. */
export async function readIndex(fs: CheckpointFileSystem, dir: string): Promise<CheckpointIndex> {
  const path = joinPath(dir, INDEX_FILE);
  if (!(await fs.exists(path))) return { checkpoints: [] };
  return decodeIndex(await readCheckpointFile(fs, path), path);
}

export async function writeIndex(
  fs: CheckpointFileSystem,
  dir: string,
  index: CheckpointIndex,
): Promise<void> {
  const json = { format: INDEX_FORMAT, version: 1, checkpoints: index.checkpoints };
  await writeFileAtomic(
    fs,
    joinPath(dir, INDEX_FILE),
    new TextEncoder().encode(JSON.stringify(json) + "\n"),
  );
}

export function decodeIndex(bytes: Uint8Array, file: string): CheckpointIndex {
  let j: Record<string, unknown> | null;
  try {
    j = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new CheckpointError(file, undefined, `the index is not JSON (${(e as Error).message})`);
  }
  if (
    typeof j !== "object" || j === null || j.format !== INDEX_FORMAT || j.version !== 1 ||
    !Array.isArray(j.checkpoints)
  ) {
    throw new CheckpointError(file, undefined, `not an ${INDEX_FORMAT} of version 1`);
  }
  const names = j.checkpoints as unknown[];
  const bad = names.find((n) => !isPlainFileName(n));
  if (bad !== undefined) {
    throw new CheckpointError(file, undefined, `checkpoint ${JSON.stringify(bad)} is not a name`);
  }
  if (new Set(names).size !== names.length) {
    throw new CheckpointError(file, undefined, "a checkpoint is listed twice");
  }
  return { checkpoints: names as string[] };
}
