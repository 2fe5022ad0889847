/**
 * Tensor: an immutable host value (dtype, concrete shape, storage). Kernels on devices never see
 * Tensors; they see DeviceBuffers. Tensors are what users feed and fetch and what reference
 * implementations compute on.
 */
import {
  allocStorage,
  ANY_DTYPES,
  bfloat16ToFloat32,
  type DType,
  float16ToFloat32,
  float32ToBfloat16,
  float32ToFloat16,
  isDType,
  type NumericDType,
  type Storage,
  type StorageOf,
} from "./dtype.ts";
import { EdgeflowError } from "./errors.ts";
import { formatShape, type Shape, sizeOf } from "./shape.ts";

/** Nested JavaScript arrays of numbers, booleans, bigints or strings. */
export type NestedArray = number | boolean | bigint | string | readonly NestedArray[];

export class Tensor<D extends DType = DType> {
  /** The element type. */
  readonly dtype: D;
  /** Concrete dims, row-major. */
  readonly shape: Shape;
  /** Row-major storage; never mutated after construction. */
  readonly data: StorageOf[D];
  /** Number of elements. */
  readonly size: number;

  constructor(dtype: D, shape: Shape, data: StorageOf[D]) {
    checkDType(dtype, "new Tensor(): dtype");
    const size = checkShape(shape, "new Tensor(): shape");
    checkStorage(dtype, data);
    if (data.length !== size) {
      throw new EdgeflowError(
        `a ${dtype} tensor of shape ${formatShape(shape)} needs ${size} values, got ${data.length}`,
      );
    }
    this.dtype = dtype;
    this.shape = Object.freeze(shape.slice());
    this.data = data;
    this.size = size;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** A zero-filled tensor. */
  static zeros<D extends DType>(dtype: D, shape: Shape): Tensor<D> {
    checkDType(dtype, "Tensor.zeros(): dtype");
    return new Tensor(
      dtype,
      shape,
      allocStorage(dtype, checkShape(shape, "Tensor.zeros(): shape")),
    );
  }

  /**
   * Builds a tensor from numbers, rounding each to the dtype the way a C cast does (TensorFlow's
   * Cast): floats round to nearest even, integers truncate and wrap, bool is `x != 0`.
   */
  static fromNumbers<D extends DType>(
    dtype: D,
    shape: Shape,
    values: ArrayLike<number>,
  ): Tensor<D> {
    checkDType(dtype, "Tensor.fromNumbers(): dtype");
    const out = allocStorage(dtype, values.length);
    writeNumbers(dtype, out, values);
    return new Tensor(dtype, shape, out);
  }

  /** The same values under another shape with the same number of elements (no copy). */
  reshape(shape: Shape): Tensor<D> {
    return new Tensor(this.dtype, shape, this.data);
  }

  /**
   * The values as JavaScript numbers, flat. int64 values are converted only where exact: one past
   * ±2^53 raises an EdgeflowError instead of silently losing its low bits (toArray() gives
   * bigints).
   */
  toNumbers(): number[] {
    if (this.dtype === "int64") return Array.from(this.data as BigInt64Array, exactNumber);
    return Array.from(numbers(this));
  }

  /**
   * The values as nested arrays following the shape: numbers, booleans for bool, strings for
   * string, and bigints for int64, so every int64 value is exact (as numpy's int64 is; tfjs has
   * no int64) and `tensor(t.toArray())` gives an int64 tensor back.
   */
  toArray(): NestedArray {
    if (this.dtype === "variant") {
      throw new EdgeflowError("a variant tensor holds host objects (TensorLists): read its data");
    }
    const flat: NestedArray[] = this.dtype === "string" || this.dtype === "resource"
      ? (this.data as string[]).slice()
      : this.dtype === "bool"
      ? Array.from(this.data as Uint8Array, (v) => v !== 0)
      : this.dtype === "int64"
      ? Array.from(this.data as BigInt64Array)
      : this.toNumbers();
    return nest(flat, this.shape, 0, 0);
  }

  toString(): string {
    return `Tensor<${this.dtype}${formatShape(this.shape)}>`;
  }
}

function nest(flat: NestedArray[], shape: Shape, dim: number, offset: number): NestedArray {
  if (dim === shape.length) return flat[offset];
  const inner = sizeOf(shape.slice(dim + 1));
  return Array.from(
    { length: shape[dim] },
    (_, i) => nest(flat, shape, dim + 1, offset + i * inner),
  );
}

/**
 * A number view of a numeric tensor's values: the storage itself where it already holds numbers,
 * a decoded copy for 16-bit floats and int64. int64 values past ±2^53 become the nearest number:
 * for comparisons and range checks of indices, never for values a caller reads back (toArray()
 * and toNumbers() are exact or refuse).
 */
export function numbers(t: Tensor): ArrayLike<number> {
  switch (t.dtype) {
    case "bfloat16":
      return Float32Array.from(t.data as Uint16Array, bfloat16ToFloat32);
    case "float16":
      return Float32Array.from(t.data as Uint16Array, float16ToFloat32);
    case "int64":
      return Float64Array.from(t.data as BigInt64Array, Number);
    case "string":
    case "resource":
    case "variant":
      throw new EdgeflowError(`a ${t.dtype} tensor has no numeric values`);
    default:
      return t.data as Float32Array | Int32Array | Uint8Array | Int8Array;
  }
}

/** An int64 value as the number equal to it; EdgeflowError where no number is (past ±2^53). */
function exactNumber(v: bigint): number {
  const n = Number(v);
  if (BigInt(n) !== v) {
    throw new EdgeflowError(
      `the int64 value ${v} is not exactly a JavaScript number (past ±2^53): ` +
        "read it as a bigint from toArray() or the tensor's data",
    );
  }
  return n;
}

/** Writes numbers into storage of a dtype with C-cast rounding. */
export function writeNumbers(dtype: DType, out: Storage, values: ArrayLike<number>): void {
  const n = values.length;
  switch (dtype) {
    case "float32":
    case "int32":
    case "uint8":
    case "int8": {
      const o = out as Float32Array;
      if (dtype === "float32") { for (let i = 0; i < n; i++) o[i] = values[i]; }
      else for (let i = 0; i < n; i++) o[i] = truncate(values[i]);
      return;
    }
    case "bool": {
      const o = out as Uint8Array;
      for (let i = 0; i < n; i++) o[i] = values[i] !== 0 ? 1 : 0;
      return;
    }
    case "int64": {
      const o = out as BigInt64Array;
      for (let i = 0; i < n; i++) o[i] = BigInt.asIntN(64, BigInt(truncate(values[i])));
      return;
    }
    case "bfloat16": {
      const o = out as Uint16Array;
      for (let i = 0; i < n; i++) o[i] = float32ToBfloat16(values[i]);
      return;
    }
    case "float16": {
      const o = out as Uint16Array;
      for (let i = 0; i < n; i++) o[i] = float32ToFloat16(values[i]);
      return;
    }
    default:
      throw new EdgeflowError(`cannot write numbers into a ${dtype} tensor`);
  }
}

// Integer conversion of NaN/Inf is undefined in C; we pick 0 so every device can agree.
function truncate(x: number): number {
  return Number.isFinite(x) ? Math.trunc(x) : 0;
}

// ---- validation --------------------------------------------------------------------------

/** A short description of a bad value for error messages: "'int32' (a string)", "undefined". */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === "string") return `'${v.length > 40 ? v.slice(0, 40) + "…" : v}' (a string)`;
  if (typeof v === "bigint") return `${v}n (a bigint)`;
  if (typeof v === "number" || typeof v === "boolean") return `${v} (a ${typeof v})`;
  if (typeof v === "function") return "a function";
  if (Array.isArray(v)) return `an array of ${v.length}`;
  const name = (v as object).constructor?.name;
  if (!name || name === "Object") return "an object";
  return /^[AEIOU]/.test(name) ? `an ${name}` : `a ${name}`;
}

