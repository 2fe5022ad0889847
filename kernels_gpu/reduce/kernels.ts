/**
 * Sum, Mean, Max, Min, Prod, ArgMax and ArgMin. Axes are host inputs; core's resolveReduction
 * says whether the reduced dims are adjacent ([outer, R, inner], no copy) or must first move last
 * (a transpose by its `perm`, then rows). Long rows reduce in two passes (programs.ts).
 */
import { release, retain } from "../../core/buffer.ts";
import type { KernelCase, Tolerance } from "../../core/kernel.ts";
import { constIntList, ShapeMemo } from "../../core/shape_memo.ts";
import type { GpuBuffer } from "../../devices/webgpu/buffer.ts";
import type { Attrs } from "../../core/op.ts";
import { intList, numbers } from "../../core/tensor.ts";
import { intScalar } from "../../core/ops/array_util.ts";
import {
  ArgMax,
  ArgMin,
  type ArgOpDef,
  Max,
  Mean,
  Min,
  Prod,
  type ReduceOpDef,
  resolveArgAxis,
  Sum,
} from "../../core/ops/reduce.ts";
import { reductionIndex, resolveReduction } from "../../core/ops/reduce_plan.ts";
import { resolveTranspose } from "../../core/ops/transpose.ts";
import type { WebGpuDevice } from "../../devices/webgpu/device.ts";
import type { Dispatch, Program } from "../../devices/webgpu/program.ts";
import { GPU_DTYPES } from "../../devices/webgpu/storage.ts";
import {
  ARITHMETIC,
  bindingFor,
  defineGpuKernel,
  FLOATS,
  type GpuConstruction,
  staticBinding,
  widenFor16,
} from "../kernel.ts";
import { NodeStrided, stridedDispatch } from "../movement/strided.ts";
import { prodOverflow, sumOverflow } from "../overflow.ts";
import { computeType, linearGrid } from "../wgsl.ts";
import {
  argProgram,
  CHUNK,
  COLS_WG,
  colsProgram,
  type ReduceKind,
  rowsProgram,
} from "./programs.ts";

/** A node's reduction programs, derived once when the plan is built from its static dtypes. */
export interface ReducePrograms {
  /** x into out along columns ([outer, R, inner], inner > 1). */
  readonly cols: Program;
  /** Rows of x into out, in one pass. */
  readonly rows: Program;
  /** Long rows: x into per-chunk partials, then the partials into out. */
  readonly partial: Program;
  readonly finish: Program;
  /** The copy moving reduced axes last where they are not adjacent. */
  readonly moves: NodeStrided;
}

export function reducePrograms(
  kind: ReduceKind,
  { inputs: [x], outputs: [out], device }: GpuConstruction,
): ReducePrograms {
  const xb = staticBinding(device, x), ob = staticBinding(device, out);
  const pb = bindingFor(device, computeType(x.dtype) === "f32" ? "float32" : "int32");
  return {
    cols: colsProgram(kind, xb, ob),
    rows: rowsProgram(kind, xb, ob, true),
    partial: rowsProgram(kind, xb, pb, false),
    finish: rowsProgram(kind, pb, ob, true),
    moves: new NodeStrided(device.storageOf(x.dtype), "copy"),
  };
}

/** The dispatches reducing x viewed as [outer, R, inner] into out ([outer, inner] elements). */
export function reduceDispatches(
  device: WebGpuDevice,
  programs: ReducePrograms,
  x: GpuBuffer,
  out: GpuBuffer,
  outer: number,
  R: number,
  inner: number,
  temps: GpuBuffer[],
): Dispatch[] {
  if (inner > 1) {
    const n = outer * inner;
    return [{
      program: programs.cols,
      inputs: [x],
      outputs: [out],
      uniforms: [n, R, inner, R],
      workgroups: linearGrid(n, COLS_WG, device.maxWorkgroups),
    }];
  }
  const chunks = Math.max(1, Math.ceil(R / CHUNK));
  if (chunks === 1) {
    return [{
      program: programs.rows,
      inputs: [x],
      outputs: [out],
      uniforms: [outer, R, 1, R],
      workgroups: [1, outer],
    }];
  }
  const t = computeType(x.dtype);
  const partials = retain(
    device.allocate({ dtype: t === "f32" ? "float32" : "int32", shape: [outer, chunks] }),
  );
  temps.push(partials);
  return [
    {
      program: programs.partial,
      inputs: [x],
      outputs: [partials],
      uniforms: [outer, R, chunks, R],
      workgroups: [chunks, outer],
    },
    {
      program: programs.finish,
      inputs: [partials],
      outputs: [out],
      uniforms: [outer, chunks, 1, R],
      workgroups: [1, outer],
    },
  ];
}

