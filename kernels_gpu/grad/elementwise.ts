/**
 * The elementwise gradient ops (core/ops/grad_math.ts) as maps over two same-shaped inputs:
 * ReluGrad, Relu6Grad, LeakyReluGrad, EluGrad, SeluGrad, SoftplusGrad (from the gradient and the
 * forward op's features or outputs) and SigmoidGrad, TanhGrad, RsqrtGrad, SqrtGrad,
 * ReciprocalGrad (from y and dy). Masks test NaN on the bits: the GL backend's comparisons with
 * NaN are not IEEE's, and the reference's `f > 0` is false for NaN features.
 */
import type { DType } from "../../core/dtype.ts";
import {
  admittingOverflow,
  defineKernel,
  forDTypes,
  forwardInput,
  type KernelCase,
  type Tolerance,
} from "../../core/kernel.ts";
import { StopGradient } from "../../core/ops/grad_array.ts";
import {
  rsqrtGradSubnormalLoss,
  sqrtGradSubnormalLoss,
  subnormalSteps,
} from "../../core/subnormal_grad_loss.ts";
import { GPU_DTYPES } from "../../devices/webgpu/storage.ts";
import type { Attrs, OpDef } from "../../core/op.ts";
import * as G from "../../core/ops/grad_math.ts";
import type { GpuInstance, GpuKernel } from "../../devices/webgpu/device.ts";
import {
  ARITHMETIC,
  defineGpuKernel,
  FLOATS,
  type GpuConstruction,
  staticBinding,
  widenFor16,
} from "../kernel.ts";
import { computeType } from "../wgsl.ts";
import { type MapFunction, NodeMap } from "../elementwise/map.ts";
import { EXP } from "../elementwise/math_wgsl.ts";
import { maxAbsOf, pairBound } from "./util.ts";

// Selu's constants (TensorFlow's), as WGSL float literals round them.
const SELU_SCALE = 1.0507009873554804934193349852946;
const SELU_SCALE_ALPHA = 1.0507009873554804934193349852946 * 1.6732632423543772848170429916717;

interface GradEntry {
  op: OpDef<{ T: DType }>;
  /** Expression of `a, b: f32` (TensorFlow's input order). */
  float: string;
  /** Expression of `a, b: i32`, for ops that take int32. */
  int?: string;
  helpers?: string;
  /** Float32 ULPs from the reference; `atolOf` an absolute term from the case. */
  ulps?: number;
  atolOf?: (c: KernelCase<Attrs>) => number;
  /** The largest |intermediate| for one pair of inputs, where the program can overflow. */
  partials?: (a: number, b: number) => number;
  reason?: string;
}

/** Whether `x` is a number and above 0 (false for NaN on every backend). */
const positive = (x: string) => `(${x} > 0.0 && !is_nan(${x}))`;
const negative = (x: string) => `(${x} < 0.0 && !is_nan(${x}))`;

const ENTRIES: GradEntry[] = [
  { op: G.ReluGrad, float: `select(0.0, a, ${positive("b")})`, int: "select(0, a, b > 0)" },
  {
    op: G.Relu6Grad,
    float: `select(0.0, a, ${positive("b")} && b < 6.0)`,
    int: "select(0, a, b > 0 && b < 6)",
  },
  {
    op: G.EluGrad,
    partials: (g, y) => Math.abs(g) * (Math.abs(y) + 1),
    // y + 1 is exact for y in [-1, -0.5] (Sterbenz) and one rounding above.
    float: `select(a, a * (b + 1.0), ${negative("b")})`,
    ulps: 2,
    reason: "y + 1 and the product each round once",
  },
  {
    op: G.SeluGrad,
    partials: (g, y) => Math.abs(g) * (Math.abs(y) + 2),
    float: `select(a * ${SELU_SCALE}, a * (b + ${SELU_SCALE_ALPHA}), ${negative("b")})`,
    ulps: 3,
    // y + scale·alpha cancels as y nears -scale·alpha: the constant's float32 rounding
    // (≤ 2^-24 · 1.76) is then a large relative error, |gradient| times it absolutely.
    atolOf: (c) => maxAbsOf(c.inputs[0]) * 2 ** -22,
    reason: "Selu's constants rounded to float32; y + scale·alpha cancels near its minimum",
  },
  {
    op: G.SoftplusGrad,
    // sigmoid(x) from exp of -|x| only: exp(-x) overflows below -88, losing subnormal results.
    float: "a * sigmoid_(b)",
    helpers: EXP + `
fn sigmoid_(x: f32) -> f32 {
  let e = exp_(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}`,
    ulps: 10,
    atolOf: (c) => maxAbsOf(c.inputs[0]) * 1e-7,
    reason: "WGSL's exp (a few ULPs), a 2.5-ULP division and the product",
  },
  {
    op: G.SigmoidGrad,
    partials: (y, dy) => Math.max(Math.abs(dy * y), Math.abs(y) * (Math.abs(y) + 1)),
    // TensorFlow's order, dy·y first: a zero gradient stays 0 for the largest y.
    float: "(b * a) * (1.0 - a)",
    ulps: 3,
    reason: "1 - y, y(1 - y) and the product each round once",
  },
  {
    op: G.TanhGrad,
    partials: (y, dy) => (Math.abs(y) + 1) ** 2 * Math.max(1, Math.abs(dy)),
    // (1 - y)(1 + y) rather than 1 - y²: no cancellation as |y| nears 1.
    float: "b * ((1.0 - a) * (1.0 + a))",
    ulps: 3,
    reason: "1 - y, 1 + y and two products each round once",
  },
  {
    op: G.RsqrtGrad,
    partials: (y, dy) => Math.abs(y) ** 3 * Math.max(1, Math.abs(dy)),
    float: "(-0.5 * b) * (a * a * a)",
    ulps: 3,
    atolOf: ({ inputs: [y, dy] }) => rsqrtGradSubnormalLoss(y, dy, 4),
    reason: "y², y³ and the product each round once (halving may lose a subnormal bit)",
  },
  {
    op: G.SqrtGrad,
    float: "(0.5 * b) / a",
    ulps: 4,
    atolOf: ({ inputs: [y, dy] }) => sqrtGradSubnormalLoss(y, dy, 5),
    reason: "WGSL division is 2.5 ULP (halving may lose a subnormal bit)",
  },
  {
    op: G.ReciprocalGrad,
    partials: (y, dy) => y * y * Math.max(1, Math.abs(dy)),
    float: "-b * (a * a)",
    ulps: 2,
    reason: "y² and the product each round once",
  },
];