function checkDType(dtype: unknown, what: string): asserts dtype is DType {
  if (!isDType(dtype)) {
    throw new EdgeflowError(
      `${what} must be a dtype (${ANY_DTYPES.join(", ")}), got ${describeValue(dtype)}`,
    );
  }
}

/**
 * Checks a concrete shape (an array of whole, non-negative, safe-integer dims whose product is
 * a safe integer) and returns its number of elements; `what` names the argument in errors.
 */
export function checkShape(shape: unknown, what: string): number {
  if (!Array.isArray(shape)) {
    const hint = isDType(shape)
      ? "; a dtype goes in the third argument: tensor(values, undefined, dtype)"
      : "";
    throw new EdgeflowError(`${what} must be an array of dims, got ${describeValue(shape)}${hint}`);
  }
  let size = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
      throw new EdgeflowError(
        `${what} must hold whole non-negative dims, got ${describeValue(d)} at dim ${i}`,
      );
    }
    size *= d;
  }
  if (!Number.isSafeInteger(size)) {
    throw new EdgeflowError(`${what} [${shape.join(",")}] has more than 2^53 elements`);
  }
  return size;
}

/** The storage class each dtype's data must be (a float32 tensor over an Int32Array is refused). */
function checkStorage(dtype: DType, data: unknown): void {
  const want = STORAGE_CLASS[dtype];
  const ok = want === Array ? Array.isArray(data) : data instanceof want;
  if (!ok) {
    throw new EdgeflowError(
      `new Tensor(): a ${dtype} tensor's data must be a ${want.name}, got ${describeValue(data)}`,
    );
  }
}
const STORAGE_CLASS: Record<
  DType,
  { readonly name: string; [Symbol.hasInstance](x: unknown): boolean }
