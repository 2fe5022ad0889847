/**
 * Where a model's files come from: bytes in memory, a file path, or a URL. A model file names
 * its companions (weight shards) by relative paths; they are read only from inside the model's
 * own directory or URL prefix, and no read takes more bytes than a limit allows.
 */
import { EdgeflowError } from "../errors.ts";

/** A model as files in memory (relative path → bytes), a file path, or a URL. */
export type ModelSource =
  | string
  | URL
  | ReadonlyMap<string, Uint8Array>
  | Readonly<Record<string, Uint8Array>>;

export interface ReadLimits {
  /** The most bytes any one file may have (default 2 GiB, what a typed array holds). */
  maxFileBytes?: number;
}
const DEFAULT_MAX_FILE_BYTES = 2 ** 31 - 1;

/** A model's main file and a way to read the files next to it. */
export interface ModelFiles {
  /** The main file's name as errors show it (a path or URL). */
  readonly mainName: string;
  readonly main: Uint8Array;
  /** Reads `relative` (a path from the model file); `field` says who named it, for errors. */
  read(relative: string, field: string): Promise<Uint8Array>;
  /** How errors name `relative`. */
  nameOf(relative: string): string;
}

/**
 * Opens a model. A string is a URL when it starts with a scheme (http:, https:, file:), else a
 * file path; a map must hold `defaultMain` (e.g. "model.json") unless it holds exactly one file.
 */
export async function openModel(
  source: ModelSource,
  defaultMain: string,
  limits: ReadLimits = {},
): Promise<ModelFiles> {
  const max = limits.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  if (source instanceof URL) return await openUrl(source, max);
  if (typeof source === "string") {
    return /^[a-z][a-z0-9+.-]*:\/\//i.test(source)
      ? await openUrl(new URL(source), max)
      : await openPath(source, max);
  }
  if (typeof source === "object" && source !== null) return openMap(source, defaultMain);
  throw new EdgeflowError(`a model source is bytes by path, a file path or a URL, not ${source}`);
}

/**
 * `relative` as clean path segments inside the model's directory: no absolute paths, schemes,
 * backslashes or percent-escapes, and no ".." that climbs out.
 */
export function confinedPath(relative: string, field: string, mainName: string): string {
  const refuse = (why: string) =>
    new EdgeflowError(
      `${mainName}: ${field} '${relative}' ${why}; a model reads only its own files`,
    );
  if (typeof relative !== "string" || relative.length === 0) throw refuse("is not a path");
  if (/^[a-z][a-z0-9+.-]*:/i.test(relative)) throw refuse("has a scheme or drive");
  if (relative.startsWith("/")) throw refuse("is absolute");
  if (/[\\%\0]/.test(relative)) throw refuse("has a backslash, percent-escape or NUL");
  const out: string[] = [];
  for (const part of relative.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length === 0) throw refuse("leaves the model's directory");
      out.pop();
    } else out.push(part);
  }
  if (out.length === 0) throw refuse("names no file");
  return out.join("/");
}

function openMap(
  files: ReadonlyMap<string, Uint8Array> | Readonly<Record<string, Uint8Array>>,
  defaultMain: string,
): ModelFiles {
  const map = files instanceof Map
    ? files as ReadonlyMap<string, Uint8Array>
    : new Map(Object.entries(files));
  // The main file: `defaultMain`, else the one file named so in a folder, else the only file.
  const named = [...map.keys()].filter((k) => k === defaultMain || k.endsWith(`/${defaultMain}`));
  const mainName = named.length === 1
    ? named[0]
    : map.size === 1 && named.length === 0
    ? [...map.keys()][0]
    : defaultMain;
  const main = map.get(mainName);
  if (!(main instanceof Uint8Array)) {
    throw new EdgeflowError(`the model's files hold no '${defaultMain}'`);
  }
  const dir = mainName.includes("/") ? mainName.slice(0, mainName.lastIndexOf("/") + 1) : "";
  return {
    mainName,
    main,
    nameOf: (relative) => dir + relative,
    read(relative, field) {
      const path = dir + confinedPath(relative, field, mainName);
      const bytes = map.get(path);
      if (!(bytes instanceof Uint8Array)) {
        return Promise.reject(
          new EdgeflowError(`${mainName}: ${field} '${path}' is not among the model's files`),
        );
      }
      return Promise.resolve(bytes);
    },
  };
}

