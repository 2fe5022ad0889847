/**
 * Turns a POST /predict body into one tensor per model input, checked against the signature, or
 * an HttpError saying what is wrong. Two body forms:
 *
 * - JSON (`application/json`, the default): `{ "inputs": { "<key>": <nested array>, ... } }`;
 *   with a one-input model `{ "inputs": <nested array> }` also does.
 * - Binary (`application/octet-stream`): the raw little-endian elements of one input, with
 *   headers `x-shape: 2,224,224,3`, optional `x-dtype` (default: the signature's) and `x-input`
 *   (the key; optional for a one-input model).
 */
import * as ef from "../../mod.ts";
import { byteSize, type DType, isDType } from "../../core/dtype.ts";
import { HttpError } from "./http_error.ts";

export interface PredictRequest {
  /** One tensor per model input, by key. */
  readonly feeds: Map<string, ef.Tensor>;
  /** The batch size: dim 0 shared by every input; 0 when the inputs share none (run alone). */
  readonly rows: number;
}

export function parseJsonBody(
  bytes: Uint8Array,
  inputs: readonly ef.SignatureTensor[],
): PredictRequest {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new HttpError(400, `the body is not JSON: ${(e as Error).message}`);
  }
  if (typeof body !== "object" || body === null || !("inputs" in body)) {
    throw new HttpError(400, `the body must be an object { "inputs": { ${keyList(inputs)} } }`);
  }
  let given = (body as { inputs: unknown }).inputs;
  if (Array.isArray(given) || typeof given !== "object" || given === null) {
    if (inputs.length !== 1) {
      throw new HttpError(400, `"inputs" must be an object with ${keyList(inputs)}`);
    }
    given = { [inputs[0].key]: given };
  }
  const values = given as Record<string, unknown>;
  for (const k of Object.keys(values)) {
    if (!inputs.some((i) => i.key === k)) {
      throw new HttpError(400, `the model has no input '${k}'; its inputs: ${keyList(inputs)}`);
    }
  }
  const feeds = new Map<string, ef.Tensor>();
  for (const input of inputs) {
    if (!(input.key in values)) throw new HttpError(400, `input '${input.key}' is missing`);
    const what = `input '${input.key}'`;
    const t = asClientError(
      () => ef.tensor(values[input.key] as ef.NestedArray, undefined, input.dtype ?? "float32"),
      what,
    );
    feeds.set(input.key, checkShape(t, input));
  }
  return { feeds, rows: batchRows(feeds) };
}

export function parseBinaryBody(
  bytes: Uint8Array,
  headers: Headers,
  inputs: readonly ef.SignatureTensor[],
): PredictRequest {
  const key = headers.get("x-input") ?? (inputs.length === 1 ? inputs[0].key : null);
  if (key === null) {
    throw new HttpError(400, `a binary body needs header x-input, one of ${keyList(inputs)}`);
  }
  if (inputs.length !== 1) {
    throw new HttpError(
      400,
      `a binary body carries one input; this model takes ${keyList(inputs)}`,
    );
  }
  const input = inputs.find((i) => i.key === key);
  if (!input) throw new HttpError(400, `the model has no input '${key}'`);
  const dtypeName = headers.get("x-dtype") ?? input.dtype ?? "float32";
  if (!isDType(dtypeName) || dtypeName === "string" || dtypeName === "resource") {
    throw new HttpError(400, `x-dtype '${dtypeName}' is not a numeric dtype`);
  }
  const dtype = dtypeName as DType;
  if (input.dtype && dtype !== input.dtype) {
    throw new HttpError(400, `input '${key}' is ${input.dtype}, the body says ${dtype}`);
  }
  const shapeHeader = headers.get("x-shape");
  if (shapeHeader === null) throw new HttpError(400, "a binary body needs header x-shape");
  const shape = shapeHeader.trim() === ""
    ? []
    : shapeHeader.split(",").map((s) => /^\s*\d+\s*$/.test(s) ? Number(s) : NaN);
  if (shape.some((d) => !Number.isSafeInteger(d))) {
    throw new HttpError(400, `x-shape '${shapeHeader}' is not a list of dims like 1,224,224,3`);
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (size * byteSize(dtype) !== bytes.byteLength) {
    throw new HttpError(
      400,
      `x-shape ${shapeHeader} of ${dtype} needs ${
        size * byteSize(dtype)
      } bytes, the body has ${bytes.byteLength}`,
    );
  }
  const data = elementsOf(dtype, bytes, size);
  const t = asClientError(() => new ef.Tensor(dtype, shape, data as never), `input '${key}'`);
  const feeds = new Map([[key, checkShape(t, input)]]);
  return { feeds, rows: batchRows(feeds) };
}

const VIEWS: Partial<Record<DType, new (b: ArrayBuffer, offset: number, n: number) => unknown>> = {
  float32: Float32Array,
  int32: Int32Array,
  int64: BigInt64Array,
  bool: Uint8Array,
  uint8: Uint8Array,
  int8: Int8Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
};

/**
 * The body's bytes as `size` elements of `dtype`: a view of the body where its offset suits the
 * element type (no copy of a large tensor per request), else a copy. Little-endian, as every
 * platform Deno runs on.
 */
function elementsOf(dtype: DType, bytes: Uint8Array, size: number): unknown {
  const View = VIEWS[dtype];
  if (View && bytes.byteOffset % byteSize(dtype) === 0 && bytes.buffer instanceof ArrayBuffer) {
    return new View(bytes.buffer, bytes.byteOffset, size);
  }
  const data = ef.Tensor.zeros(dtype, [size]).data as ArrayBufferView;
  new Uint8Array(data.buffer, data.byteOffset, data.byteLength).set(bytes);
  return data;
}

function checkShape(t: ef.Tensor, input: ef.SignatureTensor): ef.Tensor {
  const want = input.shape;
  if (want && want !== null && !compatible(t.shape, want)) {
    throw new HttpError(
      400,
      `input '${input.key}' has shape [${t.shape}], the model takes [${
        want.map((d) => d < 0 ? "?" : d)
      }]`,
    );
  }
  return t;
}

function compatible(shape: readonly number[], want: readonly number[]): boolean {
  return shape.length === want.length && want.every((d, i) => d < 0 || d === shape[i]);
}

/** Dim 0 when every input has rank ≥ 1 and the same dim 0 (rows to batch), else 0. */
function batchRows(feeds: Map<string, ef.Tensor>): number {
  const firsts = [...feeds.values()].map((t) => t.rank > 0 ? t.shape[0] : -1);
  return firsts.length > 0 && firsts.every((d) => d === firsts[0] && d > 0) ? firsts[0] : 0;
}

function asClientError<T>(f: () => T, what: string): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ef.EdgeflowError) throw new HttpError(400, `${what}: ${e.message}`);
    throw e;
  }
}

function keyList(inputs: readonly ef.SignatureTensor[]): string {
  return inputs.map((i) => `'${i.key}'`).join(", ");
}