> = {
  float32: Float32Array,
  int32: Int32Array,
  int64: BigInt64Array,
  bool: Uint8Array,
  uint8: Uint8Array,
  bfloat16: Uint16Array,
  float16: Uint16Array,
  int8: Int8Array,
  string: Array,
  resource: Array,
  variant: Array,
};

// ---- construction from JavaScript values --------------------------------------------------

/**
 * Creates a tensor from nested arrays, a scalar, or a typed array with an explicit shape.
 * The dtype defaults to float32 for numbers, bool for booleans, int64 for bigints, string for
 * strings. Where numbers belong only numbers are taken (booleans for bool, bigints for int64 too):
 * strings, null, undefined and objects are refused with an EdgeflowError, never read as NaN or 0.
 */
export function tensor<D extends DType>(
  values: NestedArray | Storage,
  shape?: Shape,
  dtype?: D,
): Tensor<D> {
  return tensorArg("tensor()", values, shape, dtype);
}

/**
 * tensor() for an argument of some function: errors name it (`what`, e.g. "input 'y' of Add"),
 * so a bad literal reads "input 'y' of Add: element [1] is 'abc' (a string), ...".
 */
export function tensorArg<D extends DType>(
  what: string,
  values: NestedArray | Storage,
  shape?: Shape,
  dtype?: D,
): Tensor<D> {
  if (shape !== undefined && shape !== null) checkShape(shape, `${what}: shape`);
  if (dtype !== undefined && dtype !== null) checkDType(dtype, `${what}: dtype`);
  const typed = ArrayBuffer.isView(values) && !(values instanceof DataView);
  const flat: unknown[] = [];
  const inferred = typed ? [(values as Storage).length] : inferShape(values, flat, what, "", 0);
  const finalShape = shape ?? inferred;
  const source: ArrayLike<unknown> = typed ? values as Storage : flat;
  const d = (dtype ?? defaultDType(source)) as D;
  if (d === "variant") {
    throw new EdgeflowError(`${what}: variant tensors come from ops (TensorLists), not literals`);
  }
  if (!typed) checkElements(flat, inferred.length === 0, d, what);
  else if (d === "string" || d === "resource") {
    throw new EdgeflowError(`${what}: a ${d} tensor cannot be made from a typed array`);
  }
  const size = checkShape(finalShape, `${what}: shape`);
  if (size !== source.length) {
    throw new EdgeflowError(
      `${what}: shape ${formatShape(finalShape)} needs ${size} values, got ${source.length}`,
    );
  }
  if (d === "string" || d === "resource") {
    return new Tensor(d, finalShape, Array.from(source as ArrayLike<string>) as StorageOf[D]);
  }
  if (d === "int64") {
    const out = BigInt64Array.from(
      source,
      (v) => typeof v === "bigint" ? BigInt.asIntN(64, v) : BigInt(truncate(toNumber(v))),
    );
    return new Tensor(d, finalShape, out as StorageOf[D]);
  }
  return Tensor.fromNumbers(d, finalShape, Array.from(source, toNumber));
}

export function scalar<D extends DType = "float32">(
  value: number | boolean | bigint | string,
  dtype?: D,
): Tensor<D> {
  return tensorArg("scalar()", value, [], dtype);
}

function toNumber(v: unknown): number {
  return typeof v === "boolean" ? (v ? 1 : 0) : Number(v);
}

/**
 * Refuses elements that do not belong in a `dtype` tensor: numbers for numeric dtypes (NaN and
 * ±Inf included), booleans for bool, bigints for int64, strings for string.
 */
