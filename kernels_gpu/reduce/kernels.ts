/**
 * Sum, Mean, Max, Min, Prod, ArgMax and ArgMin. Axes are host inputs; core's resolveReduction
 * says whether the reduced dims are adjacent ([outer, R, inner], no copy) or must first move last
 * (a transpose by its `perm`, then rows). Long rows reduce in two passes (programs.ts).
 */
import { release, retain } from "../../core/buffer.ts";
import type { KernelCase, KernelContext, Tolerance } from "../../core/kernel.ts";
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
import { resolveReduction } from "../../core/ops/reduce_plan.ts";
import { resolveTranspose } from "../../core/ops/transpose.ts";
import type { GpuBuffer } from "../../devices/webgpu/buffer.ts";
import type { WebGpuDevice } from "../../devices/webgpu/device.ts";
import type { Dispatch } from "../../devices/webgpu/program.ts";
import { GPU_DTYPES } from "../../devices/webgpu/storage.ts";
import {
  ARITHMETIC,
  bindingOf,
  defineGpuKernel,
  FLOATS,
  staticBinding,
  widenFor16,
} from "../kernel.ts";
import { stridedDispatch } from "../movement/strided.ts";
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

/** The dispatches reducing x viewed as [outer, R, inner] into out ([outer, inner] elements). */
function reduceDispatches(
  ctx: KernelContext,
  kind: ReduceKind,
  x: GpuBuffer,
  out: GpuBuffer,
  outer: number,
  R: number,
  inner: number,
  temps: GpuBuffer[],
): Dispatch[] {
  const device = ctx.device as WebGpuDevice;
  const xb = bindingOf(x), ob = bindingOf(out);
  if (inner > 1) {
    const n = outer * inner;
    return [{
      program: colsProgram(kind, xb, ob),
      inputs: [x],
      outputs: [out],
      uniforms: [n, R, inner, R],
      workgroups: linearGrid(n, COLS_WG, device.maxWorkgroups),
    }];
  }
  const chunks = Math.max(1, Math.ceil(R / CHUNK));
  if (chunks === 1) {
    return [{
      program: rowsProgram(kind, xb, ob, true),
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
  const pb = bindingOf(partials);
  return [
    {
      program: rowsProgram(kind, xb, pb, false),
      inputs: [x],
      outputs: [partials],
      uniforms: [outer, R, chunks, R],
      workgroups: [chunks, outer],
    },
    {
      program: rowsProgram(kind, pb, ob, true),
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
    hostInputs: [1],
    run(ctx) {
      let x = ctx.inputs[0] as GpuBuffer;
      const plan = resolveReduction(x.shape, intList(ctx.hostInput(1)), ctx.attrs.keep_dims);
      const out = ctx.output(0, plan.outShape) as GpuBuffer;
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
        dispatches.push(stridedDispatch(ctx.device, x, moved, view));
        x = moved;
        layout = { outer: plan.outSize, reduce: plan.reduceSize, inner: 1 };
      }
      dispatches.push(
        ...reduceDispatches(ctx, kind, x, out, layout.outer, layout.reduce, layout.inner, temps),
      );
      const done = ctx.device.encode(ctx.node, dispatches);
      // The temporaries go back to the pool once recorded (later kernels of the batch may reuse
      // them: the GPU runs the batch in order).
      const free = () => temps.forEach(release);
      if (done instanceof Promise) return done.finally(free);
      free();
    },
    programs(node, device) {
      const x = staticBinding(device, node.inputs[0]), out = staticBinding(device, node.outputs[0]);
      return [rowsProgram(kind, x, out, true), colsProgram(kind, x, out)];
    },
    tolerance: reduceTolerance(kind),
    differs: kind === "Sum" || kind === "Mean"
      ? [sumOverflow()]
      : kind === "Prod"
      ? [prodOverflow()]
      : undefined,
  });
}

function reduceTolerance(kind: ReduceKind) {
  return (c: KernelCase<Attrs>): Tolerance => {
    const x = numbers(c.inputs[0]);
    let max = 0;
    // Finite values only (a NaN or ±Inf row's result is compared exactly).
    for (let i = 0; i < x.length; i++) {
      const a = Math.abs(x[i]);
      if (a > max && a !== Infinity) max = a;
    }
    const n = x.length;
    const tol: Tolerance = kind === "Prod"
      ? { rtol: (n + 2) * 2 ** -23, reason: "float32 products in tree order" }
      : kind === "Max" || kind === "Min"
      ? { reason: "exact" }
      : { atol: (n + 2) * 2 ** -23 * max, ulps: 2, reason: "float32 sums in tree order" };
    return widenFor16(c.inputs[0].dtype, tol);
  };
}

function argKernel(op: ArgOpDef, max: boolean) {
  return defineGpuKernel(op, {
    dtypes: GPU_DTYPES,
    hostInputs: [1],
    run(ctx) {
      const x = ctx.inputs[0] as GpuBuffer;
      const { outer, dim, inner } = resolveArgAxis(
        x.shape,
        intScalar(ctx.hostInput(1), "dimension"),
      );
      const out = ctx.output(0) as GpuBuffer;
      const n = outer * inner;
      return ctx.device.encode(ctx.node, [{
        program: argProgram(max, bindingOf(x), bindingOf(out)),
        inputs: [x],
        outputs: [out],
        uniforms: [n, dim, inner],
        workgroups: linearGrid(n, COLS_WG, ctx.device.maxWorkgroups),
      }]);
    },
    programs(node, device) {
      const x = staticBinding(device, node.inputs[0]), out = staticBinding(device, node.outputs[0]);
      return [argProgram(max, x, out)];
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
