/**
 * ONNX's NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opset 12+): the class axis is 1,
 * targets pick their class through OneHot (an out-of-range or ignored target picks nothing),
 * optional per-class weights, and reductions none, sum and mean (over the picked weights).
 */
import type { Output } from "../../graph.ts";
import type { OnnxMapper, OnnxNodeContext } from "./onnx_context.ts";

function nll(c: OnnxNodeContext, input: Output, target: Output, weight?: Output): Output {
  const rank = c.rank(input);
  // The class count at run time: inputs computed in the model often have no static shape.
  const classes = c.out("Reshape", [
    c.out("Slice", [c.out("Shape", [input]), c.ints32([1]), c.ints32([1])]),
    c.ints32([]),
  ]);
  const zero = c.scalar(0, input.dtype), one = c.scalar(1, input.dtype);
  const picks = c.out("OneHot", [target, classes, one, zero], { axis: 1 });
  const classAxis = c.scalar(1, "int32");
  const picked = c.out("Sum", [c.out("Mul", [picks, input]), classAxis]);
  const perClass = weight
    ? c.out("Reshape", [weight, c.ints32([1, -1, ...new Array(rank - 2).fill(1)])])
    : undefined;
  let w = c.out("Sum", [perClass ? c.out("Mul", [picks, perClass]) : picks, classAxis]);
  const ignore = c.attr("ignore_index");
  if (ignore) {
    const kept = c.out("NotEqual", [target, c.scalar(c.int("ignore_index", 0), target.dtype)]);
    w = c.out("Mul", [w, c.out("Cast", [kept], { DstT: input.dtype })]);
  }
  const loss = c.out("Neg", [c.out("Mul", [picked, w])]);
  const reduction = c.string("reduction", "mean");
  const all = c.ints32(Array.from({ length: rank - 1 }, (_, i) => i));
  if (reduction === "none") return loss;
  const sum = c.out("Sum", [loss, all]);
  if (reduction === "sum") return sum;
  if (reduction !== "mean") throw c.error(`reduction '${reduction}' is none of none, sum, mean`);
  return c.out("RealDiv", [sum, c.out("Sum", [w, all])]);
}

/** LogSoftmax over axis 1. */
function logSoftmaxClasses(c: OnnxNodeContext, x: Output): Output {
  const rank = c.rank(x);
  if (rank === 2) return c.out("LogSoftmax", [x]);
  const perm = [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1];
  const back = [0, rank - 1, ...Array.from({ length: rank - 2 }, (_, i) => i + 1)];
  const t = c.out("LogSoftmax", [c.out("Transpose", [x, c.ints32(perm)])]);
  return c.out("Transpose", [t, c.ints32(back)]);
}

export const LOSS_MAPPERS: Record<string, OnnxMapper> = {
  NegativeLogLikelihoodLoss: (c) => [nll(c, c.req(0), c.req(1), c.input(2))],
  SoftmaxCrossEntropyLoss: (c) => {
    const logProb = logSoftmaxClasses(c, c.req(0));
    return [nll(c, logProb, c.req(1), c.input(2)), logProb];
  },
};
