/**
 * Gradient functions of the nn ops, after TensorFlow's nn_grad.py and math_grad.py: MatMul,
 * BatchMatMulV2, BiasAdd, Softmax, LogSoftmax, the cross entropies, Conv2D, DepthwiseConv2dNative,
 * MaxPool and AvgPool.
 */
import type { Node, Output } from "../graph.ts";
import type { GradientContext } from "../op.ts";
import { isFullyDefined, shapesEqual } from "../shape.ts";
import { zerosLike } from "../ops/fill.ts";
import { add, mul, sub } from "../ops/binary.ts";
import { conv2dBackpropFilter, conv2dBackpropInput } from "../ops/grad_conv.ts";
import { depthwiseConv2dBackpropFilter, depthwiseConv2dBackpropInput } from "../ops/grad_conv.ts";
import { avgPoolGrad, biasAddGrad, maxPoolGrad } from "../ops/grad_nn.ts";
import { fusedBatchNormGrad } from "../ops/grad_batch_norm.ts";
import { batchMatMul, matMul } from "../ops/matmul.ts";
import { logSoftmax, softmax } from "../ops/nn.ts";
import { sum } from "../ops/reduce.ts";
import { expandDims } from "../ops/shape_ops.ts";
import { exp, neg } from "../ops/unary.ts";
import { int32Const, isZeros, shapeOf, unbroadcastTo } from "./util.ts";

type Dys = readonly (Output | null)[];
type Grads = (Output | null)[];

export function matMulGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const [a, b] = node.inputs;
  const ta = node.attrs.transpose_a as boolean, tb = node.attrs.transpose_b as boolean;
  const g = dy!;
  if (!ta && !tb) {
    return [matMul(g, b, { transpose_b: true }), matMul(a, g, { transpose_a: true })];
  }
  if (!ta && tb) return [matMul(g, b), matMul(g, a, { transpose_a: true })];
  if (ta && !tb) return [matMul(b, g, { transpose_b: true }), matMul(a, g)];
  return [
    matMul(b, g, { transpose_a: true, transpose_b: true }),
    matMul(g, a, { transpose_a: true, transpose_b: true }),
  ];
}

/** As MatMul's, then summed over the batch dims each operand was broadcast along. */
export function batchMatMulGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const [x, y] = node.inputs;
  const ax = node.attrs.adj_x as boolean, ay = node.attrs.adj_y as boolean;
  const g = dy!;
  let gx: Output, gy: Output;
  if (!ax && !ay) {
    gx = batchMatMul(g, y, { adj_y: true }), gy = batchMatMul(x, g, { adj_x: true });
  } else if (!ax && ay) {
    gx = batchMatMul(g, y), gy = batchMatMul(g, x, { adj_x: true });
  } else if (ax && !ay) {
    gx = batchMatMul(y, g, { adj_y: true }), gy = batchMatMul(x, g);
  } else {
    gx = batchMatMul(y, g, { adj_x: true, adj_y: true });
    gy = batchMatMul(g, x, { adj_x: true, adj_y: true });
  }
  return [unbroadcastTo(gx, x), unbroadcastTo(gy, y)];
}

export function biasAddGradFn(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return [dy, biasAddGrad(dy!, { data_format: node.attrs.data_format })];
}

const lastAxis = (like: Output) => int32Const(like, [-1]);

/** (dy - Σ dy·softmax) · softmax over the last axis. */
function softmaxBackward(dy: Output, sm: Output): Output {
  return mul(sub(dy, sum(mul(dy, sm), lastAxis(dy), { keep_dims: true })), sm);
}

export function softmaxGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  return [softmaxBackward(dy!, node.outputs[0])];
}
export function logSoftmaxGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const g = dy!;
  return [sub(g, mul(sum(g, lastAxis(g), { keep_dims: true }), exp(node.outputs[0])))];
}

/**
 * The logits as the op saw them: features broadcast to [batch, classes] (the backprop output's
 * shape), so softmax and log-softmax run over the real rows.
 */