function gradFunction(e: GradEntry, dtype: DType): MapFunction {
  const type = computeType(dtype);
  return {
    name: `grad.${e.op.name}.${type}`,
    wgsl: `${e.helpers ?? ""}\nfn f(a: ${type}, b: ${type}) -> ${type} { return ${
      type === "f32" ? e.float : e.int
    }; }`,
  };
}

/** A map of two same-shaped inputs (the ops' inference refuses others). */
function pairInstance<A extends Attrs>(
  { inputs: [x, y], outputs: [out], device }: GpuConstruction<A>,
  f: MapFunction,
  extra: readonly number[] = [],
): GpuInstance<A> {
  const map = new NodeMap(
    f,
    [x.shape, y.shape],
    out.shape,
    [staticBinding(device, x), staticBinding(device, y)],
    staticBinding(device, out),
    extra,
  );
  return {
    programs: map.programs,
    run(ctx) {
      const [a, b] = ctx.inputs;
      return ctx.device.encode(ctx.node, [map.dispatch(ctx.device, [a, b], ctx.output(0))]);
    },
  };
}

function kernelFor(e: GradEntry): GpuKernel {
  const dtypes = (e.int ? ARITHMETIC : FLOATS).filter((d) => e.op.testDTypes.includes(d));
  return defineGpuKernel(e.op, {
    dtypes,
    create: (c) => pairInstance(c, gradFunction(e, c.inputs[0].dtype)),
    tolerance: (c): Tolerance => {
      // A select is exact; arithmetic may round a subnormal intermediate (subnormalSteps).
      const atol = e.ulps ? Math.max(e.atolOf?.(c) ?? 0, subnormalSteps(c.inputs, e.ulps)) : 0;
      const tol = widenFor16(c.inputs[0]?.dtype, {
        ...(e.ulps ? { ulps: e.ulps } : {}),
        ...(atol > 0 ? { atol } : {}),
        reason: e.reason ?? "a select: exact",
      });
      const [a, b] = c.inputs;
      return e.partials ? admittingOverflow(tol, pairBound(a, b, e.partials)) : tol;
    },
  });
}

const LEAKY: MapFunction = {
  name: "grad.LeakyReluGrad.f32",
  wgsl: `fn f(a: f32, b: f32) -> f32 { return select(u.alpha * a, a, ${positive("b")}); }`,
  uniforms: [{ name: "alpha", type: "f32" }],
};

const leakyReluGrad = defineGpuKernel(G.LeakyReluGrad, {
  dtypes: FLOATS,
  create: (c) => pairInstance(c, LEAKY, [c.attrs.alpha]),
  tolerance: (c) =>
    widenFor16(c.inputs[0]?.dtype, {
      ulps: 1,
      reason: "alpha is a float32 uniform; the reference multiplies by its float64 value",
    }),
});

export const GRAD_ELEMENTWISE_KERNELS: readonly GpuKernel[] = [
  ...ENTRIES.map(kernelFor),
  leakyReluGrad,
];

/** StopGradient's forward pass is the identity: the output is the input's buffer. */
export const STOP_GRADIENT_KERNELS: readonly GpuKernel[] = forDTypes(
  [defineKernel(StopGradient, { run: forwardInput })],
  GPU_DTYPES,
) as GpuKernel[];
