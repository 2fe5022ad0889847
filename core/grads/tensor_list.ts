/**
 * Gradient functions of the TensorList ops (TensorFlow's list_grad.py) and the TensorArrayV3 ops
 * (tensor_array_grad.py). A list's gradient is a list (variant edges carry gradients, as
 * TensorFlow's _IsBackpropagatable says): Stack's is FromTensor of the incoming gradient, GetItem's
 * a reserved list with the gradient set at the index, and so on. A TensorArray's gradient lives in
 * a gradient array (TensorArrayGradV3, one per forward array and gradient source, whose writes to
 * one index add up): a read's gradient is a write there, a write's gradient a read from it, and
 * the flows order them as they order the forward ops.
 */
import type { Node, Output } from "../graph.ts";
import type { GradientContext } from "../op.ts";
import { apply } from "../ops/build.ts";
import { zerosLike } from "../ops/fill.ts";
import { shape as shapeOp } from "../ops/shape_ops.ts";
import { slice } from "../ops/slice.ts";
import {
  EmptyTensorList,
  TensorListConcatV2,
  TensorListElementShape,
  TensorListFromTensor,
  TensorListGather,
  TensorListGetItem,
  TensorListLength,
  TensorListPopBack,
  TensorListPushBack,
  TensorListReserve,
  TensorListResize,
  TensorListScatterIntoExistingList,
  TensorListSetItem,
  TensorListSplit,
  TensorListStack,
} from "../ops/tensor_list.ts";
import {
  TensorArrayConcatV3,
  TensorArrayGatherV3,
  TensorArrayGradV3,
  TensorArrayReadV3,
  TensorArrayScatterV3,
  TensorArraySplitV3,
  TensorArrayWriteV3,
} from "../ops/tensor_array.ts";
import { EdgeflowError } from "../errors.ts";
import type { DType } from "../dtype.ts";
import { addN } from "../ops/grad_math.ts";
import { elementShapeTensor } from "../tensor_list/list.ts";

type G = GradientContext;
type D = readonly (Output | null)[];

/** Every dim after the first of `x`'s shape, as an int32 vector (an element's shape). */
function elementShapeOf(x: Output): Output {
  return slice(shapeOp(x), [1], [-1]);
}

function dtypeOf(node: Node): DType {
  return node.attrs.element_dtype as DType;
}

/** An empty gradient list like `list` (a list output that got no gradient). */
function emptyLike(list: Output, dtype: DType): Output {
  const es = apply(TensorListElementShape, [list], { shape_type: "int32" }).outputs[0];
  return apply(EmptyTensorList, [es, -1], { element_dtype: dtype }).outputs[0];
}

export function tensorListStackGrad(_: G, _node: Node, [dy]: D): (Output | null)[] {
  return [apply(TensorListFromTensor, [dy!, elementShapeOf(dy!)], {}).outputs[0], null];
}

export function tensorListFromTensorGrad(_: G, node: Node, [dlist]: D): (Output | null)[] {
  const [t] = node.inputs;
  if (!dlist) return [zerosLike(t), null];
  const n = t.shape?.[0] ?? -1;
  const stacked = apply(TensorListStack, [dlist, elementShapeOf(t)], {
    element_dtype: dtypeOf(node),
    num_elements: n >= 0 ? n : -1,
  });
  return [stacked.outputs[0], null];
}

export function tensorListGetItemGrad(_: G, node: Node, [ditem]: D): (Output | null)[] {
  const [list, index] = node.inputs;
  const dtype = dtypeOf(node);
  const es = apply(TensorListElementShape, [list], { shape_type: "int32" }).outputs[0];
  const n = apply(TensorListLength, [list], {}).outputs[0];
  const reserved = apply(TensorListReserve, [es, n], { element_dtype: dtype }).outputs[0];
  const dlist = apply(TensorListSetItem, [reserved, index, ditem!], {}).outputs[0];
  return [dlist, null, null];
}

