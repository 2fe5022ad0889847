/**
 * Cumsum and Cumprod (TensorFlow's scans along one axis, with its `exclusive` and `reverse`
 * attrs). Floats accumulate in float64 and round once per output; int32 wraps in 32 bits and
 * int64 in 64 (BigInt), as TensorFlow's integer scans do. Prod's gradient uses Cumprod, and the
 * scans' own gradients are scans the other way (math_grad.py).
 */
import { type DType, FLOAT_DTYPES } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { defineOp, type GradientFn, type OpDef } from "../op.ts";
import { formatShape } from "../shape.ts";
import { numbers, Tensor } from "../tensor.ts";
import { arbShape, arbTensor } from "../testing/arbitrary.ts";
import { checkRank, int32Scalar, intScalar, knownInts } from "./array_util.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { spec } from "./infer_util.ts";
import { div, equal, mul } from "./binary.ts";
import { zerosLike } from "./fill.ts";
import { where } from "./select.ts";

export type ScanAttrs = { exclusive: boolean; reverse: boolean; T: DType; Tidx: DType };

const SCAN_DTYPES: readonly DType[] = [...FLOAT_DTYPES, "int32", "int64"];

/** The axis in [0, rank), or an error naming the range. */
export function scanAxis(axis: number, rank: number): number {
  if (axis < -rank || axis >= rank) {
    throw new EdgeflowError(`axis ${axis} is out of range [${-rank}, ${rank})`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** outer, the axis length and inner of a scan over `axis` of `shape`. */
export function scanLayout(shape: readonly number[], axis: number) {
  const a = scanAxis(axis, shape.length);
  const prod = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);
  return { outer: prod(shape.slice(0, a)), n: shape[a], inner: prod(shape.slice(a + 1)) };
}

interface Scan {
  identity: number;
  step: (acc: number, x: number) => number;
  int32: (acc: number, x: number) => number;
  int64: (acc: bigint, x: bigint) => bigint;
  one64: bigint;
}
const SUM: Scan = {
  identity: 0,
  step: (a, x) => a + x,
  int32: (a, x) => (a + x) | 0,
  int64: (a, x) => BigInt.asIntN(64, a + x),
  one64: 0n,
};
const PROD: Scan = {
  identity: 1,
  step: (a, x) => a * x,
  int32: Math.imul,
  int64: (a, x) => BigInt.asIntN(64, a * x),
  one64: 1n,
};

function scanTensor(x: Tensor, axis: number, attrs: ScanAttrs, s: Scan): Tensor {
  const { outer, n, inner } = scanLayout(x.shape, axis);
  const at = (o: number, k: number, i: number) => (o * n + k) * inner + i;
  const wide = x.dtype === "int64";
  const xs = wide ? (x.data as BigInt64Array) : numbers(x);
  const out = wide ? new BigInt64Array(x.size) : new Float64Array(x.size);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let acc: number | bigint = wide ? s.one64 : s.identity;
      for (let j = 0; j < n; j++) {
        const k = attrs.reverse ? n - 1 - j : j;
        const v = xs[at(o, k, i)];
        if (attrs.exclusive) out[at(o, k, i)] = acc as never;
        acc = wide
          ? s.int64(acc as bigint, v as bigint)
          : x.dtype === "int32"
          ? s.int32(acc as number, v as number)
          : s.step(acc as number, v as number);
        if (!attrs.exclusive) out[at(o, k, i)] = acc as never;
      }
    }
  }
  return wide
    ? new Tensor("int64", x.shape, out as BigInt64Array)
    : Tensor.fromNumbers(x.dtype, x.shape, out as Float64Array);
}

function defineScan(name: string, s: Scan, gradient: GradientFn<ScanAttrs>): OpDef<ScanAttrs> {
  return defineOp<ScanAttrs>({
    name,
    gradient,
    inputs: [{ name: "x", type: "T" }, { name: "axis", type: "Tidx" }],
    outputs: [{ name: "out", type: "T" }],
    hostMemory: { inputs: [1] },
    attrs: {
      exclusive: { kind: "bool", default: false },
      reverse: { kind: "bool", default: false },
      T: { kind: "type", allowed: SCAN_DTYPES },
      Tidx: { kind: "type", allowed: ["int32", "int64"], default: "int32" },
    },
    infer: ([x, axis]) => {
      checkRank(axis.shape, 0, "axis");
      if (x.shape !== null && x.shape.length === 0) {
        throw new EdgeflowError(`x must have rank 1 or more, got ${formatShape(x.shape)}`);
      }
      const a = knownInts(axis)?.[0];
      if (a !== undefined && x.shape !== null) scanAxis(a, x.shape.length);
      return [spec(x.dtype, x.shape)];
    },
    reference: ([x, axis], attrs) => {
      if (x.rank === 0) throw new EdgeflowError(`x must have rank 1 or more, got []`);
      return [scanTensor(x, intScalar(axis, "axis"), attrs, s)];
    },
    arbitrary: (fc, dtype) =>
      fc.tuple(
        arbTensor(
          fc,
          dtype,
          arbShape(fc, { minRank: 1, maxRank: 3, maxDim: 5 }),
          name === "Cumprod"
            ? (dtype === "int32" || dtype === "int64"
              ? { min: -2, max: 2 }
              : { min: 0.5, max: 1.5 })
            : {},
        ),
        fc.nat(),
        fc.boolean(),
        fc.boolean(),
      ).map(([x, seed, exclusive, reverse]) => {
        const a = seed % x.rank;
        return {
          inputs: [x, int32Scalar(seed & 8 ? a - x.rank : a)],
          attrs: { exclusive, reverse },
        };
      }),
  });
}

/** Cumsum's gradient: the cumsum of dy the other way (TensorFlow's _CumsumGrad). */
const cumsumGrad: GradientFn<ScanAttrs> = (_, node, [dy]) => {
  const { exclusive, reverse } = node.attrs;
  return [cumsum(dy!, node.inputs[1], { exclusive, reverse: !reverse }), null];
};

/**
 * Cumprod's gradient (TensorFlow's _CumprodGrad): cumsum(cumprod(x)·dy) the other way, divided
 * by x with div_no_nan (0 where x is 0).
 */
const cumprodGrad: GradientFn<ScanAttrs> = (_, node, [dy]) => {
  const [x, axis] = node.inputs;
  const { exclusive, reverse } = node.attrs;
  const p = cumprod(x, axis, { exclusive, reverse });
  const out = cumsum(mul(p, dy!), axis, { exclusive, reverse: !reverse });
  const zero = zerosLike(x);
  return [where(equal(x, zero), zero, div(out, x)), null];
};

export const Cumsum: OpDef<ScanAttrs> = defineScan("Cumsum", SUM, cumsumGrad);
export const Cumprod: OpDef<ScanAttrs> = defineScan("Cumprod", PROD, cumprodGrad);

export const SCAN_OPS: readonly OpDef[] = [Cumsum, Cumprod] as unknown as OpDef[];

/** tf.cumsum(x, axis, exclusive, reverse). */
export function cumsum(
  x: TensorLike,
  axis: TensorLike = 0,
  options: OpOptions<ScanAttrs> = {},
): Output {
  return apply(Cumsum, [x, axis], options).outputs[0];
}
/** tf.cumprod(x, axis, exclusive, reverse). */
export function cumprod(
  x: TensorLike,
  axis: TensorLike = 0,
  options: OpOptions<ScanAttrs> = {},
): Output {
  return apply(Cumprod, [x, axis], options).outputs[0];
}
