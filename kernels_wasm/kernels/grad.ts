/**
 * The gradient ops that are not convolutions: the elementwise ones (ReluGrad, SigmoidGrad, ...,
 * task_grad_binary in grad_math.c), AddN (a chain of task_binary additions, rounded per addition
 * as the op says), BiasAddGrad (a reduction, reduce.ts), MaxPoolGrad and AvgPoolGrad
 * (pool_grad.c) and UnsortedSegmentSum (task_segment_sum).
 */
import { byteSize } from "../../core/dtype.ts";
import type { Kernel, KernelCase, Tolerance } from "../../core/kernel.ts";
import type { OpDef } from "../../core/op.ts";
import { intScalar } from "../../core/ops/array_util.ts";
import { convGeometry } from "../../core/ops/conv_geometry.ts";
import { UnsortedSegmentSum } from "../../core/ops/grad_array.ts";
import {
  AddN,
  EluGrad,
  LeakyReluGrad,
  ReciprocalGrad,
  Relu6Grad,
  ReluGrad,
  RsqrtGrad,
  SeluGrad,
  SigmoidGrad,
  SoftplusGrad,
  SqrtGrad,
  TanhGrad,
} from "../../core/ops/grad_math.ts";
import {
  AvgPoolGrad,
  BiasAddGrad,
  checkGradShape,
  MaxPoolGrad,
  origInputShape,
} from "../../core/ops/grad_nn.ts";
import { constIntList, ShapeMemo } from "../../core/shape_memo.ts";
import { GRAD_CODES, type GradCode } from "../codes.ts";
import { Task } from "../tasks.ts";
import { geometryWords } from "./conv.ts";
import { dtypeCode, launchBinary } from "./elementwise.ts";
import { launchReduce, sumTolerance } from "./reduce.ts";
import { contiguous, stridedCopy } from "./strided.ts";
import { f64Word2, maxAbs, sizeOfBuffer, U32, wasmKernel } from "./util.ts";

/** Elements per task of the elementwise gradients (as elementwise.ts's CHUNK). */
const CHUNK = 1 << 15;

// ---- elementwise -------------------------------------------------------------------------

const LIBM = "libm's exp in double, rounded once; it may differ from V8's in the last bit";

// deno-lint-ignore no-explicit-any
function gradKernel(op: OpDef<any>, dtypes: readonly ("float32" | "int32" | "int64")[]): Kernel {
  const code = GRAD_CODES.indexOf(op.name as GradCode);
  return wasmKernel(op, {
    dtypes,
    create({ inputs: [a], attrs }) {
      const [a0, a1] = f64Word2((attrs.alpha as number | undefined) ?? 0);
      const words = [0, 0, 0, code, dtypeCode(a.dtype), 0, CHUNK, a0, a1];
      return {
        run(ctx) {
          const [a, b] = ctx.inputs;
          // Inference (run where the plan's shapes were partial) refused unequal shapes.
          const out = ctx.output(0, a.shape);
          const n = sizeOfBuffer(out);
          if (n === 0) return;
          words[0] = out.ptr, words[1] = a.ptr, words[2] = b.ptr, words[5] = n;
          ctx.device.launch(Task.task_grad_binary, Math.ceil(n / CHUNK), words, n);
        },
      };
    },
    tolerance: op === SoftplusGrad ? { ulps: 1, reason: LIBM } : undefined,
  });
}

const REAL = ["float32", "int32", "int64"] as const;
const FLOAT = ["float32"] as const;

// ---- AddN --------------------------------------------------------------------------------

export const addNKernel = wasmKernel(AddN, {
  dtypes: ["float32", "int32", "int64"],
  run(ctx) {
    const xs = ctx.inputs;
    if (xs.length === 1) return ctx.setOutput(0, xs[0]);
    const out = ctx.output(0, xs[0].shape);
    // In order, each sum rounded to T: ((x0 + x1) + x2) + ..., as the reference adds.
    launchBinary(ctx.device, "AddV2", xs[0], xs[1], out);
    for (let i = 2; i < xs.length; i++) launchBinary(ctx.device, "AddV2", out, xs[i], out);
  },
});

