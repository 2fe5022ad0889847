/**
 * ef.layers: graph-building functions as tf.compat.v1.layers. Each adds its variables under a
 * unique name scope ("dense/kernel", "dense_1/bias", "conv2d/kernel") and returns its output.
 */
import type { DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Graph, Output } from "../graph.ts";
import { greaterEqual, mul } from "../ops/binary.ts";
import { constant } from "../ops/basic.ts";
import { cast } from "../ops/cast.ts";
import { conv2d as conv2dOp, depthwiseConv2d as depthwiseOp } from "../ops/conv.ts";
import { matMul } from "../ops/matmul.ts";
import { biasAdd } from "../ops/nn.ts";
import { avgPool as avgPoolOp, maxPool as maxPoolOp } from "../ops/pool.ts";
import { randomUniform } from "../ops/random.ts";
import { where } from "../ops/select.ts";
import { reshape, shape as shapeOp } from "../ops/shape_ops.ts";
import { Variable } from "../variables.ts";
import { glorotUniform, type Initializer, zeros } from "./initializers.ts";

export type Activation = (x: Output) => Output;
type Padding = "SAME" | "VALID";

interface CommonOptions {
  activation?: Activation;
  useBias?: boolean;
  kernelInitializer?: Initializer;
  biasInitializer?: Initializer;
  trainable?: boolean;
  name?: string;
  /** The op seed of the kernel's initializer (the graph seed applies too). */
  seed?: number;
}

function staticDim(x: Output, axis: number, what: string): number {
  const d = x.shape?.at(axis);
  if (d === undefined || d === null || d < 0) {
    throw new EdgeflowError(
      `${what} needs the input's dimension ${axis} to be known, got shape ${
        x.shape === null ? "of unknown rank" : `[${x.shape.map((v) => v ?? "?")}]`
      }`,
    );
  }
  return d;
}

function variable(
  graph: Graph,
  name: string,
  shape: readonly number[],
  dtype: DType,
  init: Initializer,
  trainable: boolean,
  seed?: number,
): Variable {
  return new Variable(init(shape, dtype, graph, seed), { graph, name, dtype, trainable });
}

/** x · kernel + bias; x is [batch, in] (flatten higher ranks first). */
export function dense(x: Output, units: number, options: CommonOptions = {}): Output {
  if (!(Number.isInteger(units) && units > 0)) {
    throw new EdgeflowError(`dense needs a positive integer of units, got ${units}`);
  }
  if (x.shape !== null && x.shape.length !== 2) {
    throw new EdgeflowError(
      `dense takes [batch, features], got rank ${x.shape.length} (flatten first)`,
    );
  }
  const inDim = staticDim(x, -1, "dense");
  const g = x.graph;
  return g.withNameScope(options.name ?? "dense", () => {
    const t = options.trainable ?? true;
    const kernel = variable(
      g,
      "kernel",
      [inDim, units],
      x.dtype,
      options.kernelInitializer ?? glorotUniform(),
      t,
      options.seed,
    );
    let y = matMul(x, kernel.read());
    if (options.useBias ?? true) {
      const bias = variable(g, "bias", [units], x.dtype, options.biasInitializer ?? zeros(), t);
      y = biasAdd(y, bias.read());
    }
    return options.activation ? options.activation(y) : y;
  });
}

function pair(v: number | readonly [number, number], what: string): [number, number] {
  const p: [number, number] = typeof v === "number" ? [v, v] : [v[0], v[1]];
  if (!p.every((d) => Number.isInteger(d) && d > 0)) {
    throw new EdgeflowError(`${what} must be positive integers, got ${p}`);
  }
  return p;
}

export interface ConvOptions extends CommonOptions {
  strides?: number | [number, number];
  padding?: Padding;
}

/** Conv2D on NHWC input with `filters` output channels, then bias and activation. */
export function conv2d(
  x: Output,
  filters: number,
  kernelSize: number | [number, number],
  options: ConvOptions = {},
): Output {
  const inC = staticDim(x, -1, "conv2d");
  return windowLayer(x, kernelSize, options, {
    scope: "conv2d",
    kernel: "kernel",
    channels: [inC, filters],
    outChannels: filters,
    op: conv2dOp,
  });
}

/** DepthwiseConv2dNative with `depthMultiplier` filters per input channel ("depthwise_kernel"). */
export function depthwiseConv2d(
  x: Output,
  kernelSize: number | [number, number],
  options: ConvOptions & { depthMultiplier?: number } = {},
): Output {
  const m = options.depthMultiplier ?? 1;
  const inC = staticDim(x, -1, "depthwiseConv2d");
  return windowLayer(x, kernelSize, options, {
    scope: "depthwise_conv2d",
    kernel: "depthwise_kernel",
    channels: [inC, m],
    outChannels: inC * m,
    op: depthwiseOp,
  });
}

