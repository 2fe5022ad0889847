/**
 * _FusedConv2D, FusedDepthwiseConv2dNative and _FusedMatMul: the contraction (the packed GEMM or
 * task_depthwise, as Conv2D, DepthwiseConv2dNative and MatMul run it) applies the bias or batch
 * norm and the activation (kernels_wasm/src/epilogue.h) to each block of the output it finishes,
 * while the block is still in cache: no second pass over the output. The per-channel vectors come from core's
 * `fusedEpilogue`, so the fusion's meaning is decided once, in the OpDef's file.
 *
 * ResizeBilinear and ResizeNearestNeighbor read core's `resizePlan` tables.
 */
import type { Kernel, KernelCase, Tolerance } from "../../core/kernel.ts";
import { admittingOverflow } from "../../core/kernel.ts";
import type { Attrs } from "../../core/op.ts";
import { ShapeMemo } from "../../core/shape_memo.ts";
import type { Tensor } from "../../core/tensor.ts";
import { skipsPaddedTaps } from "../../core/ops/conv.ts";
import { convGeometry } from "../../core/ops/conv_geometry.ts";
import { matrixDims } from "../../core/ops/matmul.ts";
import {
  epilogueGain,
  FUSED_ACTIVATIONS,
  FusedConv2D,
  FusedDepthwiseConv2dNative,
  fusedEpilogue,
  FusedMatMul,
  type FusionAttrs,
  parseFusion,
  Prelu,
} from "../../core/ops/fused.ts";
import { ResizeBilinear, ResizeNearestNeighbor, resizePlan } from "../../core/ops/resize.ts";
import type { WasmBuffer } from "../../devices/wasm/buffer.ts";
import type { WasmDevice } from "../../devices/wasm/device.ts";
import { Task } from "../tasks.ts";
import { conv2dGemm, depthwiseLaunch } from "./conv.ts";
import { sgemm } from "./gemm.ts";
import { dotTolerance, maxAbs, U32, wasmKernel } from "./util.ts";

/**
 * The fusion's per-channel vectors (float32 [4, channels]: shift, scale, offset, alpha) in
 * scratch memory, and its activation code and norm flag: the three Epilogue words
 * (kernels_wasm/src/epilogue.h). Computed from the args' current values on each run (a few
 * thousand numbers), so a fed bias or a variable's is honoured. Release the block after launch.
 *
 * BiasAdd with no activation, Relu or Relu6 reads only the shift, which is the bias itself: its
 * buffer is the params pointer and nothing is computed or copied (for mobilenet_v2_mid, 52
 * vectors a run that cost more JavaScript time than some of its kernels).
 */
function epilogueWords(
  d: WasmDevice,
  args: readonly WasmBuffer[],
  attrs: FusionAttrs,
  channels: number,
): { words: [number, number, number]; release: () => void } {
  const fusion = parseFusion(attrs);
  const activation = FUSED_ACTIVATIONS.indexOf(fusion.activation);
  if (fusion.kind === "BiasAdd" && activation <= FUSED_ACTIVATIONS.indexOf("Relu6")) {
    const bias = args[0];
    if (bias.shape.reduce((a, b) => a * b, 1) === channels) {
      return { words: [bias.ptr, activation, 0], release: () => {} };
    }
  }
  const e = fusedEpilogue(args.map((b) => d.peek(b)), attrs, channels);
  const norm = fusion.kind === "FusedBatchNorm" ? 1 : 0;
  const params = d.scratch(16 * Math.max(1, channels));
  const p = d.f32.subarray(params.ptr >>> 2, (params.ptr >>> 2) + 4 * channels);
  p.set(e.shift);
  p.set(e.scale, channels);
  p.set(e.offset, 2 * channels);
  p.set(e.alpha, 3 * channels);
  return { words: [params.ptr, e.activation, norm], release: () => d.releaseScratch(params) };
}

/**
 * The contraction's error bound (float32 sums of `k` products) carried through the epilogue's
 * gain, plus the epilogue's own roundings: the add, the norm's multiply-add on |x·f| and the
 * activation's ULPs (Sigmoid and Tanh are simd_math.h's polynomials: 3 ULPs).
 */
