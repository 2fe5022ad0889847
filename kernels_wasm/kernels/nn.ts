/**
 * BiasAdd, FusedBatchNormV3 (inference and training), Softmax and LogSoftmax
 * (kernels_wasm/src/nn.c; the training statistics in batch_norm_train.c).
 */
import type { Kernel, KernelCase, KernelContext, Tolerance } from "../../core/kernel.ts";
import {
  BiasAdd,
  FusedBatchNormV3,
  type FusedBatchNormV3Attrs,
  LogSoftmax,
  Softmax,
} from "../../core/ops/nn.ts";
import type { WasmDevice } from "../../devices/wasm/device.ts";
import { Task } from "../tasks.ts";
import { launchBinary } from "./elementwise.ts";
import { maxAbs, sizeOfBuffer, U32, wasmBuffer, wasmKernel } from "./util.ts";

/** BiasAdd is AddV2 with the bias seen as [C, 1, ...] after the channel axis. */
export const biasAddKernel = wasmKernel(BiasAdd, {
  dtypes: ["float32", "int32", "int64"],
  run(ctx) {
    const [x, bias] = ctx.inputs.map(wasmBuffer);
    const out = wasmBuffer(ctx.output(0));
    const rank = x.shape.length;
    const axis = ctx.attrs.data_format === "NCHW" ? 1 : rank - 1;
    const shape = [bias.shape[0], ...new Array(rank - 1 - axis).fill(1)];
    launchBinary(ctx.device, "AddV2", x, { ptr: bias.ptr, dtype: bias.dtype, shape }, out);
  },
});

const TASK_ELEMENTS = 1 << 15;

/** Channels per task of the training statistics (BN_BLOCK in batch_norm_train.c bounds it). */
const STATS_BLOCK = 8;

/**
 * Training (see FusedBatchNormV3): the batch's mean and biased variance per channel in double
 * (task_batch_norm_stats, the reference's order), the running statistics from them here in
 * double, then task_batch_norm normalizes with the batch's statistics: every output is the
 * reference's value rounded once.
 */
function batchNormTraining(ctx: KernelContext<FusedBatchNormV3Attrs, WasmDevice>): void {
  const d = ctx.device;
  const [x, scale, offset, mean, variance] = ctx.inputs.map(wasmBuffer);
  const { epsilon, exponential_avg_factor: f, data_format } = ctx.attrs;
  const y = wasmBuffer(ctx.output(0));
  const C = scale.shape[0], size = sizeOfBuffer(x);
  const [outer, inner] = data_format === "NCHW"
    ? [x.shape[0], x.shape[2] * x.shape[3]]
    : [x.shape[0] * x.shape[1] * x.shape[2], 1];
  const outs = [1, 2, 3, 4].map((i) => wasmBuffer(ctx.output(i, [C])));
  const zero = wasmBuffer(ctx.output(5));
  d.launch(Task.task_fill, 1, [zero.ptr, 4, 4, 0, 0]);
  if (C === 0) return;
  const n = size / C;
  const scratch = d.scratch(6 * C * 8);
  try {
    d.launch(
      Task.task_batch_norm_stats,
      Math.ceil(C / STATS_BLOCK),
      [x.ptr, scratch.ptr, outer, C, inner, STATS_BLOCK],
      2 * size,
    );
    const stats = new Float64Array(d.u8.buffer, scratch.ptr, 2 * C);
    const p = new Float64Array(d.u8.buffer, scratch.ptr + 2 * C * 8, 4 * C);
    const f32 = d.f32, at = (b: { ptr: number }, i: number) => f32[(b.ptr >>> 2) + i];
    const set = (b: { ptr: number }, i: number, v: number) => (f32[(b.ptr >>> 2) + i] = v);
    const bessel = n > 1 ? n / (n - 1) : 1;
    for (let c = 0; c < C; c++) {
      const m = stats[c], v = stats[C + c];
      p[c] = m;
      p[C + c] = Math.sqrt(v + epsilon);
      p[2 * C + c] = at(scale, c);
      p[3 * C + c] = at(offset, c);
      // Running statistics; with f = 1, mean and variance may be empty and are not read.
      set(outs[0], c, f === 1 ? m : (1 - f) * at(mean, c) + f * m);
      set(outs[1], c, f === 1 ? v * bessel : (1 - f) * at(variance, c) + f * v * bessel);
      set(outs[2], c, m);
      set(outs[3], c, v);
    }
    d.launch(Task.task_batch_norm, Math.ceil(size / TASK_ELEMENTS), [
      x.ptr,
      y.ptr,
      scratch.ptr + 2 * C * 8,
      C,
      inner,
      size,
      TASK_ELEMENTS,
    ], size * 4);
  } finally {
    d.releaseScratch(scratch);
  }
}

