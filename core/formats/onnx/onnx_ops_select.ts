/**
 * ONNX ops whose output length depends on the data, onto Edgeflow's: NonZero as Where (ONNX lays
 * the coordinates out [rank, n], TensorFlow [n, rank]), Compress as a GatherV2 of Where's indices,
 * NonMaxSuppression as one NonMaxSuppressionV3 per (batch, class) whose selections are tagged
 * with their batch and class and concatenated in that order, and CumSum as Cumsum. With no score
 * threshold, NonMaxSuppression keeps TensorFlow's candidates, the scores above -Infinity: a box
 * scored -Infinity or NaN is never selected, where onnxruntime may select it.
 */
import type { Output } from "../../graph.ts";
import { Tensor } from "../../tensor.ts";
import type { OnnxMapper, OnnxNodeContext } from "./onnx_context.ts";

/** NonMaxSuppression unrolls one selection per (batch, class): a bound on the nodes it adds. */
const MAX_NMS_SELECTIONS = 4096;

/** Where's [n, 1] coordinates of a 1-D condition as n indices. */
function trueIndices(c: OnnxNodeContext, condition: Output): Output {
  return c.out("Reshape", [c.out("Where", [condition]), c.ints32([-1])]);
}

/** [y1, x1, y2, x2] boxes from ONNX's center_point_box 1 form, [x_center, y_center, w, h]. */
function cornersOfCenters(c: OnnxNodeContext, boxes: Output): Output {
  const part = (k: number) =>
    c.out("GatherV2", [boxes, c.scalar(k, "int32"), c.scalar(-1, "int32")]);
  const half = c.scalar(0.5, "float32");
  const [xc, yc] = [part(0), part(1)];
  const halfW = c.out("Mul", [part(2), half]), halfH = c.out("Mul", [part(3), half]);
  return c.out("Pack", [[
    c.out("Sub", [yc, halfH]),
    c.out("Sub", [xc, halfW]),
    c.out("AddV2", [yc, halfH]),
    c.out("AddV2", [xc, halfW]),
  ]], { axis: -1 });
}

/**
 * ONNX suppresses a box whose IOU with a selected one is over the threshold, TensorFlow's
 * NonMaxSuppression one whose IOU is at least the threshold: the next float32 above t gives
 * ONNX's choice for every IOU (both compute it in float32). t + t·1.5·2^-24 lies between 0.75 and
 * 1.5 units in the last place above t, so it rounds to t's successor for every normal t (for 0,
 * the smallest subnormal). At t = 1 that would leave TensorFlow's [0, 1]: `isOne` says so.
 */
function strictIou(c: OnnxNodeContext, t: Output): { threshold: Output; isOne: Output } {
  const one = c.scalar(1, "float32");
  const next = c.out("Maximum", [
    c.out("AddV2", [t, c.out("Mul", [t, c.scalar(3 * 2 ** -25, "float32")])]),
    c.scalar(2 ** -149, "float32"),
  ]);
  const isOne = c.out("Equal", [t, one]);
  return { threshold: c.out("SelectV2", [isOne, one, next]), isOne };
}

export const SELECT_MAPPERS: Record<string, OnnxMapper> = {
  NonZero: (c) => [c.out("Transpose", [c.out("Where", [c.req(0)]), c.ints32([1, 0])])],
  Compress: (c) => {
    let x = c.req(0);
    const axisAttr = c.attr("axis");
    let axis = c.int("axis", 0);
    if (!axisAttr) x = c.out("Reshape", [x, c.ints32([-1])]);
    else if (axis < 0) axis += c.rank(x);
    const condition = c.req(1);
    if (c.rank(condition) !== 1) {
      throw c.error(`the condition has rank ${c.rank(condition)}, not 1`);
    }
    return [c.out("GatherV2", [x, trueIndices(c, condition), c.scalar(axis, "int32")])];
  },
  CumSum: (c) => [
    c.out("Cumsum", [c.req(0), c.asScalar(c.req(1), "axis")], {
      exclusive: c.int("exclusive", 0) !== 0,
      reverse: c.int("reverse", 0) !== 0,
    }),
  ],
  NonMaxSuppression: (c) => {
    let boxes = c.req(0);
    const scores = c.req(1);
    const b = c.dims(boxes), s = c.dims(scores);
    if (b.length !== 3 || b[2] !== 4 || s.length !== 3 || s[0] !== b[0] || s[2] !== b[1]) {
      throw c.error(
        `boxes [${b}] and scores [${s}] are not [batches, boxes, 4] and [batches, classes, boxes]`,
      );
    }
    const batches = b[0], classes = s[1];
    // Batches of no class still unroll a slice each.
    c.limit(batches * Math.max(classes, 1), MAX_NMS_SELECTIONS, "the (batch, class) selections");
    if (c.int("center_point_box", 0) !== 0) boxes = cornersOfCenters(c, boxes);
    // Absent inputs take ONNX's defaults: no box kept, a threshold of 0, no score threshold.
    const maxOut = c.input(2)
      ? c.out("Cast", [c.asScalar(c.req(2), "max_output_boxes_per_class")], { DstT: "int32" })
      : c.scalar(0, "int32");
    const iou = strictIou(
      c,
      c.input(3) ? c.asScalar(c.req(3), "iou_threshold") : c.scalar(0, "float32"),
    );
    // At a threshold of 1 ONNX suppresses nothing (no IOU is over 1): boxes of zero area, whose
    // IOU TensorFlow takes as 0, keep every box in score order.
    boxes = c.out("SelectV2", [iou.isOne, c.out("ZerosLike", [boxes]), boxes]);
    const minScore = c.input(4)
      ? c.asScalar(c.req(4), "score_threshold")
      : c.scalar(-Infinity, "float32");
    const rows: Output[] = [];
    for (let b = 0; b < batches; b++) {
      const boxesB = c.out("GatherV2", [boxes, c.scalar(b, "int32"), c.scalar(0, "int32")]);
      const scoresB = c.out("GatherV2", [scores, c.scalar(b, "int32"), c.scalar(0, "int32")]);
      for (let k = 0; k < classes; k++) {
        const picked = c.out("NonMaxSuppressionV3", [
          boxesB,
          c.out("GatherV2", [scoresB, c.scalar(k, "int32"), c.scalar(0, "int32")]),
          maxOut,
          iou.threshold,
          minScore,
        ]);
        const column = c.out("ExpandDims", [
          c.out("Cast", [picked], { DstT: "int64" }),
          c.scalar(-1, "int32"),
        ]);
        const tag = (v: number) =>
          c.out("AddV2", [c.out("ZerosLike", [column]), c.scalar(v, "int64")]);
        rows.push(c.out("ConcatV2", [[tag(b), tag(k), column], c.scalar(1, "int32")]));
      }
    }
    if (rows.length === 0) return [c.constant(new Tensor("int64", [0, 3], new BigInt64Array(0)))];
    return [rows.length === 1 ? rows[0] : c.out("ConcatV2", [rows, c.scalar(0, "int32")])];
  },
};
