/**
 * Sum, Mean, Max, Min, Prod and ArgMax, ArgMin (kernels_wasm/src/reduce.c). The reduction plan
 * (axes, output shape, layout) is core/ops/reduce_plan.ts's; axes that are not adjacent are
 * moved last by a transpose into scratch memory first.
 */
import { byteSize, type DType } from "../../core/dtype.ts";
import type { Kernel, KernelCase, Tolerance } from "../../core/kernel.ts";
import { checkRank, intScalar } from "../../core/ops/array_util.ts";
import {
  ArgMax,
  ArgMin,
  type ArgOpDef,
  REDUCE_OPS,
  type ReduceOpDef,
  resolveArgAxis,
} from "../../core/ops/reduce.ts";
import { resolveReduction } from "../../core/ops/reduce_plan.ts";
import { resolveTranspose } from "../../core/ops/transpose.ts";
import { stridesOf } from "../../core/shape.ts";
import { constIntList, ShapeMemo } from "../../core/shape_memo.ts";
import { intList, type Tensor } from "../../core/tensor.ts";
import type { WasmDevice } from "../../devices/wasm/device.ts";
import { REDUCE_CODES, type ReduceCode } from "../codes.ts";
import { Task } from "../tasks.ts";
import { dtypeCode } from "./elementwise.ts";
import { contiguous, stridedCopy } from "./strided.ts";
import { maxAbs, wasmKernel } from "./util.ts";

/** Elements of a row one task folds; longer rows are folded in parts, combined in order. */
const PART = 1 << 14;

export interface Layout {
  outer: number;
  reduce: number;
  inner: number;
}

export function launchReduce(
  d: WasmDevice,
  code: ReduceCode,
  dtype: DType,
  x: number,
  out: number,
  l: Layout,
): void {
  const op = REDUCE_CODES.indexOf(code), dt = dtypeCode(dtype);
  const work = l.outer * l.reduce * l.inner;
  if (l.inner > 1) {
    const part = Math.max(1, Math.min(l.inner, Math.ceil(PART / Math.max(1, l.reduce))));
    const tasks = l.outer * Math.ceil(l.inner / part);
    const words = [x, out, op, dt, l.outer, l.reduce, l.inner, part, 1, 0];
    d.launch(Task.task_reduce, tasks, words, work);
    return;
  }
  const parts = Math.max(1, Math.ceil(l.reduce / PART));
  const partials = parts > 1 ? d.scratch(l.outer * parts * 8) : undefined;
  try {
    const words = [x, out, op, dt, l.outer, l.reduce, 1, PART, parts, partials?.ptr ?? 0];
    d.launch(Task.task_reduce, l.outer * parts, words, work);
    if (partials) d.launch(Task.task_reduce_finish, l.outer, words, 0);
  } finally {
    if (partials) d.releaseScratch(partials);
  }
}

/** float32 sums in double differ from the reference's sequential double sum by rounding only. */
export function sumTolerance(c: KernelCase<{ T: string }>): Tolerance {
  if (c.attrs.T !== "float32") return { reason: "integers wrap exactly" };
  const n = c.inputs[0].size;
  return {
    ulps: 1,
    atol: n * n * maxAbs(c.inputs[0]) * 2 ** -52,
    reason: "double accumulation in another order than the reference's, then one rounding",
  };
}

function reduceKernel(op: ReduceOpDef): Kernel {
  const code = op.name as ReduceCode;
  return wasmKernel(op, {
    dtypes: ["float32", "int32", "int64"],
    create(c) {
      // The plan (output shape, layout, the transpose moving reduced axes last) by input shape
      // and axes, seeded where both are static.
      const plans = new ShapeMemo((shape, axes) => {
        const plan = resolveReduction(shape, axes, c.attrs.keep_dims);
        if (plan.contiguous) return { plan, move: undefined };
        const t = resolveTranspose(shape, plan.perm);
        const strides = stridesOf(t.collapsed.shape);
        const dims = t.collapsed.perm.map((p) => t.collapsed.shape[p]);
        const move = {
          dims,
          dstStrides: contiguous(dims),
          srcStrides: t.collapsed.perm.map((p) => strides[p]),
        };
        return { plan, move };
      }).seed([c.inputs[0].shape, constIntList(c.node, 1)]);
      return {
        run(ctx) {
          const x = ctx.inputs[0];
          const axes: Tensor = ctx.hostInput(1);
          if (axes.rank > 1) checkRank(axes.shape, 1, "reduction_indices");
          const { plan, move } = plans.get(x.shape, intList(axes));
          const out = ctx.output(0, plan.outShape);
          if (plan.outSize === 0) return;
          const d = ctx.device;
          if (!move) return launchReduce(d, code, x.dtype, x.ptr, out.ptr, plan.contiguous!);
          // Reduced axes apart: transpose them last, then reduce rows.
          const moved = d.scratch(x.shape.reduce((a, b) => a * b, 1) * byteSize(x.dtype));
          try {
            stridedCopy(d, { dtype: x.dtype, dst: moved.ptr, src: x.ptr, ...move });
            const layout = { outer: plan.outSize, reduce: plan.reduceSize, inner: 1 };
            launchReduce(d, code, x.dtype, moved.ptr, out.ptr, layout);
          } finally {
            d.releaseScratch(moved);
          }
        },
      };
    },
    tolerance: code === "Sum" || code === "Mean" || code === "Prod" ? sumTolerance : undefined,
  });
}

function argKernel(op: ArgOpDef, sign: 1 | -1): Kernel {
  return wasmKernel(op, {
    dtypes: ["float32", "int32", "int64", "bool"],
    create({ inputs: [x], attrs }) {
      const dt = dtypeCode(x.dtype), wide = attrs.output_type === "int64" ? 1 : 0;
      return {
        run(ctx) {
          const x = ctx.inputs[0];
          const { outer, dim, inner } = resolveArgAxis(
            x.shape,
            intScalar(ctx.hostInput(1), "dimension"),
          );
          const out = ctx.output(0);
          const words = [x.ptr, out.ptr, dt, sign, outer, dim, inner, wide];
          ctx.device.launch(Task.task_arg_reduce, outer, words, outer * dim * inner);
        },
      };
    },
  });
}

export const REDUCE_KERNELS: readonly Kernel[] = [
  ...(REDUCE_OPS.filter((op) =>
    (REDUCE_CODES as readonly string[]).includes(op.name)
  ) as ReduceOpDef[])
    .map(reduceKernel),
  argKernel(ArgMax, 1),
  argKernel(ArgMin, -1),
];
