/**
 * Saver: writes a named set of resource variables (model weights, optimizer slots, the global
 * step: anything with a VarHandleOp) to a checkpoint directory and reads them back, like
 * TensorFlow's tf.compat.v1.train.Saver.
 *
 * A checkpoint is `<prefix>-<step>.safetensors` (every tensor, readable by numpy or PyTorch) and
 * `<prefix>-<step>.json` (its manifest with per-tensor SHA-256); the directory's `checkpoint`
 * index lists the last `maxToKeep`. Every file is written under a temporary name, fsynced and
 * renamed, the index last, so a crash at any point leaves the previous checkpoint the latest and
 * whole. Values are read with one session run (one consistent snapshot) and restored through
 * AssignVariableOps fed with host tensors, so they land on whatever device the restoring session
 * placed each variable: save from WASM, restore onto a TPU.
 */
import type { DType, NumericDType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Graph, Node, Output } from "../graph.ts";
import { apply } from "../ops/build.ts";
import { group, placeholder } from "../ops/basic.ts";
import { AssignVariableOp, ReadVariableOp } from "../ops/state.ts";
import type { Session } from "../session.ts";
import { formatShape, isCompatible, type PartialShape } from "../shape.ts";
import { numbers, type Tensor } from "../tensor.ts";
import { VARIABLES } from "../variables.ts";
import { CheckpointError } from "./checkpoint_error.ts";
import {
  type CheckpointFileSystem,
  denoFileSystem,
  joinPath,
  parentOf,
  readCheckpointFile,
  writeFileAtomic,
} from "./checkpoint_files.ts";
import { readIndex, writeIndex } from "./checkpoint_index.ts";
import {
  decodeManifest,
  encodeManifest,
  isPlainFileName,
  type Manifest,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  sha256Hex,
} from "./checkpoint_manifest.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  littleEndianBytes,
  storedToTensor,
} from "./checkpoint_safetensors.ts";

/** A resource variable: a VarHandleOp's output with the dtype and shape of what it holds. */
export interface SaveableVariable {
  readonly handle: Output;
  readonly dtype: DType;
  readonly shape: PartialShape;
  /** The name it is saved under when given in a list (a Variable's shared name). */
  readonly name?: string;
}

/** Variables each under its own name, or a record of names to variables. */
export type VariableSet = readonly SaveableVariable[] | Readonly<Record<string, SaveableVariable>>;

export interface SaverOptions {
  /** What to save; the graph's "variables" collection when the saver first meets the graph. */
  variables?: VariableSet;
  /** How many checkpoints to keep (the oldest are deleted); 5 unless given, Infinity keeps all. */
  maxToKeep?: number;
  /** File name prefix, "ckpt" unless given. */
  prefix?: string;
  /** The file system; Deno's unless given (tests inject failures through it). */
  fileSystem?: CheckpointFileSystem;
}

export interface SaveOptions {
  /** The checkpoint's step: a number, or a scalar integer tensor read in the same run. */
  step?: number | Output;
}

/** The ops a saver adds to a graph once: reads to save, fed assignments to restore. */
interface SaverOps {
  readonly names: readonly string[];
  readonly variables: readonly SaveableVariable[];
  readonly reads: readonly Output[];
  readonly feeds: readonly Output[];
  readonly assigns: readonly Node[];
  readonly restore: Node;
}

export class Saver {
  readonly maxToKeep: number;
  readonly prefix: string;
  private readonly fs: CheckpointFileSystem;
  private readonly ops = new WeakMap<Graph, SaverOps>();
  /** Saves run one after another, so two never race on a directory's index. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: SaverOptions = {}) {
    const keep = options.maxToKeep ?? 5;
    if (!(keep === Infinity || (Number.isSafeInteger(keep) && keep >= 1))) {
      throw new EdgeflowError(`maxToKeep must be a positive integer or Infinity, got ${keep}`);
    }
    this.maxToKeep = keep;
    this.prefix = options.prefix ?? "ckpt";
    if (!isPlainFileName(`${this.prefix}-0`)) {
      throw new EdgeflowError(`prefix '${this.prefix}' is not a plain file name`);
    }
    this.fs = options.fileSystem ?? denoFileSystem;
  }

  /**
   * Adds the saver's ops to a graph now rather than at the first save (adding nodes changes the
   * graph, so sessions rebuild their plans once afterwards).
   */
  build(graph: Graph): void {
    this.opsFor(graph);
  }

  /** Saves the variables' current values; returns the checkpoint's path (without extension). */
  save(session: Session, dir: string, options: SaveOptions = {}): Promise<string> {
    const done = this.queue.then(() => this.saveNow(session, dir, options));
    this.queue = done.catch(() => {});
    return done;
  }