function fusedTolerance(
  k: number,
  args: readonly Tensor[],
  attrs: FusionAttrs,
  x: Tensor,
  w: Tensor,
) {
  const channels = args[0].size;
  const gain = epilogueGain(args, attrs, channels);
  const dot = dotTolerance(k, maxAbs(x), maxAbs(w), "float32 sums of products");
  const big = k * maxAbs(x) * maxAbs(w) + args.slice(0, 4).reduce((m, a) => m + maxAbs(a), 0);
  const atol = (dot.atol ?? 0) * gain + 8 * U32 * big * Math.max(1, gain);
  const tol: Tolerance = {
    atol,
    ulps: 4,
    reason: "float32 sums of products, then the epilogue in float32 (simd_math.h activations)",
  };
  return admittingOverflow(tol, big * Math.max(1, gain));
}

function windowCase<A extends Attrs>(perChannel: boolean) {
  return (c: KernelCase<A>): Tolerance => {
    const [x, f, ...args] = c.inputs;
    const [fh, fw, ic] = f.shape;
    return fusedTolerance(
      fh * fw * (perChannel ? 1 : ic),
      args,
      c.attrs as unknown as FusionAttrs,
      x,
      f,
    );
  };
}

export const fusedConv2dKernel = wasmKernel(FusedConv2D, {
  dtypes: ["float32"],
  create({ inputs: [x, f], attrs }) {
    parseFusion(attrs);
    const problems = new ShapeMemo((xs, fs) => {
      const g = convGeometry("conv2d", xs, fs, attrs);
      return { outShape: g.outShape, gemm: conv2dGemm(g), channels: g.outChannels };
    }).seed([x.shape, f.shape]);
    return {
      run(ctx) {
        const [x, f, ...args] = ctx.inputs;
        const { outShape, gemm, channels } = problems.get(x.shape, f.shape);
        const out = ctx.output(0, outShape);
        const epi = epilogueWords(ctx.device, args, ctx.attrs, channels);
        try {
          // The GEMM applies the epilogue to each block of the output it finishes.
          sgemm(ctx.device, { ...gemm, a: x.ptr, b: f.ptr, c: out.ptr, epilogue: epi.words });
        } finally {
          epi.release();
        }
      },
    };
  },
  tolerance: windowCase(false),
  differs: [skipsPaddedTaps("WASM")],
});

export const fusedDepthwiseKernel = wasmKernel(FusedDepthwiseConv2dNative, {
  dtypes: ["float32"],
  create({ inputs: [x, f], attrs, device }) {
    parseFusion(attrs);
    const launches = new ShapeMemo((xs, fs) => depthwiseLaunch(xs, fs, attrs, device.threads))
      .seed([x.shape, f.shape]);
    return {
      run(ctx) {
        const [x, f, ...args] = ctx.inputs;
        const l = launches.get(x.shape, f.shape);
        const out = ctx.output(0, l.outShape);
        const epi = epilogueWords(ctx.device, args, ctx.attrs, l.channels);
        try {
          // task_depthwise applies the epilogue to each block of a row it finishes.
          const words = [x.ptr, f.ptr, out.ptr, ...l.words, ...epi.words, l.cb];
          ctx.device.launch(Task.task_depthwise, l.tasks, words, l.work);
        } finally {
          epi.release();
        }
      },
    };
  },
  tolerance: windowCase(true),
  differs: [skipsPaddedTaps("WASM")],
});

export const fusedMatMulKernel = wasmKernel(FusedMatMul, {
  dtypes: ["float32"],
  create({ attrs }) {
    parseFusion(attrs);
    return {
      run(ctx) {
        const [a, b, ...args] = ctx.inputs;
        const { transpose_a: ta, transpose_b: tb } = ctx.attrs;
        const [m, n] = matrixDims(a.shape, b.shape, ta, tb, "a", "b") as [number, number];
        const k = ta ? a.shape[0] : a.shape[1];
        const out = ctx.output(0, [m, n]);
        const epi = epilogueWords(ctx.device, args, ctx.attrs, n);
        try {
          sgemm(ctx.device, {
            a: a.ptr,
            b: b.ptr,
            c: out.ptr,
            m,
            n,
            k,
            rsa: ta ? 1 : k,
            csa: ta ? m : 1,
            rsb: tb ? 1 : n,
            csb: tb ? k : 1,
            epilogue: epi.words,
          });
        } finally {
          epi.release();
        }
      },
    };
  },
  tolerance: (c) => {
    const [a, b, ...args] = c.inputs;
    const k = c.attrs.transpose_a ? a.shape[0] : a.shape[1];
    return fusedTolerance(k, args, c.attrs as FusionAttrs, a, b);
  },
});