// ---- BiasAddGrad -------------------------------------------------------------------------

export const biasAddGradKernel = wasmKernel(BiasAddGrad, {
  dtypes: ["float32", "int32", "int64"],
  create({ inputs: [dy], attrs }) {
    const nchw = attrs.data_format === "NCHW";
    // NHWC: rows of channels, summed down the rows. NCHW: [N, C, HW] moved to [C, N, HW] first,
    // so each channel's elements are one row (one rounding of a double sum, as the reference).
    const plans = new ShapeMemo((s) => {
      const axis = nchw ? 1 : s.length - 1;
      const channels = s[axis];
      const n = s.slice(0, axis).reduce((a, b) => a * b, 1);
      const inner = s.slice(axis + 1).reduce((a, b) => a * b, 1);
      const total = n * channels * inner;
      if (!nchw || n === 1) {
        return {
          channels,
          total,
          move: undefined,
          layout: nchw
            ? { outer: channels, reduce: inner, inner: 1 }
            : { outer: 1, reduce: n, inner: channels },
        };
      }
      const dims = [channels, n, inner];
      const move = {
        dims,
        dstStrides: contiguous(dims),
        srcStrides: [inner, channels * inner, 1],
      };
      return { channels, total, move, layout: { outer: channels, reduce: n * inner, inner: 1 } };
    }).seed([dy.shape]);
    return {
      run(ctx) {
        const dy = ctx.inputs[0];
        // Inference refused ranks below 2 where the plan's shape was partial.
        const p = plans.get(dy.shape);
        const out = ctx.output(0, [p.channels]);
        if (p.channels === 0) return;
        const d = ctx.device;
        if (!p.move) return launchReduce(d, "Sum", dy.dtype, dy.ptr, out.ptr, p.layout);
        const moved = d.scratch(p.total * byteSize(dy.dtype));
        try {
          stridedCopy(d, { dtype: dy.dtype, dst: moved.ptr, src: dy.ptr, ...p.move });
          launchReduce(d, "Sum", dy.dtype, moved.ptr, out.ptr, p.layout);
        } finally {
          d.releaseScratch(moved);
        }
      },
    };
  },
  tolerance: sumTolerance,
});

// ---- MaxPoolGrad and AvgPoolGrad ---------------------------------------------------------

/**
 * A pool gradient's tasks: whole images, cut into blocks of channels (multiples of 4, the SIMD
 * width) where there are too few images for about 4 tasks per thread. Channels never mix, so the
 * cut changes no bit of the result.
 */
function poolTasks(batch: number, channels: number, threads: number) {
  const per = Math.ceil((4 * threads) / Math.max(1, batch));
  const cb = per <= 1 ? channels : Math.max(4, Math.ceil(channels / per / 4) * 4);
  return { tasks: batch * Math.ceil(channels / Math.max(1, cb)), cb: Math.max(1, cb) };
}

/** The windows of an image that overlap at one element, at most: the bound on float32 sums. */
function overlaps(c: KernelCase<{ ksize: readonly number[]; strides: readonly number[] }>): number {
  const [, kh, kw] = c.attrs.ksize, [, sh, sw] = c.attrs.strides;
  return Math.ceil(kh / sh) * Math.ceil(kw / sw);
}

export const maxPoolGradKernel = wasmKernel(MaxPoolGrad, {
  dtypes: ["float32"],
  create({ inputs: [x, y, grad], attrs }) {
    const plans = new ShapeMemo((xs, ys, gs) => {
      const g = convGeometry("pool", xs, null, attrs);
      checkGradShape(g, ys, "orig_output");
      checkGradShape(g, gs);
      return { g, words: geometryWords(g) };
    }).seed([x.shape, y.shape, grad.shape]);
    return {
      run(ctx) {
        const [x, y, grad] = ctx.inputs;
        const { g, words } = plans.get(x.shape, y.shape, grad.shape);
        const out = ctx.output(0, x.shape);
        if (sizeOfBuffer(out) === 0) return;
        const work = sizeOfBuffer(grad) * g.filterHeight * g.filterWidth;
        const { tasks, cb } = poolTasks(g.batch, g.inChannels, ctx.device.threads);
        ctx.device.launch(Task.task_max_pool_grad, tasks, [
          x.ptr,
          grad.ptr,
          out.ptr,
          cb,
          ...words,
        ], work);
      },
    };
  },
  tolerance: (c) => ({
    atol: 2 * overlaps(c) * U32 * overlaps(c) * maxAbs(c.inputs[2]),
    reason: "float32 sums of the gradients of overlapping windows",
  }),
});