export function tensorListSetItemGrad(_: G, node: Node, [dlist]: D): (Output | null)[] {
  const [list, index, item] = node.inputs;
  if (node.attrs.resize_if_index_out_of_bounds) {
    throw new EdgeflowError(
      "the gradient of TensorListSetItem with resize_if_index_out_of_bounds is not defined " +
        "(TensorFlow's is not either)",
    );
  }
  const d = dlist ?? emptyLike(list, dtypeOf(node));
  const dlistIn = apply(TensorListSetItem, [d, index, zerosLike(item)], {}).outputs[0];
  const ditem = apply(TensorListGetItem, [d, index, shapeOp(item)], {
    element_dtype: dtypeOf(node),
  }).outputs[0];
  return [dlistIn, null, ditem];
}

export function tensorListPushBackGrad(_: G, node: Node, [dlist]: D): (Output | null)[] {
  const [list, t] = node.inputs;
  const d = dlist ?? emptyLike(list, dtypeOf(node));
  const popped = apply(TensorListPopBack, [d, shapeOp(t)], { element_dtype: dtypeOf(node) });
  return [popped.outputs[0], popped.outputs[1]];
}

export function tensorListPopBackGrad(_: G, node: Node, [dlist, dt]: D): (Output | null)[] {
  const d = dlist ?? emptyLike(node.outputs[0], dtypeOf(node));
  const item = dt ?? zerosLike(node.outputs[1]);
  return [apply(TensorListPushBack, [d, item], {}).outputs[0], null];
}

export function tensorListGatherGrad(_: G, node: Node, [dvalues]: D): (Output | null)[] {
  const [list, indices] = node.inputs;
  const es = apply(TensorListElementShape, [list], { shape_type: "int32" }).outputs[0];
  const n = apply(TensorListLength, [list], {}).outputs[0];
  const reserved = apply(TensorListReserve, [es, n], { element_dtype: dtypeOf(node) }).outputs[0];
  const dlist = apply(TensorListScatterIntoExistingList, [reserved, dvalues!, indices], {})
    .outputs[0];
  return [dlist, null, null];
}

export function tensorListScatterV2Grad(_: G, node: Node, [dlist]: D): (Output | null)[] {
  const [t, indices] = node.inputs;
  if (!dlist) return [zerosLike(t), null, null, null];
  const dt = apply(TensorListGather, [dlist, indices, elementShapeOf(t)], {
    element_dtype: dtypeOf(node),
  }).outputs[0];
  return [dt, null, null, null];
}

export function tensorListScatterIntoExistingListGrad(
  _: G,
  node: Node,
  [dlist]: D,
): (Output | null)[] {
  const [list, t, indices] = node.inputs;
  const d = dlist ?? emptyLike(list, dtypeOf(node));
  const dt = apply(TensorListGather, [d, indices, elementShapeOf(t)], {
    element_dtype: dtypeOf(node),
  }).outputs[0];
  const dlistIn = apply(TensorListScatterIntoExistingList, [d, zerosLike(t), indices], {})
    .outputs[0];
  return [dlistIn, dt, null];
}

export function tensorListConcatGrad(_: G, node: Node, [dt]: D): (Output | null)[] {
  const [list] = node.inputs;
  const lengths = node.outputs[1];
  const es = apply(TensorListElementShape, [list], { shape_type: "int32" }).outputs[0];
  const dlist = apply(TensorListSplit, [dt!, es, lengths], { element_dtype: dtypeOf(node) })
    .outputs[0];
  return [dlist, null, null];
}

export function tensorListSplitGrad(_: G, node: Node, [dlist]: D): (Output | null)[] {
  const [t, , lengths] = node.inputs;
  if (!dlist) return [zerosLike(t), null, null];
  const es = apply(TensorListElementShape, [node.outputs[0]], { shape_type: "int32" }).outputs[0];
  const [dt] = apply(TensorListConcatV2, [dlist, es, lengths], {
    element_dtype: dtypeOf(node),
  }).outputs;
  return [dt, null, null];
}

export function tensorListResizeGrad(_: G, node: Node, [dlist]: D): (Output | null)[] {
  const [list] = node.inputs;
  if (!dlist) return [null, null];
  const n = apply(TensorListLength, [list], {}).outputs[0];
  return [apply(TensorListResize, [dlist, n], {}).outputs[0], null];
}

