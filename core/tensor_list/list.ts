/**
 * TensorFlow's TensorList as a value: the element of a "variant" tensor (core/dtype.ts). A list is
 * immutable; every op that "changes" one returns a new list and leaves its input as it was, which
 * is TensorFlow's copy-on-write meaning (its kernels mutate in place only when they hold the only
 * reference, which nothing can observe). The elements are host tensors, also immutable, so a new
 * list shares them with the old one and copies only the array of references.
 */
import { type DType, type Variant } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import {
  formatShape,
  isCompatible,
  mergeShapes,
  type PartialShape,
  type Shape,
  sizeOf,
} from "../shape.ts";
import { intList, Tensor } from "../tensor.ts";
import { elementsOf, fromElements, newElements } from "../ops/array_util.ts";

/** Elements per chunk: a SetItem copies one chunk and the chunk index, not the whole list. */
const CHUNK = 32;

export class TensorList implements Variant {
  readonly typeName = "tensorflow::TensorList";
  /**
   * The elements in chunks of CHUNK (the last may be shorter); `undefined` is an element never
   * set (TensorFlow's DT_INVALID tensor). Chunks are never changed once made, so lists share
   * them: a loop of n SetItems copies O(n/32 + 32) references each, not O(n).
   */
  private readonly chunks: readonly (readonly (Tensor | undefined)[])[];
  readonly length: number;
  private flat?: readonly (Tensor | undefined)[];

  constructor(
    readonly elementDtype: DType,
    /** The shape every element has, as far as the list declares it (partial). */
    readonly elementShape: PartialShape,
    tensors: readonly (Tensor | undefined)[],
    /** EmptyTensorList's bound on PushBack; -1: none. */
    readonly maxNumElements = -1,
    chunks?: readonly (readonly (Tensor | undefined)[])[],
  ) {
    if (chunks) {
      this.chunks = chunks;
      this.length = chunks.reduce((n, c) => n + c.length, 0);
    } else {
      const out: (Tensor | undefined)[][] = [];
      // Array.from: a hole in what the caller gave becomes an unset element, not a gap.
      for (let i = 0; i < tensors.length; i += CHUNK) {
        out.push(Array.from(tensors.slice(i, i + CHUNK)));
      }
      this.chunks = out;
      this.length = tensors.length;
    }
  }

  /** Every element, in order (made once per list, on first use). */
  get tensors(): readonly (Tensor | undefined)[] {
    if (!this.flat) {
      const out: (Tensor | undefined)[] = [];
      for (const c of this.chunks) for (const t of c) out.push(t);
      this.flat = Object.freeze(out);
    }
    return this.flat;
  }

  get(i: number): Tensor | undefined {
    return this.chunks[Math.floor(i / CHUNK)][i % CHUNK];
  }

  /** A list with element i (< length) replaced; this one is unchanged. */
  set(i: number, t: Tensor | undefined): TensorList {
    const c = Math.floor(i / CHUNK);
    const chunk = this.chunks[c].slice();
    chunk[i % CHUNK] = t;
    const chunks = this.chunks.slice();
    chunks[c] = chunk;
    return this.withChunks(chunks);
  }

  /** A list with `t` appended; this one is unchanged. */
  push(t: Tensor): TensorList {
    const chunks = this.chunks.slice();
    const last = chunks.length - 1;
    if (last >= 0 && chunks[last].length < CHUNK) chunks[last] = [...chunks[last], t];
    else chunks.push([t]);
    return this.withChunks(chunks);
  }

  /** A list with other elements and everything else the same. */
  withTensors(tensors: readonly (Tensor | undefined)[]): TensorList {
    return new TensorList(this.elementDtype, this.elementShape, tensors, this.maxNumElements);
  }

  private withChunks(chunks: readonly (readonly (Tensor | undefined)[])[]): TensorList {
    return new TensorList(this.elementDtype, this.elementShape, [], this.maxNumElements, chunks);
  }

  toString(): string {
    return `TensorList<${this.elementDtype}${formatShape(this.elementShape)}>[${this.length}]`;
  }
}

/** A scalar variant tensor holding `list`: what the list ops take and give. */
export function listTensor(list: TensorList): Tensor<"variant"> {
  return new Tensor("variant", [], [list]);
}

/** The list inside a list op's variant input; `what` names the input. */
export function listOf(t: Tensor, what = "input_handle"): TensorList {
  if (t.dtype !== "variant") {
    throw new EdgeflowError(
      `${what} must be a variant tensor holding a TensorList, got ${t.dtype}`,
    );
  }
  if (t.rank !== 0) {
    throw new EdgeflowError(
      `${what} must be a scalar variant (one TensorList), got shape ${formatShape(t.shape)}`,
    );
  }
  const v = (t.data as readonly Variant[])[0];
  if (!(v instanceof TensorList)) {
    throw new EdgeflowError(
      `${what} holds a ${v?.typeName ?? "missing"} variant, not a tensorflow::TensorList`,
    );
  }
  return v;
}

/**
 * TensorFlow's TensorShapeFromTensor for a list's element_shape argument: a vector of dims (-1 an
 * unknown dim), or the scalar -1 for an unknown rank.
 */
