/**
 * Unary elementwise kernels: one WGSL expression of `x` per op and compute type. NaN follows
 * TensorFlow and the reference (Relu and Relu6 keep it, Sign maps it to 0), written with selects
 * because WGSL's min/max/sign leave NaN undefined.
 */
import type { DType } from "../../core/dtype.ts";
import type { Tolerance } from "../../core/kernel.ts";
import type { Attrs, OpDef } from "../../core/op.ts";
import * as U from "../../core/ops/unary.ts";
import type { GpuInstance, GpuKernel } from "../../devices/webgpu/device.ts";
import {
  defineGpuKernel,
  FLOATS,
  floatTolerance,
  type GpuConstruction,
  staticBinding,
} from "../kernel.ts";
import { computeType } from "../wgsl.ts";
import { type MapFunction, NodeMap } from "./map.ts";
import { ERF, EXP, EXPM1, LOG, NAN, SIN_COS, TANH } from "./math_wgsl.ts";

interface UnaryEntry {
  op: OpDef<{ T: DType }>;
  /** Expression of `x: f32` (floats). */
  float?: string;
  /** Expression of `x: i32` (int32; bool for LogicalNot). */
  int?: string;
  /** Helper WGSL the expression calls. */
  helpers?: string;
  /** Float results' distance from the float64 reference, with its reason. */
  tol?: Omit<Tolerance, "reason">;
  reason?: string;
}

const SELU_SCALE = "1.0507009873554805";
const SELU_ALPHA = "1.6732632423543772";
const APPROX = "WGSL's exp/log/sqrt/sin/cos/pow are accurate to a few float32 ULPs, not 0.5";
const SIN_COS_REASON = "exact reduction by π/2, then Cephes' polynomials in float32 (measured " +
  "within 2 ULPs); subnormal results may flush to 0";

const ENTRIES: UnaryEntry[] = [
  { op: U.Neg, float: "-x", int: "-x" },
  { op: U.Abs, float: "abs(x)", int: "abs(x)" },
  {
    op: U.Sign,
    // Sign(NaN) is 0, as TensorFlow documents; is_nan tests bits, so NaN needs no float compare.
    float: "select(select(select(1.0, -1.0, x < 0.0), 0.0, x == 0.0), 0.0, is_nan(x))",
    int: "sign(x)",
  },
  {
    op: U.Exp,
    float: "exp_(x)",
    helpers: EXP,
    tol: { ulps: 3 },
    reason: "Cephes' expf in float32 (measured within 1 ULP of float64 exp; WGSL's exp allows " +
      "3 + 2|x| ULPs)",
  },
  { op: U.Log, float: "log_(x)", helpers: LOG, tol: { ulps: 8, atol: 2e-7 }, reason: APPROX },
  { op: U.Log1p, float: "log1p_(x)", helpers: LOG, tol: { ulps: 8, atol: 2e-7 }, reason: APPROX },
  // WGSL leaves sqrt of a negative undefined: NaN, as IEEE's (x < 0 is false for -0 and NaN).
  { op: U.Sqrt, float: `select(sqrt(x), ${NAN}, x < 0.0)`, tol: { ulps: 4 }, reason: APPROX },
  {
    op: U.Rsqrt,
    float: `select(1.0 / sqrt(x), ${NAN}, x < 0.0)`,
    tol: { ulps: 4 },
    reason: APPROX,
  },
  { op: U.Square, float: "x * x", int: "x * x" },
  { op: U.Reciprocal, float: "1.0 / x", tol: { ulps: 3 }, reason: "WGSL division is 2.5 ULP" },
  { op: U.Tanh, float: "tanh_(x)", helpers: TANH, tol: { ulps: 8, atol: 1e-7 }, reason: APPROX },
  {
    op: U.Sigmoid,
    float: "1.0 / (1.0 + exp_(-x))",
    helpers: EXP,
    tol: { ulps: 8, atol: 1e-7 },
    reason: APPROX,
  },
  // Relu(NaN) is NaN: TensorFlow's max(x, 0) propagates NaN.
  { op: U.Relu, float: "select(0.0, x, x > 0.0 || is_nan(x))", int: "select(0, x, x > 0)" },
  {
    op: U.Relu6,
    // NaN stays NaN; the GL backend's comparisons with NaN are not IEEE's, so is_nan decides.
    float: "select(select(select(x, 6.0, x > 6.0), 0.0, x < 0.0), x, is_nan(x))",
    int: "clamp(x, 0, 6)",
  },
  {
    op: U.Elu,
    float: "select(expm1_(x), x, x > 0.0)",
    helpers: EXPM1,
    tol: { ulps: 8, atol: 1e-7 },
    reason: APPROX,
  },
  {
    op: U.Selu,
    float: `select(${SELU_SCALE} * ${SELU_ALPHA} * expm1_(x), ${SELU_SCALE} * x, x > 0.0)`,
    helpers: EXPM1,
    tol: { ulps: 8, atol: 2e-7 },
    reason: APPROX,
  },
  {
    op: U.Softplus,
    float: "select(log1p_(exp_(x)), x + log1p_(exp_(-x)), x > 0.0)",
    helpers: LOG + EXP,
    tol: { ulps: 8, atol: 2e-7 },
    reason: APPROX,
  },
  {
    op: U.Erf,
    float: "erf_(x)",
    helpers: ERF,
    tol: { ulps: 8, atol: 3e-7 },
    reason: "a series near 0 and Abramowitz-Stegun 7.1.26 (error < 1.5e-7) beyond",
  },
  { op: U.Floor, float: "floor(x)" },
  { op: U.Ceil, float: "ceil(x)" },
  { op: U.Round, float: "round(x)", int: "x" },
  {
    op: U.Sin,
    float: "sin_cos_(x, false)",
    helpers: SIN_COS,
    tol: { ulps: 4, atol: 1e-37 },
    reason: SIN_COS_REASON,
  },
  {
    op: U.Cos,
    float: "sin_cos_(x, true)",
    helpers: SIN_COS,
    tol: { ulps: 4, atol: 1e-37 },
    reason: SIN_COS_REASON,
  },
  { op: U.LogicalNot, int: "1 - x" },
];

