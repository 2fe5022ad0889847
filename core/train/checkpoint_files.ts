/**
 * Files written so that a crash never leaves a half-written one under its real name: the bytes go
 * to a temporary name in the same directory, are flushed to the disk (fsync), and the file is then
 * renamed over the target, which POSIX makes atomic; the directory is fsynced so the rename itself
 * survives a power loss. A reader sees the old file or the new one, never a mixture.
 *
 * The file system is an interface so tests can make a write fail part way (an injected crash).
 */
import { CheckpointError } from "./checkpoint_error.ts";

export interface CheckpointFileSystem {
  /** Creates or truncates `path`, writes all of `data` and flushes it to the disk. */
  writeSynced(path: string, data: Uint8Array): Promise<void>;
  /** Renames atomically, replacing `to`. */
  rename(from: string, to: string): Promise<void>;
  /** Flushes a directory's entries, so renames and removals in it are durable. */
  syncDirectory(path: string): Promise<void>;
  readFile(path: string): Promise<Uint8Array>;
  /** Removes a file; a missing one is no error. */
  remove(path: string): Promise<void>;
  /** Creates a directory and its parents; an existing one is no error. */
  mkdir(path: string): Promise<void>;
  /** Whether a path exists. */
  exists(path: string): Promise<boolean>;
  /** Whether a path is a directory (false when missing). */
  isDirectory(path: string): Promise<boolean>;
}

/** The real file system, through Deno. */
export const denoFileSystem: CheckpointFileSystem = {
  async writeSynced(path, data) {
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    try {
      for (let at = 0; at < data.length;) at += await file.write(data.subarray(at));
      await file.sync();
    } finally {
      file.close();
    }
  },
  rename: (from, to) => Deno.rename(from, to),
  async syncDirectory(path) {
    // Windows cannot open a directory for syncing; its renames are durable on their own (NTFS
    // journals metadata), so there is nothing to flush there.
    if (Deno.build.os === "windows") return;
    const dir = await Deno.open(path, { read: true });
    try {
      await dir.sync();
    } finally {
      dir.close();
    }
  },
  readFile: (path) => Deno.readFile(path),
  async remove(path) {
    try {
      await Deno.remove(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  },
  mkdir: (path) => Deno.mkdir(path, { recursive: true }),
  async exists(path) {
    try {
      await Deno.lstat(path);
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  },
  async isDirectory(path) {
    try {
      return (await Deno.stat(path)).isDirectory;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  },
};

/** Writes `data` to `path` atomically (temporary name, fsync, rename, directory fsync). */
export async function writeFileAtomic(
  fs: CheckpointFileSystem,
  path: string,
  data: Uint8Array,
): Promise<void> {
  const temporary = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await fs.writeSynced(temporary, data);
    await fs.rename(temporary, path);
  } catch (e) {
    // Best effort: a crash would leave the temporary file too, and readers ignore it.
    await fs.remove(temporary).catch(() => {});
    throw new CheckpointError(path, undefined, `writing failed: ${(e as Error).message}`, {
      cause: e,
    });
  }
  await fs.syncDirectory(parentOf(path));
}

/** Reads a whole file; a failure names the file. */
export async function readCheckpointFile(
  fs: CheckpointFileSystem,
  path: string,
): Promise<Uint8Array> {
  try {
    return await fs.readFile(path);
  } catch (e) {
    throw new CheckpointError(path, undefined, `cannot be read: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** `a/b/c` → `a/b`; a bare name's parent is ".". */
export function parentOf(path: string): string {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return cut < 0 ? "." : cut === 0 ? "/" : path.slice(0, cut);
}

/** The last component of a path. */
export function baseName(path: string): string {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return path.slice(cut + 1);
}

export function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}
