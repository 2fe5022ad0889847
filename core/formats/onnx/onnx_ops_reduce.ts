/**
 * ONNX reductions and ArgMax/ArgMin. The axes come as an attribute before opset 13 (ReduceSum) or
 * 18 (the others) and as an input after; no axes reduce every dim unless noop_with_empty_axes.
 */
import type { Output } from "../../graph.ts";
import type { OnnxMapper, OnnxNodeContext } from "./onnx_context.ts";

/** The axes to reduce over, or "none" for noop_with_empty_axes with no axes. */
function reduceAxes(c: OnnxNodeContext, x: Output, inputFrom: number): number[] | "none" {
  let axes: number[] | undefined;
  if (c.opset >= inputFrom) {
    axes = c.input(1) ? c.constInts(1, "axes") : undefined;
  } else axes = c.ints("axes");
  if (axes === undefined || axes.length === 0) {
    if (c.int("noop_with_empty_axes", 0) !== 0) return "none";
    return Array.from({ length: c.rank(x) }, (_, i) => i);
  }
  return axes;
}

/** reduce(pre(x)) over the node's axes, then post. */
function reduction(
  op: string,
  pre?: (c: OnnxNodeContext, x: Output) => Output,
  post?: (c: OnnxNodeContext, y: Output) => Output,
  inputFrom = 18,
): OnnxMapper {
  return (c) => {
    const x = c.req(0);
    const axes = reduceAxes(c, x, inputFrom);
    const v = pre ? pre(c, x) : x;
    if (axes === "none") return [post ? post(c, v) : c.out("Identity", [v])];
    const y = c.out(op, [v, c.ints32(axes)], { keep_dims: c.int("keepdims", 1) !== 0 });
    return [post ? post(c, y) : y];
  };
}

function argReduction(op: string): OnnxMapper {
  return (c) => {
    const x = c.req(0);
    const rank = c.rank(x);
    const axis = c.int("axis", 0), keep = c.int("keepdims", 1) !== 0;
    const a = axis < 0 ? axis + rank : axis;
    let y: Output;
    if (c.int("select_last_index", 0) !== 0) {
      // The last extreme: the first one of the reversed axis, counted back from the end.
      const dim = c.dims(x)[a];
      const begin = new Array(rank).fill(0), end = new Array(rank).fill(0);
      const strides = new Array(rank).fill(1);
      strides[a] = -1;
      const mask = ((1 << rank) - 1) & ~0;
      const rev = c.out("StridedSlice", [x, c.ints32(begin), c.ints32(end), c.ints32(strides)], {
        begin_mask: mask,
        end_mask: mask,
      });
      const i = c.out(op, [rev, c.scalar(a, "int32")], { output_type: "int64" });
      y = c.out("Sub", [c.scalar(dim - 1, "int64"), i]);
    } else y = c.out(op, [x, c.scalar(a, "int32")], { output_type: "int64" });
    return [keep ? c.out("ExpandDims", [y, c.scalar(a, "int32")]) : y];
  };
}

export const REDUCE_MAPPERS: Record<string, OnnxMapper> = {
  ReduceSum: reduction("Sum", undefined, undefined, 13),
  ReduceMean: reduction("Mean"),
  ReduceMax: reduction("Max"),
  ReduceMin: reduction("Min"),
  ReduceProd: reduction("Prod"),
  ReduceSumSquare: reduction("Sum", (c, x) => c.out("Square", [x])),
  ReduceL1: reduction("Sum", (c, x) => c.out("Abs", [x])),
  ReduceL2: reduction("Sum", (c, x) => c.out("Square", [x]), (c, y) => c.out("Sqrt", [y])),
  ReduceLogSum: reduction("Sum", undefined, (c, y) => c.out("Log", [y])),
  ReduceLogSumExp: reduction(
    "Sum",
    (c, x) => c.out("Exp", [x]),
    (c, y) => c.out("Log", [y]),
  ),
  ArgMax: argReduction("ArgMax"),
  ArgMin: argReduction("ArgMin"),
};