export function elementShapeFromTensor(t: Tensor, what = "element_shape"): PartialShape {
  if (t.dtype !== "int32" && t.dtype !== "int64") {
    throw new EdgeflowError(`${what} must be int32 or int64, got ${t.dtype}`);
  }
  if (t.rank === 0) {
    const v = intList(t)[0];
    if (v !== -1) {
      throw new EdgeflowError(
        `${what}: the only valid scalar shape tensor is the fully unknown shape specified as -1, ` +
          `got ${v}`,
      );
    }
    return null;
  }
  if (t.rank > 1) {
    throw new EdgeflowError(`${what}: shape must be at most rank 1 but is rank ${t.rank}`);
  }
  const dims = intList(t);
  dims.forEach((d, i) => {
    if (d < -1) throw new EdgeflowError(`${what}: dim ${i} is ${d}; dims must be >= -1`);
  });
  return dims;
}

/** What inference knows of an element_shape argument: its value, else its rank, else nothing. */
export function elementShapeFromSpec(
  input: { readonly shape: PartialShape; readonly value?: Tensor },
  what = "element_shape",
): PartialShape {
  if (input.value) return elementShapeFromTensor(input.value, what);
  const s = input.shape;
  if (s === null || s.length === 0) return null;
  if (s.length > 1) {
    throw new EdgeflowError(`${what}: shape must be at most rank 1 but is rank ${s.length}`);
  }
  return s[0] >= 0 ? new Array(s[0]).fill(-1) : null;
}

/** A partial shape as an element_shape tensor (TensorListElementShape's output). */
export function elementShapeTensor(s: PartialShape, dtype: "int32" | "int64"): Tensor {
  if (s === null) return Tensor.fromNumbers(dtype, [], [-1]);
  return Tensor.fromNumbers(dtype, [s.length], s);
}

/** The list's element shape merged with an op's element_shape argument (GetElementShapeFromInput). */
export function mergedElementShape(list: TensorList, arg: PartialShape): PartialShape {
  if (!isCompatible(list.elementShape, arg)) {
    throw new EdgeflowError(
      `incompatible shapes in the list's element_shape ${formatShape(list.elementShape)} and ` +
        `the op's element_shape ${formatShape(arg)}`,
    );
  }
  return mergeShapes(list.elementShape, arg);
}

/** Refuses an element of the wrong dtype or a shape the list's element_shape excludes. */
export function checkElement(list: TensorList, item: Tensor, verb: string): void {
  if (item.dtype !== list.elementDtype) {
    throw new EdgeflowError(
      `invalid data types; list elements are ${list.elementDtype} but tried to ${verb} ${item.dtype}`,
    );
  }
  if (!isCompatible(item.shape, list.elementShape)) {
    throw new EdgeflowError(
      `tried to ${verb} a tensor of shape ${formatShape(item.shape)} into a list whose ` +
        `element_shape is ${formatShape(list.elementShape)}`,
    );
  }
}

/** Refuses an op whose element_dtype attr differs from the list's. */
export function checkListDtype(list: TensorList, dtype: DType): void {
  if (list.elementDtype !== dtype) {
    throw new EdgeflowError(
      `invalid data types; op elements ${dtype} but list elements ${list.elementDtype}`,
    );
  }
}

/**
 * The shape an unset element reads as (zeros of it): `shape` where fully defined, else merged with
 * the set elements' shapes (TensorFlow's TensorListGetItem/Stack/Gather); an error saying what is
 * missing when that does not pin it down either.
 */
export function fillShape(list: TensorList, shape: PartialShape, op: string): Shape {
  let s = shape;
  for (const t of list.tensors) {
    if (s !== null && s.every((d) => d >= 0)) break;
    if (t) s = mergeShapes(s, t.shape, "element shapes in the list");
  }
  if (s === null || s.some((d) => d < 0)) {
    throw new EdgeflowError(
      `${op}: trying to read an uninitialized tensor but element_shape is not fully defined: ` +
        `${formatShape(s)} and no list element is set`,
    );
  }
  return s;
}

/** Element i along the first dim of `t` (TensorListFromTensor's slices), storage copied. */
export function sliceOf(t: Tensor, i: number): Tensor {
  const shape = t.shape.slice(1);
  const n = sizeOf(shape);
  const src = elementsOf(t);
  const out = newElements(t.dtype, n);
  for (let k = 0; k < n; k++) out[k] = src[i * n + k];
  return fromElements(t.dtype, shape, out);
}

/**
 * The elements stacked along a new first dim: each must have `shape` (an element of another shape
 * is TensorFlow's "Incompatible shapes" error); unset ones are zeros.
 */
export function stackElements(
  dtype: DType,
  elements: readonly (Tensor | undefined)[],
  shape: Shape,
): Tensor {
  const n = sizeOf(shape);
  const out = newElements(dtype, elements.length * n);
  elements.forEach((t, i) => {
    if (!t) return;
    if (t.shape.length !== shape.length || t.shape.some((d, k) => d !== shape[k])) {
      throw new EdgeflowError(
        `incompatible shapes in the list: element ${i} has shape ${formatShape(t.shape)}, ` +
          `expected ${formatShape(shape)}`,
      );
    }
    const src = elementsOf(t);
    for (let k = 0; k < n; k++) out[i * n + k] = src[k];
  });
  return fromElements(dtype, [elements.length, ...shape], out);
}
