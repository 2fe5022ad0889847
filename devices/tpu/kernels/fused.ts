/**
 * _FusedConv2D, FusedDepthwiseConv2dNative and _FusedMatMul: the contraction's own kernel
 * (conv.ts, matmul.ts) on the matrix units writes the output in HBM, then the vector unit applies
 * the bias or batch norm and the activation in place, in float32, before the result leaves the
 * chip: one kernel, charged once (the contraction's work plus the epilogue's).
 *
 * Epilogue error (u = 2^-24): the bias add rounds once (≤ u|y|); batch norm as the FusedBatchNormV3
 * kernel (nn.ts: ≤ 6u·max|t| + 2u|y|); the activations are one float32 rounding of the exact
 * function (≤ u, the exp-based ones' float64 value rounded). The contraction's error passes
 * through the epilogue times its gain (|scale| · max(1, |alpha|)).
 */
import { innerContext } from "../../../core/kernel_compose.ts";
import type { Kernel, KernelCase } from "../../../core/kernel.ts";
import type { Attrs, OpDef } from "../../../core/op.ts";
import {
  epilogueGain,
  FusedConv2D,
  FusedDepthwiseConv2dNative,
  FusedMatMul,
  type FusionAttrs,
  parseFusion,
  Prelu,
} from "../../../core/ops/fused.ts";
import type { TpuBuffer } from "../hbm.ts";
import { bf16, loadF32, storeF32 } from "../numerics.ts";
import type { Work } from "../timing.ts";
import { maxAbs, withBf16 } from "../tolerance.ts";
import { conv2d, depthwise } from "./conv.ts";
import { matMul } from "./matmul.ts";
import { input, TPU_FLOATS, type TpuKernel, tpuKernel } from "./util.ts";

const f = Math.fround;

/** The activation as the TPU's unary kernels compute it: float32 results. */
function activation(name: string, alpha: number): (y: number) => number {
  switch (name) {
    case "Relu":
      return (y) => (y > 0 || y !== y ? y : 0);
    case "Relu6":
      return (y) => Math.min(Math.max(y, 0), 6);
    case "Elu":
      return (y) => (y > 0 ? y : f(Math.expm1(y)));
    case "Sigmoid":
      return (y) => f(1 / (1 + Math.exp(-y)));
    case "Tanh":
      return (y) => f(Math.tanh(y));
    case "LeakyRelu":
      return (y) => (y < 0 ? f(alpha * y) : y);
    default:
      return (y) => y;
  }
}

/** Applies the fusion to `out` ([rows, C]) in place; returns the vector unit's work. */
function epilogue(out: TpuBuffer, args: readonly TpuBuffer[], attrs: FusionAttrs): Work {
  const fusion = parseFusion(attrs);
  const ys = loadF32(out);
  const C = out.shape[out.shape.length - 1];
  const vs = args.map(loadF32);
  if (fusion.kind === "BiasAdd") {
    const b = vs[0];
    for (let i = 0; i < ys.length; i++) ys[i] = f(ys[i] + b[i % C]);
  } else {
    const [scale, offset, mean, variance] = vs;
    const eps = f(attrs.epsilon);
    const a = Float32Array.from(
      { length: C },
      (_, c) => f(scale[c] * f(1 / Math.sqrt(f(variance[c] + eps)))),
    );
    for (let i = 0; i < ys.length; i++) {
      const c = i % C;
      ys[i] = f(f(f(ys[i] - mean[c]) * a[c]) + offset[c]);
    }
  }
  // A bfloat16 op rounds between its steps as TensorFlow's unfused ops store them.
  if (out.dtype === "bfloat16" && fusion.activation !== "") {
    for (let i = 0; i < ys.length; i++) ys[i] = bf16(ys[i]);
  }
  if (fusion.activation === "Prelu") {
    const alpha = vs[fusion.vectors];
    for (let i = 0; i < ys.length; i++) {
      const y = ys[i];
      if (y < 0) ys[i] = f((alpha.length === 1 ? alpha[0] : alpha[i % C]) * y);
    }
  } else if (fusion.activation !== "") {
    const act = activation(fusion.activation, f(attrs.leakyrelu_alpha));
    for (let i = 0; i < ys.length; i++) ys[i] = act(ys[i]);
  }
  storeF32(out, ys);
  const n = ys.length, transcendental = ["Elu", "Sigmoid", "Tanh"].includes(fusion.activation);
  return {
    vpuOps: n * (fusion.kind === "BiasAdd" ? 2 : 4),
    eupOps: transcendental ? n : 0,
    hbmBytes: args.reduce((s, b) => s + b.bytes, 0),
    flops: n * (fusion.kind === "BiasAdd" ? 1 : 3),
  };
}

