/**
 * Gradient functions of the elementwise ops, after TensorFlow's math_grad.py and nn_grad.py.
 * Function declarations (not consts), so op files can name them while the modules load in a cycle.
 */
import type { Node, Output } from "../graph.ts";
import type { GradientContext } from "../op.ts";
import { isFloat } from "../dtype.ts";
import {
  add,
  div,
  floorDiv,
  greater,
  greaterEqual,
  lessEqual,
  mul,
  pow,
  sub,
} from "../ops/binary.ts";
import { cast } from "../ops/cast.ts";
import { zerosLike } from "../ops/fill.ts";
import {
  eluGrad,
  leakyReluGrad,
  reciprocalGrad,
  relu6Grad,
  reluGrad,
  rsqrtGrad,
  seluGrad,
  sigmoidGrad,
  softplusGrad,
  sqrtGrad,
  tanhGrad,
} from "../ops/grad_math.ts";
import { where } from "../ops/select.ts";
import { cos, exp, log, neg, reciprocal, sign, sin, square } from "../ops/unary.ts";
import { unbroadcastPair } from "./util.ts";

type Dys = readonly (Output | null)[];
type Grads = (Output | null)[];

/** The op has no gradient (TensorFlow's NotDifferentiable): nothing flows to any input. */
export function notDifferentiable(_: GradientContext, node: Node): Grads {
  return node.inputs.map(() => null);
}

// ---- unary ------------------------------------------------------------------------------

export function negGrad(_: GradientContext, __: Node, [dy]: Dys): Grads {
  return [neg(dy!)];
}
export function absGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return [mul(dy!, sign(node.inputs[0]))];
}
export function signGrad(_: GradientContext, node: Node): Grads {
  return [zerosLike(node.inputs[0])];
}
export function expGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return [mul(dy!, node.outputs[0])];
}
export function logGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return [mul(dy!, reciprocal(node.inputs[0]))];
}
export function log1pGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return [mul(dy!, reciprocal(add(node.inputs[0], 1)))];
}
export function sqrtGradFn(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return [sqrtGrad(node.outputs[0], dy!)];
}
export function rsqrtGradFn(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return [rsqrtGrad(node.outputs[0], dy!)];
}
export function squareGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return [mul(dy!, mul(node.inputs[0], 2))];
}
export function reciprocalGradFn(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return [reciprocalGrad(node.outputs[0], dy!)];
}
export function tanhGradFn(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return [tanhGrad(node.outputs[0], dy!)];
}
export function sigmoidGradFn(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return [sigmoidGrad(node.outputs[0], dy!)];
}
/** From Relu's output, as TensorFlow (the output is positive exactly where the input is). */
export function reluGradFn(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return [reluGrad(dy!, node.outputs[0])];
}
export function relu6GradFn(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return [relu6Grad(dy!, node.inputs[0])];
}
export function eluGradFn(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return [eluGrad(dy!, node.outputs[0])];
}
export function seluGradFn(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return [seluGrad(dy!, node.outputs[0])];
}
export function softplusGradFn(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return [softplusGrad(dy!, node.inputs[0])];
}
export function leakyReluGradFn(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return [leakyReluGrad(dy!, node.inputs[0], { alpha: node.attrs.alpha })];
}
/** d erf(x) = 2/√π · exp(-x²). */
export function erfGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const x = node.inputs[0];
  return [mul(mul(dy!, 2 / Math.sqrt(Math.PI)), exp(neg(square(x))))];
}
export function sinGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return [mul(dy!, cos(node.inputs[0]))];
}
export function cosGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return [neg(mul(dy!, sin(node.inputs[0])))];
}

// ---- binary (with broadcasting undone) ----------------------------------------------------

function pair(node: Node, gx: Output, gy: Output): Grads {
  return unbroadcastPair(gx, gy, node.inputs[0], node.inputs[1]);
}

export function addGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return pair(node, dy!, dy!);
}
export function subGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return pair(node, dy!, neg(dy!));
}
export function mulGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const [x, y] = node.inputs;
  return pair(node, mul(dy!, y), mul(x, dy!));
}
export function realDivGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const [x, y] = node.inputs;
  return pair(node, div(dy!, y), mul(dy!, div(div(neg(x), y), y)));
}
/** d(x mod y) = dx - floor(x / y) dy (TensorFlow's _FloorModGrad). */
export function floorModGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const [x, y] = node.inputs;
  return pair(node, dy!, mul(dy!, neg(floorDiv(x, y))));
}
/** The gradient goes to x where the selector holds (ties: x for Maximum and Minimum), else y. */
function selectGrad(node: Node, dy: Output, selector: typeof greaterEqual): Grads {
  const [x, y] = node.inputs;
  const xmask = selector(x, y);
  const zeros = zerosLike(dy);
  return pair(node, where(xmask, dy, zeros), where(xmask, zeros, dy));
}
export function maximumGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return selectGrad(node, dy!, greaterEqual);
}
export function minimumGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return selectGrad(node, dy!, lessEqual);
}
/** dx = dy · y · x^(y-1); dy = dy · x^y · log x where x > 0, else 0 (TensorFlow's _PowGrad). */
export function powGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const [x, y] = node.inputs;
  const z = node.outputs[0];
  const gx = mul(mul(dy!, y), pow(x, sub(y, 1)));
  const positive = greater(x, 0);
  const logX = where(positive, log(where(positive, x, 1)), zerosLike(x));
  return pair(node, gx, mul(mul(dy!, z), logX));
}
export function squaredDifferenceGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const [x, y] = node.inputs;
  const g = mul(mul(dy!, 2), sub(x, y));
  return pair(node, g, neg(g));
}

// ---- identity-like and casts ----------------------------------------------------------------

export function identityGrad(_: GradientContext, __: Node, [dy]: Dys): Grads {
  return [dy];
}
/** Between float types the gradient is cast back; from or to integers nothing flows. */
export function castGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const src = node.attrs.SrcT, dst = node.attrs.DstT;
  return [isFloat(src) && isFloat(dst) ? cast(dy!, src) : null];
}
