/** BiasAdd, FusedBatchNormV3 (inference), Softmax and LogSoftmax (kernels_wasm/src/nn.c). */
import type { Kernel, KernelCase, Tolerance } from "../../core/kernel.ts";
import { BiasAdd, FusedBatchNormV3, LogSoftmax, Softmax } from "../../core/ops/nn.ts";
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

export const batchNormKernel = wasmKernel(FusedBatchNormV3, {
  dtypes: ["float32"],
  run(ctx) {
    const d: WasmDevice = ctx.device;
    const [x, scale, offset, mean, variance] = ctx.inputs.map(wasmBuffer);
    const y = wasmBuffer(ctx.output(0)); // inference refuses is_training, as the reference
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