function addWork(a: Work, b: Work): Work {
  return {
    matmuls: [...(a.matmuls ?? []), ...(b.matmuls ?? [])],
    vpuOps: (a.vpuOps ?? 0) + (b.vpuOps ?? 0),
    eupOps: (a.eupOps ?? 0) + (b.eupOps ?? 0),
    hbmBytes: (a.hbmBytes ?? 0) + (b.hbmBytes ?? 0),
    flops: (a.flops ?? 0) + (b.flops ?? 0),
  };
}

function fusedKernel<A extends FusionAttrs>(op: OpDef<A>, inner: TpuKernel): TpuKernel<A> {
  return tpuKernel(op, {
    dtypes: TPU_FLOATS,
    differs: inner.differs as never,
    create(c) {
      parseFusion(c.attrs);
      const contraction = inner.create!({ ...c, inputs: c.inputs.slice(0, 2) });
      return {
        run(ctx) {
          let out: TpuBuffer | undefined;
          let work: Work = {};
          const device = innerContextDevice(ctx.device, (w) => (work = w));
          const sub = innerContext(ctx, {
            output: (i: number, shape?: readonly number[]) => (out = ctx.output(i, shape)),
            device,
          });
          contraction.run(sub);
          const args = ctx.inputs.slice(2).map((_, i) => input(ctx, i + 2));
          ctx.device.charge(ctx, addWork(work, epilogue(out!, args, ctx.attrs)));
        },
      };
    },
    tolerance: (c) => {
      const own = inner.tolerance!;
      const t = typeof own === "function" ? own(c as unknown as KernelCase<Attrs>) : own;
      const args = c.inputs.slice(2);
      const gain = Math.max(1, epilogueGain(args, c.attrs, args[0].size));
      const U = 2 ** -24;
      const [x, w] = c.inputs;
      const name = op.name;
      const k = name === "_FusedMatMul"
        ? (c.attrs as unknown as { transpose_a: boolean }).transpose_a ? x.shape[0] : x.shape[1]
        : w.shape[0] * w.shape[1] * (name === "_FusedConv2D" ? w.shape[2] : 1);
      const big = k * maxAbs(x) * maxAbs(w) + args.slice(0, 4).reduce((m, a) => m + maxAbs(a), 0);
      return {
        ...t,
        atol: (t.atol ?? 0) * gain + 8 * U * big * gain,
        rtol: (t.rtol ?? 0) + 4 * U,
        reason: `${t.reason}; then the epilogue in float32 on the vector unit`,
      };
    },
  });
}

/** The device as the contraction sees it: its charge is collected, not recorded. */
function innerContextDevice<D extends { charge: unknown }>(device: D, collect: (w: Work) => void) {
  return new Proxy(device, {
    get(target, p) {
      if (p === "charge") return (_: unknown, w: Work) => collect(w);
      const v = Reflect.get(target, p, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/** Prelu on the vector unit: one float32 product where x < 0. */
const prelu = tpuKernel(Prelu, {
  dtypes: TPU_FLOATS,
  run(ctx) {
    const x = input(ctx, 0), alpha = loadF32(input(ctx, 1));
    const out = ctx.output(0);
    const xs = loadF32(x), ys = new Float32Array(xs.length);
    const c = x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1];
    for (let i = 0; i < xs.length; i++) {
      const v = xs[i];
      ys[i] = v < 0 ? f((alpha.length === 1 ? alpha[0] : alpha[i % c]) * v) : v;
    }
    storeF32(out, ys);
    ctx.device.charge(ctx, { vpuOps: 2 * xs.length, hbmBytes: 2 * x.bytes, flops: xs.length });
  },
  tolerance: (c) => withBf16(c.inputs[0].dtype, { atol: 0, reason: "one float32 product" }),
});

export const FUSED_KERNELS: readonly Kernel[] = [
  prelu,
  fusedKernel(FusedConv2D, conv2d),
  fusedKernel(FusedDepthwiseConv2dNative, depthwise),
  fusedKernel(FusedMatMul, matMul),
];
