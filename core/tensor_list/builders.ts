/**
 * Builder functions for the TensorList ops (Python TensorFlow's list_ops) and `TensorArray`, a
 * TensorFlow 1 TensorArray over TensorArrayV3 whose methods return new arrays carrying the new
 * flow (Python's _GraphTensorArray). Element shapes are given as partial shapes (-1 unknown dim,
 * null unknown rank) and become element_shape tensors as Python's list_ops builds them.
 */
import type { DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import { Output } from "../graph.ts";
import { mergeShapes, type PartialShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { apply, type BuildOptions, type TensorLike } from "../ops/build.ts";
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
  TensorListScatterIntoExistingList,
  TensorListScatterV2,
  TensorListSetItem,
  TensorListSplit,
  TensorListStack,
} from "../ops/tensor_list.ts";
import {
  TensorArrayCloseV3,
  TensorArrayConcatV3,
  TensorArrayGatherV3,
  TensorArrayReadV3,
  TensorArrayScatterV3,
  TensorArraySizeV3,
  TensorArraySplitV3,
  TensorArrayV3,
  TensorArrayWriteV3,
} from "../ops/tensor_array.ts";
import { elementShapeTensor } from "./list.ts";
import { range } from "../ops/fill.ts";

/** A partial shape as the int32 element_shape tensor list ops take (-1: unknown rank). */
export function elementShape(shape: PartialShape | TensorLike): TensorLike {
  if (shape === null) return elementShapeTensor(null, "int32");
  if (Array.isArray(shape) && shape.every((d) => typeof d === "number")) {
    return elementShapeTensor(shape as number[], "int32");
  }
  return shape as TensorLike;
}

type Opts = BuildOptions;

export function emptyTensorList(
  shape: PartialShape | TensorLike,
  elementDtype: DType,
  maxNumElements: TensorLike = -1,
  options: Opts = {},
): Output {
  return apply(EmptyTensorList, [elementShape(shape), maxNumElements], {
    ...options,
    element_dtype: elementDtype,
  }).outputs[0];
}

export function tensorListReserve(
  shape: PartialShape | TensorLike,
  numElements: TensorLike,
  elementDtype: DType,
  options: Opts = {},
): Output {
  return apply(TensorListReserve, [elementShape(shape), numElements], {
    ...options,
    element_dtype: elementDtype,
  }).outputs[0];
}

export function tensorListFromTensor(
  tensor: TensorLike,
  shape: PartialShape | TensorLike = null,
  options: Opts = {},
): Output {
  return apply(TensorListFromTensor, [tensor, elementShape(shape)], options).outputs[0];
}

export function tensorListSetItem(
  list: Output,
  index: TensorLike,
  item: TensorLike,
  options: Opts & { resizeIfIndexOutOfBounds?: boolean } = {},
): Output {
  const { resizeIfIndexOutOfBounds, ...rest } = options;
  return apply(TensorListSetItem, [list, index, item], {
    ...rest,
    ...(resizeIfIndexOutOfBounds ? { resize_if_index_out_of_bounds: true } : {}),
  }).outputs[0];
}

export function tensorListGetItem(
  list: Output,
  index: TensorLike,
  elementDtype: DType,
  options: Opts & { elementShape?: PartialShape | TensorLike } = {},
): Output {
  const { elementShape: s = null, ...rest } = options;
  return apply(TensorListGetItem, [list, index, elementShape(s)], {
    ...rest,
    element_dtype: elementDtype,
  }).outputs[0];
}

export function tensorListStack(
  list: Output,
  elementDtype: DType,
  options: Opts & { elementShape?: PartialShape | TensorLike; numElements?: number } = {},
): Output {
  const { elementShape: s = null, numElements = -1, ...rest } = options;
  return apply(TensorListStack, [list, elementShape(s)], {
    ...rest,
    element_dtype: elementDtype,
    num_elements: numElements,
  }).outputs[0];
}

export function tensorListGather(
  list: Output,
  indices: TensorLike,
  elementDtype: DType,
  options: Opts & { elementShape?: PartialShape | TensorLike } = {},
): Output {
  const { elementShape: s = null, ...rest } = options;
  return apply(TensorListGather, [list, indices, elementShape(s)], {
    ...rest,
    element_dtype: elementDtype,
  }).outputs[0];
}

export function tensorListScatter(
  tensor: TensorLike,
  indices: TensorLike,
  options: Opts & { elementShape?: PartialShape | TensorLike; numElements?: TensorLike } = {},
): Output {
  const { elementShape: s = null, numElements = -1, ...rest } = options;
  return apply(TensorListScatterV2, [tensor, indices, elementShape(s), numElements], rest)
    .outputs[0];
}

export function tensorListScatterIntoExistingList(
  list: Output,
  tensor: TensorLike,
  indices: TensorLike,
  options: Opts = {},
): Output {
  return apply(TensorListScatterIntoExistingList, [list, tensor, indices], options).outputs[0];
}

export function tensorListConcat(
  list: Output,
  elementDtype: DType,
  options: Opts & { elementShape?: PartialShape | TensorLike; leadingDims?: TensorLike } = {},
): [Output, Output] {
  const {
    elementShape: s = null,
    leadingDims = new Tensor("int64", [0], new BigInt64Array(0)),
    ...rest
  } = options;
  const n = apply(TensorListConcatV2, [list, elementShape(s), leadingDims], {
    ...rest,
    element_dtype: elementDtype,
  });
  return [n.outputs[0], n.outputs[1]];
}

/** Rows of `tensor` cut into elements of `lengths` rows each (int64 lengths, as TensorFlow's). */
export function tensorListSplit(
  tensor: TensorLike,
  shape: PartialShape | TensorLike,
  lengths: TensorLike,
  options: Opts = {},
): Output {
  return apply(TensorListSplit, [tensor, elementShape(shape), lengths], options).outputs[0];
}

export function tensorListLength(list: Output, options: Opts = {}): Output {
  return apply(TensorListLength, [list], options).outputs[0];
}

export function tensorListElementShape(list: Output, options: Opts = {}): Output {
  return apply(TensorListElementShape, [list], options).outputs[0];
}

export function tensorListPushBack(list: Output, tensor: TensorLike, options: Opts = {}): Output {
  return apply(TensorListPushBack, [list, tensor], options).outputs[0];
}

export function tensorListPopBack(
  list: Output,
  elementDtype: DType,
  options: Opts & { elementShape?: PartialShape | TensorLike } = {},
): [Output, Output] {
  const { elementShape: s = null, ...rest } = options;
  const n = apply(TensorListPopBack, [list, elementShape(s)], {
    ...rest,
    element_dtype: elementDtype,
  });
  return [n.outputs[0], n.outputs[1]];
}

/**
 * TensorFlow 1's TensorArray in a graph: each write returns a new TensorArray whose `flow` orders
 * later reads after it, as Python's `ta = ta.write(i, x)`. Inside `whileLoop`, pass `ta.flow` as a
 * loop variable and rebuild with `ta.withFlow(flow)` in the body (TensorFlow's while_loop does
 * the same with the TensorArray's flow).
 */
export class TensorArray {
  private constructor(
    readonly handle: Output,
    readonly flow: Output,
    readonly dtype: DType,
    /**
     * The element shape as the graph knows it, shared by every TensorArray of this handle and
     * narrowed by each write when `inferShape` (Python's infer_shape): reads and stacks get it.
     */
    private readonly known: { shape: PartialShape; readonly inferShape: boolean },
  ) {}

  get elementShape(): PartialShape {
    return this.known.shape;
  }

  /** Narrows the known element shape by a written value's (Python's _merge_element_shape). */
  private learn(shape: PartialShape): void {
    if (!this.known.inferShape || shape === null) return;
    this.known.shape = mergeShapes(this.known.shape, shape, "TensorArray element shapes");
  }

  static create(
    dtype: DType,
    size: TensorLike,
    options: Opts & {
      dynamicSize?: boolean;
      clearAfterRead?: boolean;
      elementShape?: PartialShape;
      tensorArrayName?: string;
      /** Python's infer_shape (TensorFlow's identical_element_shapes): every element one shape. */
      inferShape?: boolean;
    } = {},
  ): TensorArray {
    const {
      dynamicSize = false,
      clearAfterRead = true,
      elementShape: es = null,
      tensorArrayName = "",
      inferShape = true,
      ...rest
    } = options;
    const n = apply(TensorArrayV3, [size], {
      ...rest,
      dtype,
      element_shape: es,
      dynamic_size: dynamicSize,
      clear_after_read: clearAfterRead,
      tensor_array_name: tensorArrayName,
      identical_element_shapes: inferShape,
    });
    return new TensorArray(n.outputs[0], n.outputs[1], dtype, { shape: es, inferShape });
  }

  /** The same array ordered after `flow` (a loop variable carried through a while body). */
  withFlow(flow: Output): TensorArray {
    return new TensorArray(this.handle, flow, this.dtype, this.known);
  }

  /** A literal value takes the array's dtype; an Output keeps its own (the kernel checks it). */
  private typed(value: TensorLike): { T?: DType } {
    return value instanceof Output ? {} : { T: this.dtype };
  }

  write(index: TensorLike, value: TensorLike, options: Opts = {}): TensorArray {
    const f = apply(TensorArrayWriteV3, [this.handle, index, value, this.flow], {
      ...options,
      ...this.typed(value),
    });
    this.learn(f.inputs[2].shape);
    return this.withFlow(f.outputs[0]);
  }

  read(index: TensorLike, options: Opts = {}): Output {
    const n = apply(TensorArrayReadV3, [this.handle, index, this.flow], {
      ...options,
      dtype: this.dtype,
    });
    if (this.elementShape !== null) {
      n.graph.setOutputSpecs(n, [{ dtype: this.dtype, shape: this.elementShape }]);
    }
    return n.outputs[0];
  }

  gather(indices: TensorLike, options: Opts = {}): Output {
    return apply(TensorArrayGatherV3, [this.handle, indices, this.flow], {
      ...options,
      dtype: this.dtype,
      element_shape: this.elementShape,
    }).outputs[0];
  }

  /** Every element stacked (Python's `stack`: a gather of range(size)). */
  stack(options: Opts = {}): Output {
    return this.gather(range(0, this.size(), 1, { graph: this.handle.graph }), options);
  }

  scatter(indices: TensorLike, value: TensorLike, options: Opts = {}): TensorArray {
    const f = apply(TensorArrayScatterV3, [this.handle, indices, value, this.flow], {
      ...options,
      ...this.typed(value),
    });
    const vs = f.inputs[2].shape;
    if (vs !== null && vs.length > 0) this.learn(vs.slice(1));
    return this.withFlow(f.outputs[0]);
  }

  /** Rows of `value` as elements 0..n-1 (Python's `unstack`: a scatter of range(rows)). */
  unstack(value: Output, options: Opts = {}): TensorArray {
    const rows = value.shape?.[0];
    if (rows === undefined || rows < 0) {
      throw new EdgeflowError(
        "unstack needs a value whose first dim is known when the graph is built",
        { op: "TensorArrayScatterV3" },
      );
    }
    return this.scatter(Array.from({ length: rows }, (_, i) => i), value, options);
  }

  concat(options: Opts = {}): [Output, Output] {
    const n = apply(TensorArrayConcatV3, [this.handle, this.flow], {
      ...options,
      dtype: this.dtype,
      element_shape_except0: this.elementShape === null ? null : this.elementShape.slice(1),
    });
    return [n.outputs[0], n.outputs[1]];
  }

  split(value: TensorLike, lengths: TensorLike, options: Opts = {}): TensorArray {
    const f = apply(TensorArraySplitV3, [this.handle, value, lengths, this.flow], {
      ...options,
      ...this.typed(value),
    });
    const vs = f.inputs[1].shape;
    if (vs !== null && vs.length > 0) this.learn([-1, ...vs.slice(1)]);
    return this.withFlow(f.outputs[0]);
  }

  size(options: Opts = {}): Output {
    return apply(TensorArraySizeV3, [this.handle, this.flow], options).outputs[0];
  }

  close(options: Opts = {}) {
    return apply(TensorArrayCloseV3, [this.handle], options);
  }
}
