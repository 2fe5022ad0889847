/**
 * A checkpoint's manifest: a small JSON file beside its safetensors file naming the step, the data
 * file and, per tensor, its name, dtype, shape and SHA-256 (of its raw little-endian bytes as they
 * lie in the data file, so `hashlib.sha256(buf[begin:end])` checks it without Edgeflow).
 *
 *   {"format": "edgeflow.checkpoint", "version": 1, "step": 30, "data": "ckpt-30.safetensors",
 *    "checksum": "sha256", "tensors": [{"name": "w", "dtype": "float32", "shape": [2, 3],
 *    "sha256": "9f86…"}]}
 */
import { isNumeric, type NumericDType } from "../dtype.ts";
import type { Shape } from "../shape.ts";
import { CheckpointError } from "./checkpoint_error.ts";

export const MANIFEST_FORMAT = "edgeflow.checkpoint";
export const MANIFEST_VERSION = 1;

export interface ManifestTensor {
  readonly name: string;
  readonly dtype: NumericDType;
  readonly shape: Shape;
  /** Lower-case hex SHA-256 of the tensor's bytes. */
  readonly sha256: string;
}

export interface Manifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly version: typeof MANIFEST_VERSION;
  readonly step: number;
  /** The safetensors file's name, in the manifest's directory. */
  readonly data: string;
  readonly checksum: "sha256";
  readonly tensors: readonly ManifestTensor[];
}

/** Lower-case hex SHA-256 of some bytes (WebCrypto). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A name that can only mean a file in the checkpoint's own directory: no separators, no "..",
 * not hidden. The index and manifests are read from disk, and the saver deletes what they name.
 */
export function isPlainFileName(name: unknown): name is string {
  return typeof name === "string" && /^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(name);
}

/** JSON with one line per field and per tensor, so a diff or a glance shows what changed. */
export function encodeManifest(m: Manifest): Uint8Array {
  const head = JSON.stringify({ ...m, tensors: [] }, null, 1);
  const tensors = m.tensors.map((t) => `  ${JSON.stringify(t)}`).join(",\n");
  const text = head.replace('"tensors": []', `"tensors": [\n${tensors}\n ]`);
  return new TextEncoder().encode(text + "\n");
}

/** Parses and checks a manifest file's bytes; errors name the file and, where known, the tensor. */
export function decodeManifest(bytes: Uint8Array, file: string): Manifest {
  const fail = (reason: string, tensor?: string): never => {
    throw new CheckpointError(file, tensor, reason);
  };
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    return fail(`the manifest is not JSON text (${(e as Error).message})`);
  }
  if (typeof m !== "object" || m === null || Array.isArray(m)) {
    fail("the manifest is not a JSON object");
  }
  if (m.format !== MANIFEST_FORMAT || m.version !== MANIFEST_VERSION) {
    fail(
      `not an ${MANIFEST_FORMAT} manifest of version ${MANIFEST_VERSION} (format ${
        JSON.stringify(m.format)
      }, version ${JSON.stringify(m.version)})`,
    );
  }
  if (!Number.isSafeInteger(m.step) || (m.step as number) < 0) {
    fail(`step ${JSON.stringify(m.step)} is not a non-negative integer`);
  }
  if (!isPlainFileName(m.data)) fail(`data file ${JSON.stringify(m.data)} is not a plain name`);
  if (m.checksum !== "sha256") fail(`unknown checksum ${JSON.stringify(m.checksum)}`);
  if (!Array.isArray(m.tensors)) fail("tensors is not a list");
  const seen = new Set<string>();
  for (const t of m.tensors as unknown[]) {
    const e = (typeof t === "object" && t !== null ? t : {}) as Record<string, unknown>;
    if (typeof e.name !== "string") fail(`a tensor entry has no name: ${JSON.stringify(t)}`);
    const name = e.name as string;
    if (seen.has(name)) fail("listed twice", name);
    seen.add(name);
    if (typeof e.dtype !== "string" || !isNumeric(e.dtype as never)) {
      fail(`dtype ${JSON.stringify(e.dtype)} is not a numeric dtype`, name);
    }
    if (
      !Array.isArray(e.shape) ||
      !e.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)
    ) {
      fail(`shape ${JSON.stringify(e.shape)} is not a list of non-negative integers`, name);
    }
    if (typeof e.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(e.sha256)) {
      fail(`sha256 ${JSON.stringify(e.sha256)} is not 64 hex digits`, name);
    }
  }
  return m as unknown as Manifest;
}