/** The map function of an entry for a compute type. */
function unaryFunction(name: string, expr: string, type: "f32" | "i32", helpers = "") {
  return {
    name: `unary.${name}.${type}`,
    wgsl: `${helpers}\nfn f(x: ${type}) -> ${type} { return ${expr}; }`,
  };
}

/** A unary map's instance: `f` over the input, `extra` its uniforms (attrs). */
function unaryInstance<A extends Attrs>(
  { inputs: [x], outputs: [out], device }: GpuConstruction<A>,
  f: MapFunction,
  extra: readonly number[] = [],
): GpuInstance<A> {
  const map = new NodeMap(
    f,
    [x.shape],
    x.shape,
    [staticBinding(device, x)],
    staticBinding(device, out),
    extra,
  );
  return {
    programs: map.programs,
    run(ctx) {
      const x = ctx.inputs[0];
      return ctx.device.encode(ctx.node, [map.dispatch(ctx.device, [x], ctx.output(0, x.shape))]);
    },
  };
}

function kernelFor(e: UnaryEntry): GpuKernel {
  const dtypes: DType[] = [];
  if (e.float) dtypes.push(...FLOATS);
  if (e.int) dtypes.push(e.op === U.LogicalNot ? "bool" : "int32");
  const fn = (dtype: DType): MapFunction => {
    const type = computeType(dtype);
    return unaryFunction(e.op.name, (type === "f32" ? e.float : e.int)!, type, e.helpers);
  };
  return defineGpuKernel(e.op, {
    dtypes,
    create: (c) => unaryInstance(c, fn(c.inputs[0].dtype)),
    tolerance: e.tol
      ? floatTolerance(e.tol, e.reason!)
      : floatTolerance({}, "exact in float32; rounded once to 16 bits"),
  });
}

const LEAKY: MapFunction = {
  name: "unary.LeakyRelu.f32",
  wgsl: "fn f(x: f32) -> f32 { return select(x, u.alpha * x, x < 0.0); }",
  uniforms: [{ name: "alpha", type: "f32" }],
};

const leakyRelu = defineGpuKernel(U.LeakyRelu, {
  dtypes: FLOATS,
  create: (c) => unaryInstance(c, LEAKY, [c.attrs.alpha]),
  tolerance: floatTolerance(
    { ulps: 1 },
    "alpha is a float32 uniform; the reference multiplies by its float64 value",
  ),
});

export const UNARY_KERNELS: readonly GpuKernel[] = [...ENTRIES.map(kernelFor), leakyRelu];

/** A float unary op's WGSL expression of `x: f32` and its helpers (fused activations use them). */
export function floatUnaryWgsl(op: string): { float: string; helpers: string } | undefined {
  const e = ENTRIES.find((e) => e.op.name === op);
  return e?.float ? { float: e.float, helpers: e.helpers ?? "" } : undefined;
}
