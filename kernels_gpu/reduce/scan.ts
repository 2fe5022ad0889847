/**
 * Cumsum and Cumprod: one invocation per line along the axis (outer × inner lines), walking its
 * n elements in order (reversed with `reverse`), accumulating in the compute type (f32, or i32,
 * which wraps as TensorFlow's int32 scans) and storing each running value (before the element
 * with `exclusive`), rounded to T. The axis is a host input.
 */
import type { KernelCase, Tolerance } from "../../core/kernel.ts";
import { admittingOverflow } from "../../core/kernel.ts";
import { intScalar } from "../../core/ops/array_util.ts";
import { Cumprod, Cumsum, type ScanAttrs, scanLayout } from "../../core/ops/scan.ts";
import type { OpDef } from "../../core/op.ts";
import { numbers } from "../../core/tensor.ts";
import { ARITHMETIC, defineGpuKernel, staticBinding, widenFor16 } from "../kernel.ts";
import { computeType, linearGrid, linearMain, load, program, store } from "../wgsl.ts";

const WG = 64;
const U = 2 ** -24;

function scanKernel(op: OpDef<ScanAttrs>, product: boolean) {
  return defineGpuKernel(op, {
    dtypes: ARITHMETIC,
    create({ inputs: [x], outputs: [out], attrs, device }) {
      const xb = staticBinding(device, x), ob = staticBinding(device, out);
      const t = computeType(x.dtype);
      const combine = product ? "acc * v" : "acc + v";
      const p = program({
        name: `scan.${op.name}`,
        key: [],
        inputs: [xb],
        outputs: [ob],
        uniforms: [
          { name: "lines", type: "u32" },
          { name: "n", type: "u32" },
          { name: "inner", type: "u32" },
          { name: "exclusive", type: "u32" },
          { name: "reverse", type: "u32" },
        ],
        body: () =>
          `${linearMain(WG)}
  if (i >= u.lines) { return; }
  let o = i / u.inner;
  let base = o * u.n * u.inner + i % u.inner;
  var acc = ${t}(${product ? 1 : 0});
  for (var j = 0u; j < u.n; j++) {
    let k = select(j, u.n - 1u - j, u.reverse != 0u);
    let at = base + k * u.inner;
    let v = ${load("in0", "at", xb)};
    if (u.exclusive != 0u) { ${store("out0", "at", "acc", ob)} }
    acc = ${combine};
    if (u.exclusive == 0u) { ${store("out0", "at", "acc", ob)} }
  }
}
`,
      });
      return {
        programs: [p],
        run(ctx) {
          const x = ctx.inputs[0];
          const { outer, n, inner } = scanLayout(x.shape, intScalar(ctx.hostInput(1), "axis"));
          const o = ctx.output(0, x.shape);
          const lines = outer * inner;
          return ctx.device.encode(ctx.node, [{
            program: p,
            inputs: [x],
            outputs: [o],
            uniforms: [lines, n, inner, attrs.exclusive ? 1 : 0, attrs.reverse ? 1 : 0],
            workgroups: lines === 0 || n === 0
              ? [0]
              : linearGrid(lines, WG, ctx.device.maxWorkgroups),
          }]);
        },
      };
    },
    tolerance: (c) => scanTolerance(c, product),
  });
}

/**
 * A float32 running sum of ≤ n terms is within γ_n·n·max|x| of the exact one, a running product
 * of ≤ n factors within γ_n relative (plus the subnormal range's absolute steps); the reference
 * rounds once (2u relative). int32 scans are exact (both wrap).
 */
export function scanTolerance(c: KernelCase<ScanAttrs>, product: boolean): Tolerance {
  const x = c.inputs[0];
  if (c.attrs.T === "int32") return { reason: "exact: int32 scans wrap as the reference's" };
  const n = Math.max(1, ...x.shape);
  const gamma = ((n + 1) * U) / (1 - (n + 1) * U);
  const xs = numbers(x);
  let max = 0;
  for (let i = 0; i < xs.length; i++) {
    if (Number.isFinite(xs[i])) max = Math.max(max, Math.abs(xs[i]));
  }
  const tol: Tolerance = product
    ? { rtol: gamma + 2 * U, atol: n * 2 ** -149, reason: "float32 running products" }
    : { atol: gamma * n * max, rtol: 2 * U, reason: "float32 running sums" };
  return admittingOverflow(widenFor16(c.attrs.T, tol), product ? max ** n : n * max);
}

export const SCAN_KERNELS = [scanKernel(Cumsum, false), scanKernel(Cumprod, true)];