export const batchNormKernel = wasmKernel(FusedBatchNormV3, {
  dtypes: ["float32"],
  // Inference below; training (the op's "training" mode) in batchNormTraining.
  modes: ["training"],
  run(ctx) {
    if (ctx.attrs.is_training) return batchNormTraining(ctx);
    const d: WasmDevice = ctx.device;
    const [x, scale, offset, mean, variance] = ctx.inputs.map(wasmBuffer);
    const y = wasmBuffer(ctx.output(0));
    const c = scale.shape[0], n = sizeOfBuffer(x);
    const inner = ctx.attrs.data_format === "NCHW" ? x.shape[2] * x.shape[3] : 1;
    const params = d.scratch(4 * c * 8);
    try {
      // Per channel, in double as the reference: mean, sqrt(variance + epsilon), scale, offset.
      const f32 = d.f32, p = new Float64Array(d.u8.buffer, params.ptr, 4 * c);
      const at = (b: { ptr: number }, i: number) => f32[(b.ptr >>> 2) + i];
      for (let i = 0; i < c; i++) {
        p[i] = at(mean, i);
        p[c + i] = Math.sqrt(at(variance, i) + ctx.attrs.epsilon);
        p[2 * c + i] = at(scale, i);
        p[3 * c + i] = at(offset, i);
      }
      d.launch(Task.task_batch_norm, Math.ceil(n / TASK_ELEMENTS), [
        x.ptr,
        y.ptr,
        params.ptr,
        c,
        inner,
        n,
        TASK_ELEMENTS,
      ], n * 4);
    } finally {
      d.releaseScratch(params);
    }
    // batch_mean, batch_variance and the reserve spaces pass mean and variance through.
    [mean, variance, mean, variance].forEach((b, i) => ctx.setOutput(i + 1, b));
    const zero = wasmBuffer(ctx.output(5));
    d.launch(Task.task_fill, 1, [zero.ptr, 4, 4, 0, 0]);
  },
});

function softmaxTolerance(log: boolean) {
  return (c: KernelCase<{ T: string }>): Tolerance => {
    // x - max rounds in float32 before the exponential (|error| <= 2·max|x|·u), which is within
    // 2 ULPs and flushes results below 2^-126 to 0; the sum adds 64 float32 terms at a time.
    // Relative for Softmax; absolute for LogSoftmax, which computes x - lse in double.
    const bound = (4 * maxAbs(c.inputs[0]) + 8 + 64) * U32;
    const reason = "float32 exp of a float32 x - max, subnormal results flushed (simd_math.h)";
    return log ? { atol: bound, ulps: 1, reason } : { rtol: bound, atol: 2 ** -126, reason };
  };
}

function softmaxKernel(op: typeof Softmax, log: boolean): Kernel {
  return wasmKernel(op, {
    dtypes: ["float32"],
    run(ctx) {
      const x = wasmBuffer(ctx.inputs[0]);
      const y = wasmBuffer(ctx.output(0));
      const n = x.shape[x.shape.length - 1], rows = n === 0 ? 0 : sizeOfBuffer(x) / n;
      const chunk = Math.max(1, Math.floor(TASK_ELEMENTS / 4 / Math.max(1, n)));
      ctx.device.launch(Task.task_softmax, Math.ceil(rows / chunk), [
        x.ptr,
        y.ptr,
        rows,
        n,
        chunk,
        log ? 1 : 0,
      ], rows * n * 8);
    },
    tolerance: softmaxTolerance(log),
  });
}

export const NN_KERNELS: readonly Kernel[] = [
  biasAddKernel,
  batchNormKernel,
  softmaxKernel(Softmax, false),
  softmaxKernel(LogSoftmax, true),
];
