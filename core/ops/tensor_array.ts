/**
 * TensorFlow 1's TensorArrayV3 ops (tensorflow/core/ops/data_flow_ops.cc). TensorArrayV3 makes an
 * array in the step's table (core/tensor_array/table.ts) and gives its resource handle and a
 * float "flow" scalar; every op that writes takes a flow and gives a new one, and every op that
 * reads takes one, so the flow edges order the effects on the array as TensorFlow's do (the
 * flow's value means nothing). Every argument lives in host memory, so the kernels run the
 * references on any device (core/tensor_list/kernels.ts). The arrays are stateful: nothing folds,
 * merges or prunes these ops as duplicates.
 */
import { ALL_DTYPES, type DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import { defineOp, type HostContext, type InferInput, type TensorSpec } from "../op.ts";
import { formatShape, isFullyDefined, mergeShapes, type PartialShape } from "../shape.ts";
import { intList, Tensor } from "../tensor.ts";
import { TensorArray, type TensorArrayTable } from "../tensor_array/table.ts";
import { checkRank, checkScalarLike, concatRows, intScalar, splitRows } from "./array_util.ts";
import { sliceOf, stackElements } from "../tensor_list/list.ts";
import { handleOf } from "./state.ts";
import {
  tensorArrayConcatGrad,
  tensorArrayGatherGrad,
  tensorArrayReadGrad,
  tensorArrayScatterGrad,
  tensorArraySplitGrad,
  tensorArrayWriteGrad,
} from "../grads/tensor_list.ts";

/** A HostContext that holds the step's TensorArrays (a session's kernel context). */
export interface TensorArrayHost {
  readonly tensorArrays?: TensorArrayTable;
}
function tableOf(ctx: HostContext): TensorArrayTable {
  const t = (ctx as HostContext & TensorArrayHost).tensorArrays;
  if (!t) {
    throw new EdgeflowError(
      "TensorArray ops need a session step (this context holds no TensorArray table)",
    );
  }
  return t;
}
function arrayOf(ctx: HostContext, handle: Tensor): TensorArray {
  return tableOf(ctx).get(handleOf(handle));
}

const ALL_HOST = { inputs: "all", outputs: "all" } as const;
const HANDLE = { name: "handle", type: "resource" } as const;
const FLOW_IN = { name: "flow_in", type: "float32" } as const;
const FLOW_OUT = { name: "flow_out", type: "float32" } as const;
const TYPE = { kind: "type", allowed: ALL_DTYPES.filter((d) => d !== "resource") } as const;
const FLOW: TensorSpec = { dtype: "float32", shape: [] };
/** The flow's value means nothing (TensorFlow's kernels give a zero scalar). */
const FLOW_VALUE = new Tensor("float32", [], new Float32Array(1));

/** Refuses a handle input that is not a resource; returns the element shape its spec carries. */
function handleInput(h: InferInput, flow?: InferInput): PartialShape {
  if (h.dtype !== "resource") throw new EdgeflowError(`handle must be a resource, got ${h.dtype}`);
  if (flow) checkScalarLike(flow.shape, "flow_in");
  return h.handle?.shape ?? null;
}

type CreateAttrs = {
  dtype: DType;
  element_shape: PartialShape;
  dynamic_size: boolean;
  clear_after_read: boolean;
  identical_element_shapes: boolean;
  tensor_array_name: string;
};

export const TensorArrayV3 = defineOp<CreateAttrs>({
  name: "TensorArrayV3",
  inputs: [{ name: "size", type: "int32" }],
  outputs: [HANDLE, { name: "flow", type: "float32" }],
  attrs: {
    dtype: TYPE,
    element_shape: { kind: "shape", default: null },
    dynamic_size: { kind: "bool", default: false },
    clear_after_read: { kind: "bool", default: true },
    identical_element_shapes: { kind: "bool", default: false },
    tensor_array_name: { kind: "string", default: "" },
  },
  stateful: true,
  hostMemory: ALL_HOST,
  infer: ([size], { dtype, element_shape }) => {
    checkScalarLike(size.shape, "size");
    return [{ dtype: "resource", shape: [], handle: { dtype, shape: element_shape } }, FLOW];
  },
  reference: ([size], attrs, ctx) => {
    const n = intScalar(size, "size");
    if (n < 0) throw new EdgeflowError(`size should be >= 0, got ${n}`);
    const ta = tableOf(ctx).create(attrs.tensor_array_name || ctx.node.name, {
      dtype: attrs.dtype,
      size: n,
      elementShape: attrs.element_shape,
      dynamicSize: attrs.dynamic_size,
      clearAfterRead: attrs.clear_after_read,
      identicalElementShapes: attrs.identical_element_shapes,
    });
    return [new Tensor("resource", [], [ta.handle]), FLOW_VALUE];
  },
});

export const TensorArrayGradV3 = defineOp<{ source: string }>({
  name: "TensorArrayGradV3",
  inputs: [HANDLE, FLOW_IN],
  outputs: [{ name: "grad_handle", type: "resource" }, FLOW_OUT],
  attrs: { source: { kind: "string" } },
  stateful: true,
  hostMemory: ALL_HOST,
  infer: ([h, flow]) => {
    handleInput(h, flow);
    return [{ dtype: "resource", shape: [], ...(h.handle ? { handle: h.handle } : {}) }, FLOW];
  },
  reference: ([h, flow], { source }, ctx) => {
    const forward = arrayOf(ctx, h);
    const g = tableOf(ctx).grad(forward, source);
    return [new Tensor("resource", [], [g.handle]), flow];
  },
});

export const TensorArrayWriteV3 = defineOp<{ T: DType }>({
  name: "TensorArrayWriteV3",
  gradient: tensorArrayWriteGrad,
  inputs: [HANDLE, { name: "index", type: "int32" }, { name: "value", type: "T" }, FLOW_IN],
  outputs: [FLOW_OUT],
  attrs: { T: TYPE },
  stateful: true,
  hostMemory: ALL_HOST,
  infer: ([h, index, _value, flow]) => {
    handleInput(h, flow);
    checkScalarLike(index.shape, "index");
    return [FLOW];
  },
  reference: ([h, index, value, flow], _, ctx) => {
    arrayOf(ctx, h).write(intScalar(index, "index"), value);
    return [flow];
  },
});

export const TensorArrayReadV3 = defineOp<{ dtype: DType }>({
  name: "TensorArrayReadV3",
  gradient: tensorArrayReadGrad,
  inputs: [HANDLE, { name: "index", type: "int32" }, FLOW_IN],
  outputs: [{ name: "value", type: "dtype" }],
  attrs: { dtype: TYPE },
  stateful: true,
  hostMemory: ALL_HOST,
  infer: ([h, index, flow], { dtype }) => {
    const es = handleInput(h, flow);
    checkScalarLike(index.shape, "index");
    return [{ dtype, shape: es }];
  },
  reference: ([h, index, _flow], { dtype }, ctx) => {
    const ta = arrayOf(ctx, h);
    checkReadDtype(ta, dtype);
    return [ta.read(intScalar(index, "index"))];
  },
});

function checkReadDtype(ta: TensorArray, dtype: DType): void {
  if (ta.dtype !== dtype) {
    throw new EdgeflowError(
      `TensorArray ${ta.handle}: TensorArray dtype is ${ta.dtype} but op requested dtype ${dtype}`,
    );
  }
}

/** Reads of `indices`, stacked: every value must have one shape. */
function gatherValues(ta: TensorArray, indices: readonly number[], declared: PartialShape): Tensor {
  if (indices.length === 0) {
    const s = mergeShapes(declared, ta.inferredShape);
    if (!isFullyDefined(s)) {
      throw new EdgeflowError(
        `TensorArray ${ta.handle} has size zero, but element shape ${formatShape(s)} is not ` +
          "fully defined; only static shapes are supported when packing zero-size TensorArrays",
      );
    }
    return Tensor.zeros(ta.dtype, [0, ...s]);
  }
  const values = indices.map((i) => ta.read(i));
  const first = values[0].shape;
  values.forEach((v, k) => {
    if (v.shape.length !== first.length || v.shape.some((d, j) => d !== first[j])) {
      throw new EdgeflowError(
        `TensorArray ${ta.handle} has inconsistent shapes: index ${indices[0]} has shape ` +
          `${formatShape(first)} but index ${indices[k]} has shape ${formatShape(v.shape)}`,
      );
    }
  });
  return stackElements(ta.dtype, values, first);
}

export const TensorArrayGatherV3 = defineOp<{ dtype: DType; element_shape: PartialShape }>({
  name: "TensorArrayGatherV3",
  gradient: tensorArrayGatherGrad,
  inputs: [HANDLE, { name: "indices", type: "int32" }, FLOW_IN],
  outputs: [{ name: "value", type: "dtype" }],
  attrs: { dtype: TYPE, element_shape: { kind: "shape", default: null } },
  stateful: true,
  hostMemory: ALL_HOST,
  infer: ([h, indices, flow], { dtype, element_shape }) => {
    const es = mergeShapes(handleInput(h, flow), element_shape, "element shapes");
    checkRank(indices.shape, 1, "indices");
    return [{ dtype, shape: es === null ? null : [indices.shape?.[0] ?? -1, ...es] }];
  },
  reference: ([h, indices, _flow], { dtype, element_shape }, ctx) => {
    const ta = arrayOf(ctx, h);
    checkReadDtype(ta, dtype);
    checkRank(indices.shape, 1, "indices");
    return [gatherValues(ta, intList(indices), element_shape)];
  },
});

export const TensorArrayScatterV3 = defineOp<{ T: DType }>({
  name: "TensorArrayScatterV3",
  gradient: tensorArrayScatterGrad,
  inputs: [HANDLE, { name: "indices", type: "int32" }, { name: "value", type: "T" }, FLOW_IN],
  outputs: [FLOW_OUT],
  attrs: { T: TYPE },
  stateful: true,
  hostMemory: ALL_HOST,
  infer: ([h, indices, value, flow]) => {
    handleInput(h, flow);
    checkRank(indices.shape, 1, "indices");
    if (value.shape !== null && value.shape.length === 0) {
      throw new EdgeflowError("value must be at least a vector, got a scalar");
    }
    return [FLOW];
  },
  reference: ([h, indices, value, flow], _, ctx) => {
    const ta = arrayOf(ctx, h);
    checkRank(indices.shape, 1, "indices");
    if (value.rank === 0) throw new EdgeflowError("value must be at least a vector, got a scalar");
    const idx = intList(indices);
    if (idx.length !== value.shape[0]) {
      throw new EdgeflowError(
        `expected len(indices) == values.shape[0], but saw: ${idx.length} vs. ${value.shape[0]}`,
      );
    }
    idx.forEach((i, row) => ta.write(i, sliceOf(value, row)));
    return [flow];
  },
});

export const TensorArrayConcatV3 = defineOp<{ dtype: DType; element_shape_except0: PartialShape }>({
  name: "TensorArrayConcatV3",
  gradient: tensorArrayConcatGrad,
  inputs: [HANDLE, FLOW_IN],
  outputs: [{ name: "value", type: "dtype" }, { name: "lengths", type: "int64" }],
  attrs: { dtype: TYPE, element_shape_except0: { kind: "shape", default: null } },
  stateful: true,
  hostMemory: ALL_HOST,
  infer: ([h, flow], { dtype, element_shape_except0: rest }) => {
    handleInput(h, flow);
    return [{ dtype, shape: rest === null ? null : [-1, ...rest] }, {
      dtype: "int64",
      shape: [-1],
    }];
  },
  reference: ([h, _flow], { dtype, element_shape_except0: declared }, ctx) => {
    const ta = arrayOf(ctx, h);
    checkReadDtype(ta, dtype);
    const values = Array.from({ length: ta.size }, (_, i) => ta.read(i));
    if (values.length === 0) {
      if (!isFullyDefined(declared)) {
        throw new EdgeflowError(
          `TensorArray ${ta.handle} has size zero, but element_shape_except0 ` +
            `${formatShape(declared)} is not fully defined; only static shapes are supported ` +
            "when concatenating zero-size TensorArrays",
        );
      }
      return [
        Tensor.zeros(dtype, [0, ...declared]),
        new Tensor("int64", [0], new BigInt64Array(0)),
      ];
    }
    values.forEach((v, i) => {
      if (v.rank === 0) {
        throw new EdgeflowError(
          `TensorArray ${ta.handle}: concat saw a scalar at index ${i}; elements must be at least vectors`,
        );
      }
    });
    const rest = values[0].shape.slice(1);
    values.forEach((v, i) => {
      const r = v.shape.slice(1);
      if (r.length !== rest.length || r.some((d, j) => d !== rest[j])) {
        throw new EdgeflowError(
          `TensorArray ${ta.handle} has inconsistent shapes: index 0 has (excepting dimension 0) ` +
            `shape ${formatShape(rest)} but index ${i} has (excepting dimension 0) shape ` +
            formatShape(r),
        );
      }
    });
    return concatRows(dtype, values, rest);
  },
});

export const TensorArraySplitV3 = defineOp<{ T: DType }>({
  name: "TensorArraySplitV3",
  gradient: tensorArraySplitGrad,
  inputs: [HANDLE, { name: "value", type: "T" }, { name: "lengths", type: "int64" }, FLOW_IN],
  outputs: [FLOW_OUT],
  attrs: { T: TYPE },
  stateful: true,
  hostMemory: ALL_HOST,
  infer: ([h, value, lengths, flow]) => {
    handleInput(h, flow);
    checkRank(lengths.shape, 1, "lengths");
    if (value.shape !== null && value.shape.length === 0) {
      throw new EdgeflowError("value must be at least a vector, got a scalar");
    }
    return [FLOW];
  },
  reference: ([h, value, lengths, flow], _, ctx) => {
    const ta = arrayOf(ctx, h);
    checkRank(lengths.shape, 1, "lengths");
    if (value.rank === 0) throw new EdgeflowError("value must be at least a vector, got a scalar");
    const ls = intList(lengths);
    const sum = ls.reduce((a, b) => a + b, 0);
    if (ls.some((l) => l < 0) || sum !== value.shape[0]) {
      throw new EdgeflowError(
        `expected sum of lengths to be equal to values.shape[0], but sum of lengths is ${sum} ` +
          `and value's shape is: ${formatShape(value.shape)}`,
      );
    }
    if (!ta.spec.dynamicSize && ls.length !== ta.size) {
      throw new EdgeflowError(
        `TensorArray ${ta.handle}'s size is not equal to the size of lengths (${ta.size} vs. ` +
          `${ls.length}), and the TensorArray is not marked as dynamically resizeable`,
      );
    }
    splitRows(value, ls).forEach((piece, i) => ta.write(i, piece, true));
    return [flow];
  },
});

export const TensorArraySizeV3 = defineOp<Record<never, never>>({
  name: "TensorArraySizeV3",
  inputs: [HANDLE, FLOW_IN],
  outputs: [{ name: "size", type: "int32" }],
  attrs: {},
  stateful: true,
  hostMemory: ALL_HOST,
  infer: ([h, flow]) => {
    handleInput(h, flow);
    return [{ dtype: "int32", shape: [] }];
  },
  reference: ([h], _, ctx) => [Tensor.fromNumbers("int32", [], [arrayOf(ctx, h).size])],
});

export const TensorArrayCloseV3 = defineOp<Record<never, never>>({
  name: "TensorArrayCloseV3",
  inputs: [HANDLE],
  outputs: [],
  attrs: {},
  stateful: true,
  hostMemory: ALL_HOST,
  infer: ([h]) => {
    handleInput(h);
    return [];
  },
  reference: ([h], _, ctx) => {
    arrayOf(ctx, h).close();
    return [];
  },
});

export const TENSOR_ARRAY_OPS = [
  TensorArrayV3,
  TensorArrayGradV3,
  TensorArrayWriteV3,
  TensorArrayReadV3,
  TensorArrayGatherV3,
  TensorArrayScatterV3,
  TensorArrayConcatV3,
  TensorArraySplitV3,
  TensorArraySizeV3,
  TensorArrayCloseV3,
] as const;