  /**
   * Restores a checkpoint into the session's variables: `path` is a directory (its latest
   * checkpoint) or a checkpoint's path as `save` returned it (with or without ".json" or
   * ".safetensors"). Every file, name, dtype, shape and checksum is checked before any variable
   * changes. Returns the checkpoint's manifest.
   */
  async restore(session: Session, path: string): Promise<Manifest> {
    const ops = this.opsFor(session.graph);
    const manifestPath = await this.manifestPath(path);
    const manifest = decodeManifest(await readCheckpointFile(this.fs, manifestPath), manifestPath);
    const dataPath = joinPath(parentOf(manifestPath), manifest.data);
    const file = decodeSafetensors(await readCheckpointFile(this.fs, dataPath), dataPath);
    const listed = new Map(manifest.tensors.map((t) => [t.name, t]));
    for (const name of file.tensors.keys()) {
      if (!listed.has(name)) throw new CheckpointError(dataPath, name, "not in the manifest");
    }
    for (const entry of manifest.tensors) {
      const stored = file.tensors.get(entry.name);
      if (!stored) {
        throw new CheckpointError(dataPath, entry.name, "in the manifest but not in the file");
      }
      if (stored.dtype !== entry.dtype || stored.shape.join() !== entry.shape.join()) {
        throw new CheckpointError(
          dataPath,
          entry.name,
          `the file holds ${stored.dtype}${
            formatShape(stored.shape)
          }, the manifest says ${entry.dtype}${formatShape(entry.shape)}`,
        );
      }
      if ((await sha256Hex(stored.bytes)) !== entry.sha256) {
        throw new CheckpointError(dataPath, entry.name, "SHA-256 differs from the manifest's");
      }
    }
    const values = ops.names.map((name, i) => {
      const stored = file.tensors.get(name);
      const v = ops.variables[i];
      if (!stored) throw new CheckpointError(dataPath, name, "no such tensor in the checkpoint");
      if (stored.dtype !== v.dtype || !isCompatible(stored.shape, v.shape)) {
        throw new CheckpointError(
          dataPath,
          name,
          `holds ${stored.dtype}${formatShape(stored.shape)}, the variable is ${v.dtype}${
            formatShape(v.shape)
          }`,
        );
      }
      return storedToTensor(stored, dataPath);
    });
    try {
      await session.run([], ops.feeds.map((f, i) => [f, values[i]] as const), [ops.restore]);
    } catch (e) {
      // A device refusing a value (int64 beyond WebGPU's int32 storage, say): name the tensor.
      const i = e instanceof EdgeflowError ? ops.assigns.findIndex((a) => a.name === e.node) : -1;
      if (i < 0) throw e;
      throw new CheckpointError(dataPath, ops.names[i], (e as Error).message, { cause: e });
    }
    return manifest;
  }

  /** The latest checkpoint's path in `dir`, or null when it has none. */
  async latest(dir: string): Promise<string | null> {
    const names = (await readIndex(this.fs, dir)).checkpoints;
    return names.length === 0 ? null : joinPath(dir, names[names.length - 1]);
  }

  /** The paths of the checkpoints `dir` keeps, oldest first. */
  async checkpoints(dir: string): Promise<string[]> {
    return (await readIndex(this.fs, dir)).checkpoints.map((n) => joinPath(dir, n));
  }

