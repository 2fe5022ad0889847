/**
 * TensorFlow's TensorList ops (tensorflow/core/ops/list_ops.cc): a list is a scalar "variant"
 * tensor holding an immutable TensorList (core/tensor_list/list.ts), so every op that changes a
 * list returns a new one and its input is unchanged (TensorFlow's value semantics). Every argument
 * lives in host memory (the lists are host objects, the elements host tensors), so the kernels
 * run the references on any device (core/tensor_list/kernels.ts) and a list crosses devices as a
 * host value, without a copy. The variant outputs' specs carry the element dtype and shape in
 * `handle`, as TensorFlow's shape functions carry them in handle data.
 */
import { ALL_DTYPES, type DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import { defineOp, type InferInput, type TensorSpec } from "../op.ts";
import { formatShape, isCompatible, mergeShapes, type PartialShape, type Shape } from "../shape.ts";
import { intList, Tensor } from "../tensor.ts";
import {
  checkElement,
  checkListDtype,
  elementShapeFromSpec,
  elementShapeFromTensor,
  elementShapeTensor,
  fillShape,
  listOf,
  listTensor,
  mergedElementShape,
  sliceOf,
  stackElements,
  TensorList,
} from "../tensor_list/list.ts";
import { checkRank, checkScalarLike, concatRows, intScalar, splitRows } from "./array_util.ts";
import {
  tensorListConcatGrad,
  tensorListFromTensorGrad,
  tensorListGatherGrad,
  tensorListGetItemGrad,
  tensorListPopBackGrad,
  tensorListPushBackGrad,
  tensorListResizeGrad,
  tensorListScatterIntoExistingListGrad,
  tensorListScatterV2Grad,
  tensorListSetItemGrad,
  tensorListSplitGrad,
  tensorListStackGrad,
} from "../grads/tensor_list.ts";

type ShapeType = "int32" | "int64";
const ELEMENT_DTYPE = { kind: "type", allowed: ALL_DTYPES } as const;
const SHAPE_TYPE = { kind: "type", allowed: ["int32", "int64"], default: "int32" } as const;
const ALL_HOST = { inputs: "all", outputs: "all" } as const;
const HANDLE_IN = { name: "input_handle", type: "variant" } as const;
const HANDLE_OUT = { name: "output_handle", type: "variant" } as const;

/** A variant output's spec: the list's element dtype and (partial) shape ride in `handle`. */
function listSpec(dtype: DType, shape: PartialShape): TensorSpec {
  return { dtype: "variant", shape: [], handle: { dtype, shape } };
}

/** Refuses a list input that is not a scalar variant; returns the element shape it declares. */
function listInput(h: InferInput, dtype?: DType): PartialShape {
  if (h.dtype !== "variant") {
    throw new EdgeflowError(`input_handle must be a variant (a TensorList), got ${h.dtype}`);
  }
  checkRank(h.shape, 0, "input_handle");
  if (dtype && h.handle && h.handle.dtype !== dtype) {
    throw new EdgeflowError(
      `invalid data types; op elements ${dtype} but list elements ${h.handle.dtype}`,
    );
  }
  return h.handle?.shape ?? null;
}

function int32Scalar(name: string, t: Tensor): number {
  return intScalar(t, name);
}

/** A list with element i set, grown to i + 1 first if needed (value semantics: `list` is unchanged). */
function withItem(list: TensorList, i: number, item: Tensor | undefined): TensorList {
  if (i < list.length) return list.set(i, item);
  const tensors = list.tensors.slice();
  while (tensors.length <= i) tensors.push(undefined);
  tensors[i] = item;
  return list.withTensors(tensors);
}

/** Zeros of the shape an unset element reads as. */
function zerosFor(list: TensorList, shape: PartialShape, op: string): Tensor {
  return Tensor.zeros(list.elementDtype, fillShape(list, shape, op));
}

// ---- creating lists ---------------------------------------------------------------------

export const EmptyTensorList = defineOp<{ element_dtype: DType; shape_type: ShapeType }>({
  name: "EmptyTensorList",
  inputs: [
    { name: "element_shape", type: "shape_type" },
    { name: "max_num_elements", type: "int32" },
  ],
  outputs: [{ name: "handle", type: "variant" }],
  attrs: { element_dtype: ELEMENT_DTYPE, shape_type: SHAPE_TYPE },
  hostMemory: ALL_HOST,
  infer: ([shape, max], { element_dtype }) => {
    checkScalarLike(max.shape, "max_num_elements");
    return [listSpec(element_dtype, elementShapeFromSpec(shape))];
  },
  reference: ([shape, max], { element_dtype }) => {
    const bound = int32Scalar("max_num_elements", max);
    if (bound < -1) {
      throw new EdgeflowError(`max_num_elements must be -1 (no bound) or at least 0, got ${bound}`);
    }
    return [listTensor(new TensorList(element_dtype, elementShapeFromTensor(shape), [], bound))];
  },
});

export const TensorListReserve = defineOp<{ element_dtype: DType; shape_type: ShapeType }>({
  name: "TensorListReserve",
  inputs: [
    { name: "element_shape", type: "shape_type" },
    { name: "num_elements", type: "int32" },
  ],
  outputs: [{ name: "handle", type: "variant" }],
  attrs: { element_dtype: ELEMENT_DTYPE, shape_type: SHAPE_TYPE },
  hostMemory: ALL_HOST,
  infer: ([shape, n], { element_dtype }) => {
    checkScalarLike(n.shape, "num_elements");
    return [listSpec(element_dtype, elementShapeFromSpec(shape))];
  },
  reference: ([shape, n], { element_dtype }) => {
    const count = int32Scalar("num_elements", n);
    if (count < 0) {
      throw new EdgeflowError(
        `the num_elements to reserve must be a non negative number, but got ${count}`,
      );
    }
    const es = elementShapeFromTensor(shape);
    return [listTensor(new TensorList(element_dtype, es, new Array(count).fill(undefined)))];
  },
});

export const TensorListFromTensor = defineOp<{ element_dtype: DType; shape_type: ShapeType }>({
  name: "TensorListFromTensor",
  gradient: tensorListFromTensorGrad,
  inputs: [
    { name: "tensor", type: "element_dtype" },
    { name: "element_shape", type: "shape_type" },
  ],
  outputs: [HANDLE_OUT],
  attrs: { element_dtype: ELEMENT_DTYPE, shape_type: SHAPE_TYPE },
  hostMemory: ALL_HOST,
  infer: ([t, shape], { element_dtype }) => {
    const es = elementShapeFromSpec(shape);
    if (t.shape === null) return [listSpec(element_dtype, es)];
    if (t.shape.length === 0) {
      throw new EdgeflowError("tensor must be at least a vector, but saw shape: []");
    }
    const rest = t.shape.slice(1);
    if (!isCompatible(rest, es)) {
      throw new EdgeflowError(
        `specified a list with shape ${formatShape(es)} from a tensor with shape ` +
          formatShape(t.shape),
      );
    }
    return [listSpec(element_dtype, mergeShapes(es, rest))];
  },
  reference: ([t, shape], { element_dtype }) => {
    const es = elementShapeFromTensor(shape);
    if (t.rank === 0) {
      throw new EdgeflowError("tensor must be at least a vector, but saw shape: []");
    }
    if (!isCompatible(t.shape.slice(1), es)) {
      throw new EdgeflowError(
        `specified a list with shape ${formatShape(es)} from a tensor with shape ` +
          formatShape(t.shape),
      );
    }
    const items = Array.from({ length: t.shape[0] }, (_, i) => sliceOf(t, i));
    return [listTensor(new TensorList(element_dtype, es, items))];
  },
});

// ---- one element ------------------------------------------------------------------------

export const TensorListSetItem = defineOp<
  { element_dtype: DType; resize_if_index_out_of_bounds: boolean }
>({
  name: "TensorListSetItem",
  gradient: tensorListSetItemGrad,
  inputs: [HANDLE_IN, { name: "index", type: "int32" }, { name: "item", type: "element_dtype" }],
  outputs: [HANDLE_OUT],
  attrs: {
    element_dtype: ELEMENT_DTYPE,
    resize_if_index_out_of_bounds: { kind: "bool", default: false },
  },
  hostMemory: ALL_HOST,
  infer: ([h, index, item], { element_dtype }) => {
    const es = listInput(h, element_dtype);
    checkScalarLike(index.shape, "index");
    if (!isCompatible(item.shape, es)) {
      throw new EdgeflowError(
        `tried to set a tensor of shape ${formatShape(item.shape)} into a list whose ` +
          `element_shape is ${formatShape(es)}`,
      );
    }
    return [listSpec(element_dtype, es)];
  },
  reference: ([h, index, item], { element_dtype, resize_if_index_out_of_bounds }) => {
    const list = listOf(h);
    checkListDtype(list, element_dtype);
    const i = int32Scalar("index", index);
    const grow = resize_if_index_out_of_bounds && i >= list.length;
    if (i < 0 || (i >= list.length && !grow)) {
      throw new EdgeflowError(
        `trying to modify element ${i} in a list with ${list.length} elements`,
      );
    }
    checkElement(list, item, "set");
    return [listTensor(withItem(list, i, item))];
  },
});

export const TensorListGetItem = defineOp<{ element_dtype: DType }>({
  name: "TensorListGetItem",
  gradient: tensorListGetItemGrad,
  inputs: [HANDLE_IN, { name: "index", type: "int32" }, { name: "element_shape", type: "int32" }],
  outputs: [{ name: "item", type: "element_dtype" }],
  attrs: { element_dtype: ELEMENT_DTYPE },
  hostMemory: ALL_HOST,
  infer: ([h, index, shape], { element_dtype }) => {
    const es = listInput(h, element_dtype);
    checkScalarLike(index.shape, "index");
    return [{ dtype: element_dtype, shape: mergeShapes(es, elementShapeFromSpec(shape)) }];
  },
  reference: ([h, index, shape], { element_dtype }) => {
    const list = listOf(h);
    checkListDtype(list, element_dtype);
    const i = int32Scalar("index", index);
    if (i < 0 || i >= list.length) {
      throw new EdgeflowError(
        `trying to access element ${i} in a list with ${list.length} elements`,
      );
    }
    const merged = mergedElementShape(list, elementShapeFromTensor(shape));
    return [list.get(i) ?? zerosFor(list, merged, "TensorListGetItem")];
  },
});

export const TensorListLength = defineOp<Record<never, never>>({
  name: "TensorListLength",
  inputs: [HANDLE_IN],
  outputs: [{ name: "length", type: "int32" }],
  attrs: {},
  hostMemory: ALL_HOST,
  infer: ([h]) => {
    listInput(h);
    return [{ dtype: "int32", shape: [] }];
  },
  reference: ([h]) => [Tensor.fromNumbers("int32", [], [listOf(h).length])],
});

export const TensorListElementShape = defineOp<{ shape_type: ShapeType }>({
  name: "TensorListElementShape",
  inputs: [HANDLE_IN],
  outputs: [{ name: "element_shape", type: "shape_type" }],
  attrs: { shape_type: SHAPE_TYPE },
  hostMemory: ALL_HOST,
  infer: ([h], { shape_type }) => {
    const es = listInput(h);
    return [{ dtype: shape_type, shape: h.handle && es !== null ? [es.length] : null }];
  },
  reference: ([h], { shape_type }) => [elementShapeTensor(listOf(h).elementShape, shape_type)],
});

export const TensorListPushBack = defineOp<{ element_dtype: DType }>({
  name: "TensorListPushBack",
  gradient: tensorListPushBackGrad,
  inputs: [HANDLE_IN, { name: "tensor", type: "element_dtype" }],
  outputs: [HANDLE_OUT],
  attrs: { element_dtype: ELEMENT_DTYPE },
  hostMemory: ALL_HOST,
  infer: ([h, t], { element_dtype }) => {
    const es = listInput(h, element_dtype);
    if (!isCompatible(t.shape, es)) {
      throw new EdgeflowError(
        `tried to push back a tensor of shape ${formatShape(t.shape)} onto a list whose ` +
          `element_shape is ${formatShape(es)}`,
      );
    }
    return [listSpec(element_dtype, es)];
  },
  reference: ([h, t], { element_dtype }) => {
    const list = listOf(h);
    checkListDtype(list, element_dtype);
    checkElement(list, t, "push back");
    if (list.maxNumElements !== -1 && list.length >= list.maxNumElements) {
      throw new EdgeflowError(
        `tried to push item into a full list; list size: ${list.length}, max_num_elements: ` +
          list.maxNumElements,
      );
    }
    return [listTensor(list.push(t))];
  },
});

export const TensorListPopBack = defineOp<{ element_dtype: DType }>({
  name: "TensorListPopBack",
  gradient: tensorListPopBackGrad,
  inputs: [HANDLE_IN, { name: "element_shape", type: "int32" }],
  outputs: [HANDLE_OUT, { name: "tensor", type: "element_dtype" }],
  attrs: { element_dtype: ELEMENT_DTYPE },
  hostMemory: ALL_HOST,
  infer: ([h, shape], { element_dtype }) => {
    const es = listInput(h, element_dtype);
    return [
      listSpec(element_dtype, es),
      { dtype: element_dtype, shape: mergeShapes(es, elementShapeFromSpec(shape)) },
    ];
  },
  reference: ([h, shape], { element_dtype }) => {
    const list = listOf(h);
    checkListDtype(list, element_dtype);
    if (list.length === 0) throw new EdgeflowError("trying to pop from an empty list");
    const last = list.get(list.length - 1) ??
      zerosFor(list, mergedElementShape(list, elementShapeFromTensor(shape)), "TensorListPopBack");
    return [listTensor(list.withTensors(list.tensors.slice(0, -1))), last];
  },
});

export const TensorListResize = defineOp<Record<never, never>>({
  name: "TensorListResize",
  gradient: tensorListResizeGrad,
  inputs: [HANDLE_IN, { name: "size", type: "int32" }],
  outputs: [HANDLE_OUT],
  attrs: {},
  hostMemory: ALL_HOST,
  infer: ([h, size]) => {
    const es = listInput(h);
    checkScalarLike(size.shape, "size");
    return [h.handle ? listSpec(h.handle.dtype, es) : { dtype: "variant", shape: [] }];
  },
  reference: ([h, size]) => {
    const list = listOf(h);
    const n = int32Scalar("size", size);
    if (n < 0) {
      throw new EdgeflowError(`TensorListResize expects size to be non-negative, got ${n}`);
    }
    const tensors = list.tensors.slice(0, n);
    while (tensors.length < n) tensors.push(undefined);
    return [listTensor(list.withTensors(tensors))];
  },
});

// ---- whole lists ------------------------------------------------------------------------

/** The shape a stacked, gathered or popped element has: merged, else inferred from the list. */
function stackShape(list: TensorList, arg: PartialShape, op: string): Shape {
  const merged = mergedElementShape(list, arg);
  if (merged !== null && merged.every((d) => d >= 0)) return merged;
  if (list.length === 0) {
    throw new EdgeflowError(
      `${op}: tried to stack elements of an empty list with non-fully-defined element_shape: ` +
        formatShape(merged),
    );
  }
  return fillShape(list, merged, op);
}

export const TensorListStack = defineOp<{ element_dtype: DType; num_elements: number }>({
  name: "TensorListStack",
  gradient: tensorListStackGrad,
  inputs: [HANDLE_IN, { name: "element_shape", type: "int32" }],
  outputs: [{ name: "tensor", type: "element_dtype" }],
  attrs: { element_dtype: ELEMENT_DTYPE, num_elements: { kind: "int", default: -1 } },
  hostMemory: ALL_HOST,
  infer: ([h, shape], { element_dtype, num_elements }) => {
    const es = mergeShapes(listInput(h, element_dtype), elementShapeFromSpec(shape));
    const n = num_elements >= 0 ? num_elements : -1;
    return [{ dtype: element_dtype, shape: es === null ? null : [n, ...es] }];
  },
  reference: ([h, shape], { element_dtype, num_elements }) => {
    const list = listOf(h);
    checkListDtype(list, element_dtype);
    if (num_elements !== -1 && num_elements !== list.length) {
      throw new EdgeflowError(
        `operation expected a list with ${num_elements} elements but got a list with ` +
          `${list.length} elements`,
      );
    }
    const s = stackShape(list, elementShapeFromTensor(shape), "TensorListStack");
    return [stackElements(element_dtype, list.tensors, s)];
  },
});

export const TensorListGather = defineOp<{ element_dtype: DType }>({
  name: "TensorListGather",
  gradient: tensorListGatherGrad,
  inputs: [HANDLE_IN, { name: "indices", type: "int32" }, { name: "element_shape", type: "int32" }],
  outputs: [{ name: "values", type: "element_dtype" }],
  attrs: { element_dtype: ELEMENT_DTYPE },
  hostMemory: ALL_HOST,
  infer: ([h, indices, shape], { element_dtype }) => {
    const es = mergeShapes(listInput(h, element_dtype), elementShapeFromSpec(shape));
    checkRank(indices.shape, 1, "indices");
    const n = indices.shape?.[0] ?? -1;
    return [{ dtype: element_dtype, shape: es === null ? null : [n, ...es] }];
  },
  reference: ([h, indices, shape], { element_dtype }) => {
    const list = listOf(h);
    checkListDtype(list, element_dtype);
    checkRank(indices.shape, 1, "indices");
    const picked = intList(indices).map((i) => {
      if (i < 0 || i >= list.length) {
        throw new EdgeflowError(
          `trying to gather element ${i} in a list with ${list.length} elements`,
        );
      }
      return list.get(i);
    });
    const s = stackShape(
      list.withTensors(picked),
      mergedElementShape(list, elementShapeFromTensor(shape)),
      "TensorListGather",
    );
    return [stackElements(element_dtype, picked, s)];
  },
});

/** Rows of `t` written at `indices` into `tensors` (grown as needed); checks as TensorFlow's Scatter. */
function scatterRows(
  t: Tensor,
  indices: Tensor,
  tensors: (Tensor | undefined)[],
  limit: number | undefined,
): void {
  if (t.rank === 0) throw new EdgeflowError("tensor must be at least a vector, but saw shape: []");
  checkRank(indices.shape, 1, "indices");
  const idx = intList(indices);
  if (idx.length !== t.shape[0]) {
    throw new EdgeflowError(
      `invalid number of rows in input tensor; expected ${idx.length} (one per index), ` +
        `actual ${t.shape[0]}`,
    );
  }
  idx.forEach((i, row) => {
    if (i < 0) {
      throw new EdgeflowError(`indices in a TensorList scatter must all be non-negative, got ${i}`);
    }
    if (limit !== undefined && i >= limit) {
      throw new EdgeflowError(`trying to scatter at index ${i} in a list with ${limit} elements`);
    }
    while (tensors.length <= i) tensors.push(undefined);
    tensors[i] = sliceOf(t, row);
  });
}

export const TensorListScatterV2 = defineOp<{ element_dtype: DType; shape_type: ShapeType }>({
  name: "TensorListScatterV2",
  gradient: tensorListScatterV2Grad,
  inputs: [
    { name: "tensor", type: "element_dtype" },
    { name: "indices", type: "int32" },
    { name: "element_shape", type: "shape_type" },
    { name: "num_elements", type: "int32" },
  ],
  outputs: [HANDLE_OUT],
  attrs: { element_dtype: ELEMENT_DTYPE, shape_type: SHAPE_TYPE },
  hostMemory: ALL_HOST,
  infer: ([t, indices, shape, n], { element_dtype }) => {
    checkRank(indices.shape, 1, "indices");
    checkScalarLike(n.shape, "num_elements");
    const es = elementShapeFromSpec(shape);
    const rest = t.shape === null ? null : t.shape.slice(1);
    if (t.shape !== null && t.shape.length === 0) {
      throw new EdgeflowError("tensor must be at least a vector, but saw shape: []");
    }
    if (!isCompatible(rest, es)) {
      throw new EdgeflowError(
        `specified a list with shape ${formatShape(es)} from a tensor with shape ${
          formatShape(t.shape)
        }`,
      );
    }
    return [listSpec(element_dtype, mergeShapes(es, rest))];
  },
  reference: ([t, indices, shape, n], { element_dtype }) => {
    const es = elementShapeFromTensor(shape);
    const count = int32Scalar("num_elements", n);
    if (count < -1) throw new EdgeflowError(`num_elements must be -1 or at least 0, got ${count}`);
    if (t.rank > 0 && !isCompatible(t.shape.slice(1), es)) {
      throw new EdgeflowError(
        `specified a list with shape ${formatShape(es)} from a tensor with shape ${
          formatShape(t.shape)
        }`,
      );
    }
    const tensors: (Tensor | undefined)[] = new Array(Math.max(count, 0)).fill(undefined);
    scatterRows(t, indices, tensors, count === -1 ? undefined : count);
    return [listTensor(new TensorList(element_dtype, es, tensors))];
  },
});

export const TensorListScatterIntoExistingList = defineOp<{ element_dtype: DType }>({
  name: "TensorListScatterIntoExistingList",
  gradient: tensorListScatterIntoExistingListGrad,
  inputs: [HANDLE_IN, { name: "tensor", type: "element_dtype" }, {
    name: "indices",
    type: "int32",
  }],
  outputs: [HANDLE_OUT],
  attrs: { element_dtype: ELEMENT_DTYPE },
  hostMemory: ALL_HOST,
  infer: ([h, t, indices], { element_dtype }) => {
    const es = listInput(h, element_dtype);
    checkRank(indices.shape, 1, "indices");
    if (t.shape !== null && t.shape.length === 0) {
      throw new EdgeflowError("tensor must be at least a vector, but saw shape: []");
    }
    return [listSpec(element_dtype, es)];
  },
  reference: ([h, t, indices], { element_dtype }) => {
    const list = listOf(h);
    checkListDtype(list, element_dtype);
    if (t.dtype !== list.elementDtype) checkElement(list, t, "scatter");
    if (t.rank > 0 && !isCompatible(t.shape.slice(1), list.elementShape)) {
      throw new EdgeflowError(
        `tried to scatter rows of shape ${formatShape(t.shape.slice(1))} into a list whose ` +
          `element_shape is ${formatShape(list.elementShape)}`,
      );
    }
    // TensorFlow grows the list to the largest index.
    const tensors = list.tensors.slice();
    scatterRows(t, indices, tensors, undefined);
    return [listTensor(list.withTensors(tensors))];
  },
});

export const TensorListConcatV2 = defineOp<{ element_dtype: DType; shape_type: ShapeType }>({
  name: "TensorListConcatV2",
  gradient: tensorListConcatGrad,
  inputs: [
    HANDLE_IN,
    { name: "element_shape", type: "shape_type" },
    { name: "leading_dims", type: "int64" },
  ],
  outputs: [{ name: "tensor", type: "element_dtype" }, { name: "lengths", type: "int64" }],
  attrs: { element_dtype: ELEMENT_DTYPE, shape_type: SHAPE_TYPE },
  hostMemory: ALL_HOST,
  infer: ([h, shape], { element_dtype }) => {
    const es = mergeShapes(listInput(h, element_dtype), elementShapeFromSpec(shape));
    if (es !== null && es.length === 0) {
      throw new EdgeflowError("concat requires elements to be at least vectors, found scalars");
    }
    return [
      { dtype: element_dtype, shape: es === null ? null : [-1, ...es.slice(1)] },
      { dtype: "int64", shape: [-1] },
    ];
  },
  reference: ([h, shape, leading], { element_dtype }) => {
    const list = listOf(h);
    checkListDtype(list, element_dtype);
    const es = mergedElementShape(list, elementShapeFromTensor(shape));
    const lead = intList(leading);
    let rest: PartialShape = es === null ? null : es.slice(1);
    for (const t of list.tensors) {
      if (!t) continue;
      if (t.rank === 0) {
        throw new EdgeflowError("concat requires elements to be at least vectors, found scalars");
      }
      rest = mergeShapes(
        rest,
        t.shape.slice(1),
        "element shapes (except the first dim) in the list",
      );
    }
    const pieces = list.tensors.map((t, i) => {
      if (t) return t;
      const first = es?.[0] !== undefined && es[0] >= 0 ? es[0] : lead[i];
      const s = rest === null || first === undefined ? null : [first, ...rest];
      if (s === null || s.some((d) => d < 0)) {
        throw new EdgeflowError(
          `element ${i} of the list is not set and its shape ${formatShape(s)} is not fully ` +
            "defined (give element_shape or leading_dims)",
        );
      }
      return Tensor.zeros(element_dtype, s);
    });
    if (rest === null || rest.some((d) => d < 0)) {
      throw new EdgeflowError(
        `concat of an empty list needs a fully defined element_shape except the first dim, got ${
          formatShape(es)
        }`,
      );
    }
    return concatRows(element_dtype, pieces, rest);
  },
});

export const TensorListSplit = defineOp<{ element_dtype: DType; shape_type: ShapeType }>({
  name: "TensorListSplit",
  gradient: tensorListSplitGrad,
  inputs: [
    { name: "tensor", type: "element_dtype" },
    { name: "element_shape", type: "shape_type" },
    { name: "lengths", type: "int64" },
  ],
  outputs: [HANDLE_OUT],
  attrs: { element_dtype: ELEMENT_DTYPE, shape_type: SHAPE_TYPE },
  hostMemory: ALL_HOST,
  infer: ([t, shape, lengths], { element_dtype }) => {
    checkRank(lengths.shape, 1, "lengths");
    if (t.shape !== null && t.shape.length === 0) {
      throw new EdgeflowError("tensor must be at least a vector, but saw shape: []");
    }
    return [listSpec(element_dtype, elementShapeFromSpec(shape))];
  },
  reference: ([t, shape, lengths], { element_dtype }) => {
    const es = elementShapeFromTensor(shape);
    checkRank(lengths.shape, 1, "lengths");
    if (t.rank === 0) {
      throw new EdgeflowError("tensor must be at least a vector, but saw shape: []");
    }
    const ls = intList(lengths);
    const sum = ls.reduce((a, b) => a + b, 0);
    if (ls.some((l) => l < 0) || sum !== t.shape[0]) {
      throw new EdgeflowError(
        `unable to split a tensor of ${t.shape[0]} rows into lengths [${ls}] ` +
          "(each at least 0, summing to the rows)",
      );
    }
    const items = splitRows(t, ls).map((item) => {
      if (!isCompatible(item.shape, es)) {
        throw new EdgeflowError(
          `tensorlist split: piece of shape ${formatShape(item.shape)} is incompatible with ` +
            `element_shape ${formatShape(es)}`,
        );
      }
      return item;
    });
    return [listTensor(new TensorList(element_dtype, es, items))];
  },
});

export const TENSOR_LIST_OPS = [
  EmptyTensorList,
  TensorListReserve,
  TensorListFromTensor,
  TensorListSetItem,
  TensorListGetItem,
  TensorListLength,
  TensorListElementShape,
  TensorListPushBack,
  TensorListPopBack,
  TensorListResize,
  TensorListStack,
  TensorListGather,
  TensorListScatterV2,
  TensorListScatterIntoExistingList,
  TensorListConcatV2,
  TensorListSplit,
] as const;