async function openPath(path: string, max: number): Promise<ModelFiles> {
  const main = await readFileLimited(path, max, path, "the model file");
  const cut = path.lastIndexOf("/");
  const dir = cut >= 0 ? path.slice(0, cut + 1) : "./";
  const realDir = await Deno.realPath(dir);
  const nameOf = (relative: string) => dir + relative;
  return {
    mainName: path,
    main,
    nameOf,
    async read(relative, field) {
      const file = dir + confinedPath(relative, field, path);
      // A symlink inside the directory may still point out of it: compare real paths.
      let real: string;
      try {
        real = await Deno.realPath(file);
      } catch (e) {
        throw new EdgeflowError(`${path}: ${field} '${relative}' cannot be read: ${message(e)}`);
      }
      if (!real.startsWith(realDir.endsWith("/") ? realDir : realDir + "/")) {
        throw new EdgeflowError(
          `${path}: ${field} '${relative}' resolves outside the model's directory`,
        );
      }
      return await readFileLimited(file, max, file, field);
    },
  };
}

async function readFileLimited(
  file: string,
  max: number,
  name: string,
  field: string,
): Promise<Uint8Array> {
  try {
    const info = await Deno.stat(file);
    if (!info.isFile) throw new EdgeflowError(`${name} (${field}) is not a file`);
    if (info.size > max) {
      throw new EdgeflowError(
        `${name} (${field}) has ${info.size} bytes, over the ${max}-byte limit`,
      );
    }
    const bytes = await Deno.readFile(file);
    // The file may have grown between stat and read.
    if (bytes.byteLength > max) {
      throw new EdgeflowError(`${name} (${field}) has over the ${max}-byte limit`);
    }
    return bytes;
  } catch (e) {
    if (e instanceof EdgeflowError) throw e;
    throw new EdgeflowError(`${name} (${field}) cannot be read: ${message(e)}`, {}, { cause: e });
  }
}

async function openUrl(url: URL, max: number): Promise<ModelFiles> {
  const main = await fetchLimited(url, max, "the model file");
  const base = new URL(".", url);
  return {
    mainName: url.href,
    main,
    nameOf: (relative) => new URL(relative, base).href,
    async read(relative, field) {
      const target = new URL(confinedPath(relative, field, url.href), base);
      if (target.origin !== base.origin || !target.href.startsWith(base.href)) {
        throw new EdgeflowError(
          `${url.href}: ${field} '${relative}' resolves outside ${base.href}`,
        );
      }
      return await fetchLimited(target, max, field);
    },
  };
}

async function fetchLimited(url: URL, max: number, field: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new EdgeflowError(`${url.href} (${field}) cannot be fetched: ${message(e)}`, {}, {
      cause: e,
    });
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new EdgeflowError(`${url.href} (${field}) answered HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > max) {
    await response.body?.cancel();
    throw new EdgeflowError(
      `${url.href} (${field}) has ${declared} bytes, over the ${max}-byte limit`,
    );
  }
  // Read in chunks and stop at the limit: a server may send more than it declared.
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw new EdgeflowError(`${url.href} (${field}) sends over the ${max}-byte limit`);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs `fn` (an import step), so that whatever it throws is an EdgeflowError naming `file`: the
 * importer's own errors name the node, and a raw error (bad base64, say) becomes one.
 */
export function inFile<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof EdgeflowError && e.reason.startsWith(file)) throw e;
    const reason = e instanceof EdgeflowError ? e.reason : message(e);
    const context = e instanceof EdgeflowError ? { node: e.node, op: e.op } : {};
    throw new EdgeflowError(`${file}: ${reason}`, context, { cause: e });
  }
}