export const resizeBilinearKernel = wasmKernel(ResizeBilinear, {
  dtypes: ["float32"],
  create({ attrs }) {
    return {
      run(ctx) {
        const d: WasmDevice = ctx.device;
        const x = ctx.inputs[0];
        const plan = resizePlan("bilinear", x.shape, ctx.hostInput(1), ctx.attrs ?? attrs);
        const [b, oh, ow, c] = plan.outShape, [, h, w] = x.shape;
        const out = ctx.output(0, plan.outShape);
        if (b * c === 0) return;
        const table = d.scratch(8 * (oh + ow) + 4 * (oh + ow));
        try {
          const at = table.ptr >>> 2;
          d.i32.set(plan.rows.lower, at);
          d.i32.set(plan.rows.upper, at + oh);
          d.i32.set(plan.cols.lower, at + 2 * oh);
          d.i32.set(plan.cols.upper, at + 2 * oh + ow);
          d.f32.set(plan.rows.lerp, at + 2 * oh + 2 * ow);
          d.f32.set(plan.cols.lerp, at + 3 * oh + 2 * ow);
          const words = [x.ptr, out.ptr, b, h, w, c, oh, ow, table.ptr];
          d.launch(Task.task_resize_bilinear, b * oh, words, b * oh * ow * c * 8);
        } finally {
          d.releaseScratch(table);
        }
      },
    };
  },
  tolerance: () => ({
    atol: 0,
    ulps: 0,
    reason: "the same float32 operations in the same order as the reference (no FMA in WASM)",
  }),
});

const ELEMENT_BYTES: Record<string, number> = { float32: 4, int32: 4, int64: 8 };

export const resizeNearestKernel = wasmKernel(ResizeNearestNeighbor, {
  dtypes: ["float32", "int32", "int64"],
  create({ attrs }) {
    return {
      run(ctx) {
        const d: WasmDevice = ctx.device;
        const x = ctx.inputs[0];
        const plan = resizePlan("nearest", x.shape, ctx.hostInput(1), ctx.attrs ?? attrs);
        const [b, oh, ow, c] = plan.outShape, [, h, w] = x.shape;
        const out = ctx.output(0, plan.outShape);
        if (b * c === 0) return;
        const table = d.scratch(4 * (oh + ow));
        try {
          d.i32.set(plan.rows.lower, table.ptr >>> 2);
          d.i32.set(plan.cols.lower, (table.ptr >>> 2) + oh);
          const size = ELEMENT_BYTES[x.dtype];
          const words = [x.ptr, out.ptr, size, b, h, w, c, oh, ow, table.ptr];
          d.launch(Task.task_resize_nearest, b * oh, words, b * oh * ow * c);
        } finally {
          d.releaseScratch(table);
        }
      },
    };
  },
});

/** Prelu: x copied to the output, then task_epilogue with shift 0 and the alpha vector. */
export const preluKernel = wasmKernel(Prelu, {
  dtypes: ["float32"],
  run(ctx) {
    const d: WasmDevice = ctx.device;
    const [x, alpha] = ctx.inputs;
    const out = ctx.output(0);
    const n = x.shape.reduce((a, b) => a * b, 1);
    if (n === 0) return;
    const c = x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1];
    d.u8.copyWithin(out.ptr, x.ptr, x.ptr + 4 * n);
    // Copied before allocating: a peek view is only valid until the device allocates.
    const as = Float32Array.from(d.peek(alpha).data as Float32Array);
    const params = d.scratch(16 * c);
    try {
      const p = d.f32.subarray(params.ptr >>> 2, (params.ptr >>> 2) + 4 * c);
      p.fill(0);
      for (let j = 0; j < c; j++) p[3 * c + j] = as.length === 1 ? as[0] : as[j];
      const prelu = FUSED_ACTIVATIONS.indexOf("Prelu");
      d.launch(Task.task_epilogue, 1, [out.ptr, params.ptr, prelu, 0, n / c, c], n);
    } finally {
      d.releaseScratch(params);
    }
  },
  tolerance: { atol: 0, reason: "one float32 product, as the reference rounds it" },
});

export const FUSED_KERNELS: readonly Kernel[] = [
  preluKernel,
  fusedConv2dKernel,
  fusedDepthwiseKernel,
  fusedMatMulKernel,
  resizeBilinearKernel,
  resizeNearestKernel,
];