function checkElements(
  flat: readonly unknown[],
  isScalar: boolean,
  dtype: DType,
  what: string,
): void {
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i];
    const kind = typeof v;
    const ok = dtype === "string" || dtype === "resource"
      ? kind === "string"
      : kind === "number" || (kind === "boolean" && dtype === "bool") ||
        (kind === "bigint" && dtype === "int64");
    if (ok && kind === "number" && INT_RANGE[dtype] && !fitsInteger(v as number, dtype)) {
      throw new EdgeflowError(
        `${what}: ${isScalar ? "the value" : `element ${i}`} ${
          describeValue(v)
        } is not a whole number within ${dtype}'s range [${INT_RANGE[dtype]!.join(", ")}]`,
      );
    }
    if (!ok) {
      const want = dtype === "string" || dtype === "resource"
        ? "a string"
        : dtype === "bool"
        ? "a boolean or a number"
        : dtype === "int64"
        ? "a number or a bigint"
        : "a number";
      throw new EdgeflowError(
        `${what}: ${isScalar ? "the value" : `element ${i}`} is ${
          describeValue(v)
        }, expected ${want} for ${/^[aeiou]/.test(dtype) ? "an" : "a"} ${dtype} tensor`,
      );
    }
  }
}

/**
 * The values each integer dtype holds. As TensorFlow's conversion of Python values does, a
 * literal that is not a whole number in range (1.5, 2^31 for int32, NaN) is refused rather than
 * truncated or wrapped: a shape literal [2^31] must not become [-2^31]. Casts of tensors
 * (Tensor.fromNumbers, the Cast op) keep C's truncating semantics.
 */
const INT_RANGE: Partial<Record<DType, readonly [number, number]>> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  int64: [-(2 ** 63), 2 ** 63],
  uint8: [0, 255],
  int8: [-128, 127],
};
function fitsInteger(v: number, dtype: DType): boolean {
  const [lo, hi] = INT_RANGE[dtype]!;
  // int64's upper bound 2^63 is exclusive (it has no exact float64 neighbour below it).
  return Number.isInteger(v) && v >= lo && (dtype === "int64" ? v < hi : v <= hi);
}

function defaultDType(flat: ArrayLike<unknown>): DType {
  if (flat instanceof Float32Array) return "float32";
  if (flat instanceof Int32Array) return "int32";
  if (flat instanceof BigInt64Array) return "int64";
  if (flat instanceof Uint8Array) return "uint8";
  if (flat instanceof Int8Array) return "int8";
  const first = flat.length > 0 ? flat[0] : 0;
  if (typeof first === "boolean") return "bool";
  if (typeof first === "bigint") return "int64";
  if (typeof first === "string") return "string";
  return "float32";
}

/** TensorFlow's largest rank; deeper nesting (a cyclic array, say) is refused, not a stack overflow. */
const MAX_RANK = 254;

function inferShape(
  values: unknown,
  flat: unknown[],
  what: string,
  path: string,
  depth: number,
): number[] {
  if (!Array.isArray(values)) {
    flat.push(values);
    return [];
  }
  if (depth >= MAX_RANK) throw new EdgeflowError(`${what}: nested deeper than rank ${MAX_RANK}`);
  const shape = [values.length];
  let inner: number[] | undefined;
  for (let i = 0; i < values.length; i++) {
    const s = inferShape(values[i], flat, what, `${path}[${i}]`, depth + 1);
    if (inner === undefined) inner = s;
    else if (s.length !== inner.length || s.some((d, j) => d !== inner![j])) {
      throw new EdgeflowError(
        `${what}: ragged nested array: element ${path}[${i}] has shape ${
          formatShape(s)
        }, element ${path}[0] has ${formatShape(inner)}`,
      );
    }
  }
  return inner ? shape.concat(inner) : shape;
}

/**
 * Reads element i of a numeric tensor as a number; an int64 value past ±2^53, which no number
 * holds exactly, raises an EdgeflowError (read `t.data` for the bigint).
 */
export function numberAt(t: Tensor, i: number): number {
  const d = t.data;
  if (t.dtype === "int64") return exactNumber((d as BigInt64Array)[i]);
  if (t.dtype === "bfloat16") return bfloat16ToFloat32((d as Uint16Array)[i]);
  if (t.dtype === "float16") return float16ToFloat32((d as Uint16Array)[i]);
  return (d as Float32Array)[i];
}

/** Reads a 0-d or 1-d integer tensor as a list of numbers (shape and axis arguments). */
export function intList(t: Tensor): number[] {
  return Array.from(numbers(t), (v) => Math.trunc(v));
}

export type { NumericDType };
