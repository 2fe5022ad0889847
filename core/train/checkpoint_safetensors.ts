/**
 * The safetensors format (https://github.com/huggingface/safetensors), the plain weight format
 * numpy and PyTorch read without Edgeflow: an 8-byte little-endian header length N, N bytes of a
 * JSON object {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}},
 * then the tensors' raw little-endian bytes, offsets counted from the end of the header.
 *
 * Decoding trusts nothing: every length and offset is checked against the bytes actually present
 * before anything is allocated, and the tensors must tile the data exactly (sorted, no overlap, no
 * gap, no trailing bytes), as the reference implementation requires.
 */
import { allocStorage, byteSize, type NumericDType } from "../dtype.ts";
import { formatShape, type Shape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { CheckpointError } from "./checkpoint_error.ts";

/** Edgeflow's dtype → safetensors' dtype name. */
export const SAFETENSORS_DTYPE: Readonly<Record<NumericDType, string>> = {
  float32: "F32",
  bfloat16: "BF16",
  float16: "F16",
  int32: "I32",
  int64: "I64",
  uint8: "U8",
  int8: "I8",
  bool: "BOOL",
};
const FROM_SAFETENSORS = new Map<string, NumericDType>(
  Object.entries(SAFETENSORS_DTYPE).map(([ef, st]) => [st, ef as NumericDType]),
);

/** The reference implementation refuses headers over 100 MB; so do we. */
export const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = "__metadata__";

/** A tensor as stored: its bytes are a view into the file's bytes (little-endian). */
export interface StoredTensor {
  readonly name: string;
  readonly dtype: NumericDType;
  readonly shape: Shape;
  readonly bytes: Uint8Array;
}

export interface SafetensorsFile {
  readonly metadata: Readonly<Record<string, string>>;
  /** In the order of their offsets. */
  readonly tensors: ReadonlyMap<string, StoredTensor>;
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A tensor's values as little-endian bytes (a view of its storage on little-endian hosts). */
export function littleEndianBytes(t: Tensor): Uint8Array {
  const data = t.data as ArrayBufferView;
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return HOST_IS_LITTLE_ENDIAN ? view : swapBytes(view, byteSize(t.dtype));
}

/** Byte order reversed within each element of `width` bytes (a copy). */
function swapBytes(bytes: Uint8Array, width: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += width) {
    for (let k = 0; k < width; k++) out[i + k] = bytes[i + width - 1 - k];
  }
  return out;
}

/** Encodes named tensors, in the order given, with string metadata. */
export function encodeSafetensors(
  entries: readonly { readonly name: string; readonly tensor: Tensor }[],
  metadata: Readonly<Record<string, string>> = {},
  file = "<memory>",
): Uint8Array {
  const header: Record<string, unknown> = { [METADATA_KEY]: metadata };
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const { name, tensor } of entries) {
    if (name === METADATA_KEY || Object.hasOwn(header, name)) {
      throw new CheckpointError(file, name, "the name is reserved or used twice");
    }
    const dtype = SAFETENSORS_DTYPE[tensor.dtype as NumericDType];
    if (dtype === undefined) {
      throw new CheckpointError(file, name, `a ${tensor.dtype} tensor cannot be saved`);
    }
    const bytes = littleEndianBytes(tensor);
    header[name] = {
      dtype,
      shape: tensor.shape.slice(),
      data_offsets: [offset, offset + bytes.length],
    };
    parts.push(bytes);
    offset += bytes.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  if (padded > json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Parses and checks a whole file's bytes; tensor bytes are views into `bytes`. */
export function decodeSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  const fail = (reason: string, tensor?: string): never => {
    throw new CheckpointError(file, tensor, reason);
  };
  if (bytes.length < 8) {
    fail(`truncated: ${bytes.length} bytes, fewer than the 8 of the header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(bytes.length - 8)) {
    fail(`header length ${headerLength} exceeds the ${bytes.length - 8} bytes after it`);
  }
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    fail(`header length ${headerLength} exceeds the format's limit of ${MAX_HEADER_BYTES}`);
  }
  const n = Number(headerLength);
  const header = parseHeader(bytes.subarray(8, 8 + n), fail);
  const data = bytes.subarray(8 + n);

  let metadata: Record<string, string> = {};
  const tensors: StoredTensor[] = [];
  const offsets = new Map<string, [number, number]>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      metadata = checkMetadata(entry, fail);
      continue;
    }
    if (!isObject(entry)) fail("its entry is not a JSON object", name);
    const e = entry as Record<string, unknown>;
    const dtype = typeof e.dtype === "string" ? FROM_SAFETENSORS.get(e.dtype) : undefined;
    if (dtype === undefined) {
      fail(`unsupported dtype ${JSON.stringify(e.dtype)}`, name);
      continue;
    }
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      fail(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`, name);
    }
    const range = e.data_offsets;
    if (!Array.isArray(range) || range.length !== 2 || !range.every(isCount)) {
      fail(`data_offsets ${JSON.stringify(range)} is not a pair of non-negative integers`, name);
    }
    const [begin, end] = range as [number, number];
    if (begin > end) fail(`data_offsets [${begin}, ${end}] are out of order`, name);
    if (end > data.length) {
      fail(`data_offsets [${begin}, ${end}] lie outside the ${data.length} data bytes`, name);
    }
    const expected = byteCount(shape as number[], dtype, data.length);
    if (expected !== end - begin) {
      fail(
        `a ${dtype} tensor of shape ${formatShape(shape as number[])} needs ${
          expected ?? `more than ${data.length}`
        } bytes, data_offsets [${begin}, ${end}] hold ${end - begin}`,
        name,
      );
    }
    offsets.set(name, [begin, end]);
    tensors.push({ name, dtype, shape: shape as number[], bytes: data.subarray(begin, end) });
  }
  // The tensors must tile the data: sorted by offset, each beginning where the last ended.
  tensors.sort((a, b) => offsets.get(a.name)![0] - offsets.get(b.name)![0]);
  let at = 0;
  let previous: string | undefined;
  for (const t of tensors) {
    const [begin, end] = offsets.get(t.name)!;
    if (begin < at) {
      fail(
        `data_offsets [${begin}, ${end}] overlap tensor '${previous}' (ending at ${at})`,
        t.name,
      );
    }
    if (begin > at) fail(`bytes ${at}..${begin} before it belong to no tensor`, t.name);
    at = end;
    previous = t.name;
  }
  if (at !== data.length) fail(`${data.length - at} bytes after the last tensor's data`);
  return { metadata, tensors: new Map(tensors.map((t) => [t.name, t])) };
}

/** A stored tensor's values as a Tensor (a copy, aligned for its typed array). */
export function storedToTensor(t: StoredTensor, file: string): Tensor {
  const size = t.shape.reduce((a, b) => a * b, 1);
  const storage = allocStorage(t.dtype, size) as ArrayBufferView;
  const target = new Uint8Array(storage.buffer, storage.byteOffset, storage.byteLength);
  target.set(HOST_IS_LITTLE_ENDIAN ? t.bytes : swapBytes(t.bytes, byteSize(t.dtype)));
  if (t.dtype === "bool") {
    const bad = target.findIndex((b) => b > 1);
    if (bad >= 0) {
      throw new CheckpointError(file, t.name, `bool value ${target[bad]} at index ${bad}`);
    }
  }
  return new Tensor(t.dtype, t.shape.slice(), storage as never);
}

function parseHeader(
  bytes: Uint8Array,
  fail: (reason: string) => never,
): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return fail("the header is not UTF-8 text");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`the header is not JSON (${(e as Error).message})`);
  }
  if (!isObject(header)) return fail("the header is not a JSON object");
  return header as Record<string, unknown>;
}

function checkMetadata(
  entry: unknown,
  fail: (reason: string) => never,
): Record<string, string> {
  if (!isObject(entry) || !Object.values(entry as object).every((v) => typeof v === "string")) {
    fail("__metadata__ is not an object of strings");
  }
  return entry as Record<string, string>;
}

function isObject(x: unknown): boolean {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}
function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

/** Bytes of a tensor, or undefined when they would exceed `limit` (no overflow on huge dims). */
function byteCount(shape: readonly number[], dtype: NumericDType, limit: number) {
  let bytes = byteSize(dtype);
  for (const d of shape) {
    bytes *= d;
    if (bytes > limit) return shape.includes(0) ? 0 : undefined;
  }
  return bytes;
}