function broadcastFeatures(node: Node): Output {
  const [features] = node.inputs, backprop = node.outputs[1];
  const same = isFullyDefined(features.shape) && isFullyDefined(backprop.shape) &&
    shapesEqual(features.shape, backprop.shape);
  return same ? features : add(features, zerosLike(backprop));
}

/**
 * The features' gradient is dloss · backprop (the op's second output), plus, when the backprop
 * output itself received a gradient, that gradient through softmax (TensorFlow's
 * _SoftmaxCrossEntropyWithLogitsGrad). Returns the gradient of the broadcast [batch, classes].
 */
function crossEntropyFeaturesGrad(node: Node, dLoss: Output, dBackprop: Output | null): Output {
  let grad = mul(expandDims(dLoss, -1), node.outputs[1]);
  if (!isZeros(dBackprop)) {
    grad = add(grad, softmaxBackward(dBackprop!, softmax(broadcastFeatures(node))));
  }
  return grad;
}

export function softmaxCrossEntropyGrad(
  _: GradientContext,
  node: Node,
  [dLoss, dBackprop]: Dys,
): Grads {
  const [features, labels] = node.inputs;
  const gf = crossEntropyFeaturesGrad(node, dLoss!, dBackprop);
  let gl = mul(expandDims(dLoss!, -1), neg(logSoftmax(broadcastFeatures(node))));
  // backprop = softmax - labels also depends on the labels; TensorFlow's gradient leaves this
  // term out, which is wrong only when the backprop output is itself differentiated.
  if (!isZeros(dBackprop)) gl = sub(gl, dBackprop!);
  return [unbroadcastTo(gf, features), unbroadcastTo(gl, labels)];
}
export function sparseSoftmaxCrossEntropyGrad(
  _: GradientContext,
  node: Node,
  [dLoss, dBackprop]: Dys,
): Grads {
  return [crossEntropyFeaturesGrad(node, dLoss!, dBackprop), null];
}

function convAttrs(node: Node) {
  const { strides, padding, explicit_paddings, data_format, dilations } = node.attrs;
  return { strides, padding, explicit_paddings, data_format, dilations };
}

export function conv2dGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const [x, f] = node.inputs;
  const attrs = { ...convAttrs(node), use_cudnn_on_gpu: node.attrs.use_cudnn_on_gpu };
  return [
    conv2dBackpropInput(shapeOf(x), f, dy!, attrs),
    conv2dBackpropFilter(x, shapeOf(f), dy!, attrs),
  ];
}
export function depthwiseConv2dGrad(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const [x, f] = node.inputs;
  const attrs = convAttrs(node);
  return [
    depthwiseConv2dBackpropInput(shapeOf(x), f, dy!, attrs),
    depthwiseConv2dBackpropFilter(x, shapeOf(f), dy!, attrs),
  ];
}

export function maxPoolGradFn(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const { ksize, strides, padding, explicit_paddings, data_format } = node.attrs;
  return [
    maxPoolGrad(node.inputs[0], node.outputs[0], dy!, {
      ksize,
      strides,
      padding,
      explicit_paddings,
      data_format,
    }),
  ];
}
export function avgPoolGradFn(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const { ksize, strides, padding, data_format } = node.attrs;
  return [avgPoolGrad(shapeOf(node.inputs[0]), dy!, { ksize, strides, padding, data_format })];
}

/**
 * FusedBatchNormV3 (TensorFlow's _FusedBatchNormV3Grad): FusedBatchNormGradV3 from y's gradient,
 * with the statistics the forward op normalized by (its saved batch mean and variance in
 * training, its mean and variance inputs in inference). The statistics outputs get no gradient
 * and mean and variance none either, as in TensorFlow.
 */
export function fusedBatchNormGradFn(_: GradientContext, node: Node, [dy]: Dys): Grads {
  const { epsilon, data_format, is_training } = node.attrs;
  const [x, scale] = node.inputs;
  const [mean, variance] = is_training
    ? [node.outputs[3], node.outputs[4]]
    : [node.inputs[3], node.inputs[4]];
  const grads = fusedBatchNormGrad(dy!, x, scale, mean, variance, node.outputs[5], {
    epsilon,
    data_format,
    is_training,
  });
  return [grads[0], grads[1], grads[2], null, null];
}