/** What distinguishes conv2d from depthwiseConv2d: names, the filter's channel dims, the op. */
interface WindowLayerKind {
  scope: string;
  kernel: string;
  /** The filter's last two dims: [in, out] for Conv2D, [in, multiplier] for depthwise. */
  channels: [number, number];
  outChannels: number;
  op: (x: Output, filter: Output, attrs: { strides: number[]; padding: Padding }) => Output;
}

/** A convolution layer: its kernel variable, the op, an optional bias, the activation. */
function windowLayer(
  x: Output,
  kernelSize: number | [number, number],
  options: ConvOptions,
  kind: WindowLayerKind,
): Output {
  const [kh, kw] = pair(kernelSize, "kernelSize");
  const [sh, sw] = pair(options.strides ?? 1, "strides");
  const g = x.graph;
  return g.withNameScope(options.name ?? kind.scope, () => {
    const t = options.trainable ?? true;
    const kernel = variable(
      g,
      kind.kernel,
      [kh, kw, ...kind.channels],
      x.dtype,
      options.kernelInitializer ?? glorotUniform(),
      t,
      options.seed,
    );
    let y = kind.op(x, kernel.read(), {
      strides: [1, sh, sw, 1],
      padding: options.padding ?? "VALID",
    });
    if (options.useBias ?? true) {
      const bias = variable(
        g,
        "bias",
        [kind.outChannels],
        x.dtype,
        options.biasInitializer ?? zeros(),
        t,
      );
      y = biasAdd(y, bias.read());
    }
    return options.activation ? options.activation(y) : y;
  });
}

export interface PoolOptions {
  strides?: number | [number, number];
  padding?: Padding;
  name?: string;
}
/** MaxPool over poolSize windows (strides default to the pool size, as tf.layers). */
export function maxPool(
  x: Output,
  poolSize: number | [number, number],
  options: PoolOptions = {},
): Output {
  return maxPoolOp(x, poolAttrs(poolSize, options, "max_pooling2d"));
}
/** AvgPool over poolSize windows (strides default to the pool size, as tf.layers). */
export function avgPool(
  x: Output,
  poolSize: number | [number, number],
  options: PoolOptions = {},
): Output {
  return avgPoolOp(x, poolAttrs(poolSize, options, "average_pooling2d"));
}

/** The pool op's NHWC attrs and name from a layer's pool size and options. */
function poolAttrs(poolSize: number | [number, number], options: PoolOptions, name: string) {
  const [ph, pw] = pair(poolSize, "poolSize");
  const [sh, sw] = pair(options.strides ?? [ph, pw], "strides");
  return {
    ksize: [1, ph, pw, 1],
    strides: [1, sh, sw, 1],
    padding: options.padding ?? "VALID",
    name: options.name ?? name,
  };
}

/** [batch, ...] → [batch, product of the rest]; the rest must be known. */
export function flatten(x: Output, options: { name?: string } = {}): Output {
  if (x.shape === null) throw new EdgeflowError("flatten needs an input of known rank");
  let n = 1;
  for (let i = 1; i < x.shape.length; i++) n *= staticDim(x, i, "flatten");
  return reshape(x, [-1, n], { name: options.name ?? "flatten" });
}

/**
 * Inverted dropout (tf.layers.dropout): in training, each element is kept with probability
 * 1 − rate and scaled by 1 / (1 − rate). `training` is a JavaScript boolean (decided when the
 * graph is built) or a bool scalar tensor such as `placeholderWithDefault(false, [])`, decided on
 * each run (both branches are computed; the switch selects).
 */
export function dropout(
  x: Output,
  rate: number,
  options: { training?: boolean | Output; seed?: number; name?: string } = {},
): Output {
  if (!(rate >= 0 && rate < 1)) {
    throw new EdgeflowError(`dropout rate must lie in [0, 1), got ${rate}`);
  }
  const training = options.training ?? false;
  if (training === false || rate === 0) return x;
  const g = x.graph;
  return g.withNameScope(options.name ?? "dropout", () => {
    const u = randomUniform(shapeOp(x), { graph: g, dtype: x.dtype, seed: options.seed });
    const keep = cast(greaterEqual(u, constant(rate, { graph: g, dtype: x.dtype })), x.dtype);
    const dropped = mul(x, mul(keep, constant(1 / (1 - rate), { graph: g, dtype: x.dtype })));
    return training === true ? dropped : where(training, dropped, x);
  });
}