export const avgPoolGradKernel = wasmKernel(AvgPoolGrad, {
  dtypes: ["float32"],
  create({ node, inputs: [, grad], attrs }) {
    const plans = new ShapeMemo((shape, gs) => {
      const g = convGeometry("pool", shape, null, attrs);
      checkGradShape(g, gs);
      return { g, words: geometryWords(g) };
    }).seed([constIntList(node, 0), grad.shape]);
    return {
      run(ctx) {
        const grad = ctx.inputs[1];
        const shape = origInputShape(ctx.hostInput(0));
        const { g, words } = plans.get(shape, grad.shape);
        const out = ctx.output(0, shape);
        if (sizeOfBuffer(out) === 0) return;
        const work = sizeOfBuffer(grad) * g.filterHeight * g.filterWidth;
        const { tasks, cb } = poolTasks(g.batch, g.inChannels, ctx.device.threads);
        ctx.device.launch(Task.task_avg_pool_grad, tasks, [grad.ptr, out.ptr, cb, ...words], work);
      },
    };
  },
  tolerance: (c) => ({
    atol: 4 * overlaps(c) * U32 * overlaps(c) * maxAbs(c.inputs[1]),
    reason: "float32 quotients summed in float32 over overlapping windows",
  }),
});

// ---- UnsortedSegmentSum ------------------------------------------------------------------

/** Output columns per task: enough for a thread, and tasks that own disjoint columns. */
const SEGMENT_COLUMNS = 1 << 10;

export const segmentSumKernel = wasmKernel(UnsortedSegmentSum, {
  dtypes: ["float32", "int32", "int64"],
  run(ctx) {
    const [data, ids] = ctx.inputs;
    // Ids were checked by the op (in [-1, num_segments)) before the kernel ran.
    const segments = intScalar(ctx.hostInput(2), "num_segments");
    const out = ctx.output(0);
    const rows = sizeOfBuffer(ids);
    const inner = data.shape.slice(ids.shape.length).reduce((a, b) => a * b, 1);
    if (segments * inner === 0) return;
    const tasks = Math.ceil(inner / SEGMENT_COLUMNS);
    ctx.device.launch(Task.task_segment_sum, tasks, [
      data.ptr,
      ids.ptr,
      out.ptr,
      dtypeCode(data.dtype),
      byteSize(ids.dtype),
      rows,
      inner,
      segments,
      SEGMENT_COLUMNS,
    ], rows * inner + segments * inner);
  },
  tolerance: (c: KernelCase<{ T: string }>): Tolerance =>
    c.attrs.T === "float32"
      ? {
        atol: 2 * c.inputs[1].size * U32 * c.inputs[1].size * maxAbs(c.inputs[0]),
        reason: "float32 sums in id order",
      }
      : { reason: "integer sums wrap exactly" },
});

export const GRAD_KERNELS: readonly Kernel[] = [
  gradKernel(ReluGrad, REAL),
  gradKernel(Relu6Grad, REAL),
  gradKernel(LeakyReluGrad, FLOAT),
  gradKernel(EluGrad, FLOAT),
  gradKernel(SeluGrad, FLOAT),
  gradKernel(SoftplusGrad, FLOAT),
  gradKernel(SigmoidGrad, FLOAT),
  gradKernel(TanhGrad, FLOAT),
  gradKernel(RsqrtGrad, FLOAT),
  gradKernel(SqrtGrad, FLOAT),
  gradKernel(ReciprocalGrad, FLOAT),
  addNKernel,
  biasAddGradKernel,
  maxPoolGradKernel,
  avgPoolGradKernel,
  segmentSumKernel,
];
