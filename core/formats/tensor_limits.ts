/**
 * Size checks on a GraphDef's tensor attributes, made before the importer allocates anything: a
 * tensor's content must be exactly what its dtype and shape need, and a tensor spelled with a few
 * values repeated to fill its shape (TensorFlow's splat constants) may not grow past a limit — a
 * corrupt dim would otherwise ask for terabytes from a file of a few bytes.
 */
import { EdgeflowError } from "../errors.ts";
import type { GraphDefJson } from "./graphdef_json.ts";
import type { ShapeJson, TensorJson } from "./tensor_proto.ts";

/** Bytes per element of the TensorFlow dtypes with a fixed width, by name and number. */
const WIDTH: Record<string, number> = {
  DT_FLOAT: 4,
  DT_INT32: 4,
  DT_UINT8: 1,
  DT_INT8: 1,
  DT_INT64: 8,
  DT_BOOL: 1,
  DT_BFLOAT16: 2,
  DT_HALF: 2,
  1: 4,
  3: 4,
  4: 1,
  6: 1,
  9: 8,
  10: 1,
  14: 2,
  19: 2,
};

/** 1 GiB: larger than any constant of the models Edgeflow serves, small enough to allocate. */
export const DEFAULT_MAX_TENSOR_BYTES = 2 ** 30;

/** Checks every `tensor` attr of every node of `def`. */
export function checkTensorSizes(def: GraphDefJson, file: string, maxBytes: number): void {
  for (const n of def.node ?? []) {
    for (const [key, a] of Object.entries(n?.attr ?? {})) {
      if (a?.tensor) checkTensorSize(a.tensor, maxBytes, `${file}: node '${n.name}' attr '${key}'`);
    }
  }
}

export function checkTensorSize(t: TensorJson, maxBytes: number, where: string): void {
  const count = elementCount(t.tensorShape, where);
  const width = WIDTH[t.dtype];
  if (width === undefined) {
    // Strings and unsupported dtypes: only the splat case can outgrow the file; strings cost at
    // least a pointer each.
    if (count * 8 > maxBytes) throw tooLarge(where, count, maxBytes);
    return;
  }
  const bytes = count * width;
  if (t.tensorContent !== undefined && t.tensorContent.length > 0) {
    const have = typeof t.tensorContent === "string"
      ? base64Length(t.tensorContent)
      : t.tensorContent.byteLength;
    if (have !== bytes) {
      throw new EdgeflowError(
        `${where}: tensor_content has ${have} bytes, a ${t.dtype} of ${count} elements needs ${bytes}`,
      );
    }
  } else if (bytes > maxBytes) throw tooLarge(where, count, maxBytes);
}

function elementCount(shape: ShapeJson | undefined, where: string): number {
  let count = 1;
  for (const d of shape?.dim ?? []) {
    const size = Number(d?.size ?? 0);
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new EdgeflowError(`${where}: a tensor dim of ${JSON.stringify(d?.size)} is not a size`);
    }
    count *= size;
    // Past 2^53 the product is inexact; anything that large is refused below anyway.
    if (count > Number.MAX_SAFE_INTEGER) count = Number.MAX_SAFE_INTEGER;
  }
  return count;
}

function tooLarge(where: string, count: number, maxBytes: number): EdgeflowError {
  return new EdgeflowError(
    `${where}: a tensor of ${count} elements is larger than the ${maxBytes}-byte limit`,
  );
}

function base64Length(s: string): number {
  const padding = s.endsWith("==") ? 2 : s.endsWith("=") ? 1 : 0;
  return Math.floor((s.length * 3) / 4) - padding;
}