// ---- TensorArrayV3 -----------------------------------------------------------------------

/**
 * The gradient source: the outermost name scope the gradient ops are built in ("gradients",
 * "gradients_1"), as TensorFlow's _GetGradSource, so each gradients() call has its own arrays.
 */
function gradSource(g: G): string {
  return g.graph.scopeName.split("/")[0] || "gradients";
}

/** The gradient array of the forward array behind `handle`, ordered after `flow`. */
function gradArray(g: G, handle: Output, flow: Output): [Output, Output] {
  const n = apply(TensorArrayGradV3, [handle, flow], { source: gradSource(g) });
  return [n.outputs[0], n.outputs[1]];
}

export function tensorArrayReadGrad(g: G, node: Node, [dvalue]: D): (Output | null)[] {
  const [handle, index, flow] = node.inputs;
  const [gh, gflow] = gradArray(g, handle, flow);
  const w = apply(TensorArrayWriteV3, [gh, index, dvalue!, gflow], {});
  return [null, null, w.outputs[0]];
}

export function tensorArrayWriteGrad(g: G, node: Node, [dflow]: D): (Output | null)[] {
  const [handle, index] = node.inputs;
  const [gh, gflow] = gradArray(g, handle, dflow!);
  const value = apply(TensorArrayReadV3, [gh, index, gflow], { dtype: node.attrs.T });
  return [null, null, value.outputs[0], dflow];
}

export function tensorArrayGatherGrad(g: G, node: Node, [dvalue]: D): (Output | null)[] {
  const [handle, indices, flow] = node.inputs;
  const [gh, gflow] = gradArray(g, handle, flow);
  const s = apply(TensorArrayScatterV3, [gh, indices, dvalue!, gflow], {});
  return [null, null, s.outputs[0]];
}

export function tensorArrayScatterGrad(g: G, node: Node, [dflow]: D): (Output | null)[] {
  const [handle, indices] = node.inputs;
  const [gh, gflow] = gradArray(g, handle, dflow!);
  const value = apply(TensorArrayGatherV3, [gh, indices, gflow], { dtype: node.attrs.T });
  return [null, null, value.outputs[0], dflow];
}

export function tensorArrayConcatGrad(g: G, node: Node, [dvalue]: D): (Output | null)[] {
  const [handle, flow] = node.inputs;
  const [gh, gflow] = gradArray(g, handle, flow);
  const s = apply(TensorArraySplitV3, [gh, dvalue!, node.outputs[1], gflow], {});
  return [null, s.outputs[0]];
}

export function tensorArraySplitGrad(g: G, node: Node, [dflow]: D): (Output | null)[] {
  const [handle] = node.inputs;
  const [gh, gflow] = gradArray(g, handle, dflow!);
  const value = apply(TensorArrayConcatV3, [gh, gflow], { dtype: node.attrs.T });
  return [null, value.outputs[0], null, dflow];
}

/**
 * The sum of several gradient lists of one list (a list read by several ops on the path):
 * TensorFlow adds lists elementwise (AddN over variants). Here each is stacked (unset elements are
 * zeros, which is what they stand for in a gradient), the stacks added, and the sum made a list
 * again; a gradient list whose element shape nothing pins down cannot be stacked and is refused
 * by TensorListStack's error.
 */
export function addListGradients(parts: readonly Output[]): Output {
  const dtype = parts.map((p) => p.node.outputSpecs[p.index].handle?.dtype).find((d) => d);
  if (!dtype) {
    throw new EdgeflowError(
      `cannot add the gradient lists of ${parts.map((p) => p.name).join(", ")}: their element ` +
        "dtype is not known when the graph is built",
    );
  }
  const stacks = parts.map((p) =>
    apply(TensorListStack, [p, elementShapeTensor(null, "int32")], { element_dtype: dtype })
      .outputs[0]
  );
  const total = addN(stacks);
  return apply(TensorListFromTensor, [total, elementShapeOf(total)], {}).outputs[0];
}