  private async saveNow(session: Session, dir: string, options: SaveOptions): Promise<string> {
    const ops = this.opsFor(session.graph);
    const stepFetch = typeof options.step === "object" ? [options.step] : [];
    const fetched = await session.run([...ops.reads, ...stepFetch]);
    await this.fs.mkdir(dir);
    const index = await readIndex(this.fs, dir);
    const step = typeof options.step === "object"
      ? stepValue(fetched[fetched.length - 1], options.step.name)
      : options.step ?? await this.nextStep(dir, index.checkpoints);
    if (!Number.isSafeInteger(step) || step < 0) {
      throw new EdgeflowError(`the step must be a non-negative integer, got ${step}`);
    }
    const name = this.freeName(`${this.prefix}-${step}`, index.checkpoints);
    const entries = ops.names.map((n, i) => ({ name: n, tensor: fetched[i] }));
    const dataName = `${name}.safetensors`;
    const dataPath = joinPath(dir, dataName);
    const data = encodeSafetensors(entries, { producer: "edgeflow", step: String(step) }, dataPath);
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      step,
      data: dataName,
      checksum: "sha256",
      tensors: await Promise.all(entries.map(async ({ name, tensor }) => ({
        name,
        dtype: tensor.dtype as NumericDType,
        shape: tensor.shape.slice(),
        sha256: await sha256Hex(littleEndianBytes(tensor)),
      }))),
    };
    // Data, then manifest, then index: until the index is replaced, nothing names the new files.
    await writeFileAtomic(this.fs, dataPath, data);
    await writeFileAtomic(this.fs, joinPath(dir, `${name}.json`), encodeManifest(manifest));
    const all = [...index.checkpoints, name];
    const kept = all.slice(Math.max(0, all.length - this.maxToKeep));
    await writeIndex(this.fs, dir, { checkpoints: kept });
    for (const old of all.slice(0, all.length - kept.length)) {
      await this.fs.remove(joinPath(dir, `${old}.json`));
      await this.fs.remove(joinPath(dir, `${old}.safetensors`));
    }
    return joinPath(dir, name);
  }

  /** One past the latest checkpoint's step, 0 for an empty directory. */
  private async nextStep(dir: string, names: readonly string[]): Promise<number> {
    if (names.length === 0) return 0;
    const path = joinPath(dir, `${names[names.length - 1]}.json`);
    return decodeManifest(await readCheckpointFile(this.fs, path), path).step + 1;
  }

  /**
   * `base`, or `base_1`, `base_2`, ... when the index holds a checkpoint of that name already (a
   * step saved twice). Files the index does not name are leftovers of a failed save, which
   * nothing refers to, so they may be overwritten.
   */
  private freeName(base: string, taken: readonly string[]): string {
    for (let k = 0;; k++) {
      const name = k === 0 ? base : `${base}_${k}`;
      if (!taken.includes(name)) return name;
    }
  }

  private async manifestPath(path: string): Promise<string> {
    if (await this.fs.isDirectory(path)) {
      const latest = await this.latest(path);
      if (latest === null) {
        throw new CheckpointError(path, undefined, "the directory holds no checkpoint");
      }
      return `${latest}.json`;
    }
    if (path.endsWith(".json")) return path;
    if (path.endsWith(".safetensors")) return path.slice(0, -".safetensors".length) + ".json";
    return `${path}.json`;
  }

  private opsFor(graph: Graph): SaverOps {
    let ops = this.ops.get(graph);
    if (!ops) {
      ops = buildOps(graph, namedVariables(graph, this.options.variables));
      this.ops.set(graph, ops);
    }
    return ops;
  }
}

function namedVariables(
  graph: Graph,
  given: VariableSet | undefined,
): [string, SaveableVariable][] {
  const set = given ?? graph.getCollection<SaveableVariable>(VARIABLES);
  const pairs: [string, SaveableVariable][] = Array.isArray(set)
    ? (set as readonly SaveableVariable[]).map((v) => [v.name ?? handleName(v.handle), v])
    : Object.entries(set as Record<string, SaveableVariable>);
  if (pairs.length === 0) throw new EdgeflowError("the saver has no variables to save");
  const seen = new Set<string>();
  for (const [name, v] of pairs) {
    if (seen.has(name)) throw new EdgeflowError(`two variables are saved as '${name}'`);
    seen.add(name);
    if (v.handle.graph !== graph) {
      throw new EdgeflowError(`variable '${name}' belongs to another graph than the session's`);
    }
    if (v.handle.dtype !== "resource") {
      throw new EdgeflowError(`'${name}' is a ${v.handle.dtype} tensor, not a variable handle`);
    }
  }
  return pairs;
}

function handleName(handle: Output): string {
  return (handle.node.attrs.shared_name as string | undefined) || handle.node.name;
}

function buildOps(graph: Graph, pairs: [string, SaveableVariable][]): SaverOps {
  return graph.withNameScope("save", () => {
    const reads: Output[] = [];
    const feeds: Output[] = [];
    const assigns: Node[] = [];
    for (const [, v] of pairs) {
      graph.colocateWith(v.handle, () => {
        reads.push(apply(ReadVariableOp, [v.handle], { dtype: v.dtype }).outputs[0]);
      });
      const feed = placeholder(graph, v.dtype, v.shape, { name: "value" });
      feeds.push(feed);
      graph.colocateWith(v.handle, () => {
        assigns.push(apply(AssignVariableOp, [v.handle, feed], { dtype: v.dtype }));
      });
    }
    return {
      names: pairs.map(([n]) => n),
      variables: pairs.map(([, v]) => v),
      reads,
      feeds,
      assigns,
      restore: group(assigns, { graph, name: "restore_all" }),
    };
  });
}

function stepValue(t: Tensor, name: string): number {
  if (t.size !== 1 || !(t.dtype === "int32" || t.dtype === "int64")) {
    throw new EdgeflowError(`the step '${name}' must be an int32 or int64 scalar, got ${t}`);
  }
  return numbers(t)[0];
}