function reduceKernel(op: ReduceOpDef) {
  const kind = op.name as ReduceKind;
  return defineGpuKernel(op, {
    // Integer Mean sums in 64 bits (TensorFlow's int32 Mean sums in int64), which WGSL lacks:
    // it runs on REF.
    dtypes: kind === "Mean" ? FLOATS : ARITHMETIC,
    create(c) {
      const programs = reducePrograms(kind, c);
      // The reduction's layout, by input shape and axes (seeded where both are static).
      const plans = new ShapeMemo((shape, axes) => resolveReduction(shape, axes, c.attrs.keep_dims))
        .seed([c.inputs[0].shape, constIntList(c.node, 1)]);
      return {
        programs: [programs.rows, programs.cols],
        run(ctx) {
          let x = ctx.inputs[0];
          const plan = plans.get(x.shape, intList(ctx.hostInput(1)));
          const out = ctx.output(0, plan.outShape);
          if (plan.outSize === 0) return;
          const temps: GpuBuffer[] = [];
          const dispatches: Dispatch[] = [];
          let layout = plan.contiguous;
          if (!layout) {
            // Move the reduced axes last, then reduce rows.
            const t = resolveTranspose(x.shape, plan.perm);
            const moved = retain(ctx.device.allocate({ dtype: x.dtype, shape: t.outShape }));
            temps.push(moved);
            const view = { mode: "copy" as const, dims: t.outShape, strides: t.inStrides };
            dispatches.push(stridedDispatch(ctx.device, x, moved, view, programs.moves));
            x = moved;
            layout = { outer: plan.outSize, reduce: plan.reduceSize, inner: 1 };
          }
          dispatches.push(
            ...reduceDispatches(
              ctx.device,
              programs,
              x,
              out,
              layout.outer,
              layout.reduce,
              layout.inner,
              temps,
            ),
          );
          const done = ctx.device.encode(ctx.node, dispatches);
          // The temporaries go back to the pool once recorded (later kernels of the batch may
          // reuse them: the GPU runs the batch in order).
          const free = () => temps.forEach(release);
          if (done instanceof Promise) return done.finally(free);
          free();
        },
      };
    },
    tolerance: reduceTolerance(kind),
    differs: kind === "Sum" || kind === "Mean"
      ? [sumOverflow()]
      : kind === "Prod"
      ? [prodOverflow()]
      : undefined,
  });
}

/**
 * The float32 error of a reduction's kernel against the float64 reference. Sums: however the
 * programs order a group's m − 1 additions (threads summing strided runs, then a tree), the error
 * is at most γ(m − 1) times the group's Σ|x| (Higham, Accuracy and Stability, §4.2); the largest
 * group's bounds them all (a Mean's divided by m). A bound on the whole case's largest value
 * instead missed sums whose partials grow: 15 × 7.59 summed in one run is 113.84998 on GL, 3.1e-5
 * from 113.85 (fuzzer seed 393330870). `reducedAxes` says which axes a case sums (Sum's input 1 by
 * default).
 */
export function reduceTolerance(
  kind: ReduceKind,
  reducedAxes: (c: KernelCase<Attrs>) => readonly number[] = (c) => intList(c.inputs[1]),
) {
  return (c: KernelCase<Attrs>): Tolerance => {
    const tol: Tolerance = kind === "Prod"
      ? { rtol: (c.inputs[0].size + 2) * 2 ** -23, reason: "float32 products in tree order" }
      : kind === "Max" || kind === "Min"
      ? { reason: "exact" }
      : sumTolerance(kind, maxGroup(c, reducedAxes));
    return widenFor16(c.inputs[0].dtype, tol);
  };
}

function sumTolerance(kind: ReduceKind, group: { count: number; absSum: number }): Tolerance {
  const k = Math.max(group.count - 1, 0);
  const gamma = (k * 2 ** -24) / (1 - k * 2 ** -24);
  const atol = gamma * group.absSum / (kind === "Mean" ? Math.max(group.count, 1) : 1);
  return { atol, ulps: 2, reason: "float32 sums in the programs' order" };
}

/** The elements one output reduces, and the largest Σ|x| of a group (finite values only). */
function maxGroup(
  c: KernelCase<Attrs>,
  reducedAxes: (c: KernelCase<Attrs>) => readonly number[],
): { count: number; absSum: number } {
  const x = c.inputs[0];
  const plan = resolveReduction(x.shape, reducedAxes(c), false);
  const values = numbers(x), index = reductionIndex(x.shape, plan);
  const m = plan.reduceSize;
  let absSum = 0;
  for (let o = 0; o < plan.outSize; o++) {
    let s = 0;
    for (let j = o * m; j < (o + 1) * m; j++) {
      // A NaN or ±Inf group's result is compared exactly.
      const a = Math.abs(values[index[j]]);
      if (a !== Infinity && a === a) s += a;
    }
    absSum = Math.max(absSum, s);
  }
  return { count: m, absSum };
}

function argKernel(op: ArgOpDef, max: boolean) {
  return defineGpuKernel(op, {
    dtypes: GPU_DTYPES,
    create({ inputs: [x], outputs: [out], device }) {
      const p = argProgram(max, staticBinding(device, x), staticBinding(device, out));
      return {
        programs: [p],
        run(ctx) {
          const x = ctx.inputs[0];
          const { outer, dim, inner } = resolveArgAxis(
            x.shape,
            intScalar(ctx.hostInput(1), "dimension"),
          );
          const out = ctx.output(0);
          const n = outer * inner;
          return ctx.device.encode(ctx.node, [{
            program: p,
            inputs: [x],
            outputs: [out],
            uniforms: [n, dim, inner],
            workgroups: linearGrid(n, COLS_WG, ctx.device.maxWorkgroups),
          }]);
        },
      };
    },
  });
}

export const REDUCE_KERNELS = [
  reduceKernel(Sum),
  reduceKernel(Mean),
  reduceKernel(Max),
  reduceKernel(Min),
  reduceKernel(Prod),
  argKernel(ArgMax, true),
  argKernel(ArgMin, false),
];
