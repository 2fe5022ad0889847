/**
 * _FusedConv2D, FusedDepthwiseConv2dNative and _FusedMatMul: the contraction's own kernel
 * (conv2d.ts, window_kernels.ts, matmul.ts) writes a temporary, then one elementwise map applies
 * the bias or batch norm and the activation into the output, both recorded in the same batch.
 * (WebGPU cannot bind one buffer as read and read-write storage in one dispatch, hence the
 * temporary; it returns to the pool once recorded.) The map's WGSL is built from the fusion the
 * OpDef parses and the unary kernels' own activation expressions.
 */
import { innerContext } from "../../core/kernel_compose.ts";
import type { Kernel, KernelCase, Tolerance } from "../../core/kernel.ts";
import { release, retain } from "../../core/buffer.ts";
import type { Attrs, OpDef } from "../../core/op.ts";
import {
  epilogueGain,
  FusedConv2D,
  FusedDepthwiseConv2dNative,
  FusedMatMul,
  type FusionAttrs,
  parseFusion,
  Prelu,
} from "../../core/ops/fused.ts";
import type { GpuBuffer } from "../../devices/webgpu/buffer.ts";
import type { GpuInstance, GpuKernel } from "../../devices/webgpu/device.ts";
import { conv2dKernel, fusedConv2dInstance } from "../conv/conv2d.ts";
import { type Epilogue, storeFusion } from "./epilogue.ts";
import { depthwiseKernel, fusedDepthwiseInstance } from "../conv/window_kernels.ts";
import { floatUnaryWgsl } from "../elementwise/unary.ts";
import { type MapFunction, NodeMap } from "../elementwise/map.ts";
import {
  defineGpuKernel,
  FLOATS,
  type GpuConstruction,
  staticBinding,
  widenFor16,
} from "../kernel.ts";
import { matMulKernel } from "../matmul/matmul.ts";

/** The map's WGSL: x, then the fusion's vectors (and Prelu's alpha), in the op's arg order. */
function epilogueFunction(attrs: FusionAttrs, dtype: string): MapFunction {
  const fusion = parseFusion(attrs);
  const params = fusion.kind === "BiasAdd" ? ["b"] : ["scale", "offset", "mean", "variance"];
  if (fusion.activation === "Prelu") params.push("alpha");
  const base = fusion.kind === "BiasAdd"
    ? "x + b"
    // TensorFlow's fused kernel: (x − mean) · (scale · rsqrt(variance + ε)) + offset.
    : "(x - mean) * (scale / sqrt(variance + u.epsilon)) + offset";
  let act = "y", helpers = "";
  switch (fusion.activation) {
    case "":
      break;
    case "LeakyRelu":
      act = "select(y, u.alpha * y, y < 0.0)";
      break;
    case "Prelu":
      act = "select(y, alpha * y, y < 0.0)";
      break;
    default: {
      const e = floatUnaryWgsl(fusion.activation)!;
      act = `act_(y)`;
      helpers = `${e.helpers}\nfn act_(x: f32) -> f32 { return ${e.float}; }`;
    }
  }
  const args = ["x", ...params].map((p) => `${p}: f32`).join(", ");
  // A 16-bit op stores the bias or norm's result before its activation (TensorFlow's unfused
  // ops): rounded to nearest even here too, so the activation sees the same value.
  const stored = dtype === "bfloat16"
    ? "bitcast<f32>((bitcast<u32>(y0) + 0x7fffu + ((bitcast<u32>(y0) >> 16u) & 1u)) & 0xffff0000u)"
    : dtype === "float16"
    ? "unpack2x16float(pack2x16float(vec2<f32>(y0, 0.0))).x"
    : "y0";
  const nan = dtype === "bfloat16" ? `select(${stored}, y0, is_nan(y0))` : stored;
  return {
    name: `fused.${fusion.kind}.${fusion.activation || "none"}.${dtype}`,
    wgsl: `${helpers}\nfn f(${args}) -> f32 { let y0 = ${base}; let y = ${
      fusion.activation === "" ? "y0" : nan
    }; return ${act}; }`,
    uniforms: [{ name: "epsilon", type: "f32" }, { name: "alpha", type: "f32" }],
  };
}

function fusedKernel<A extends FusionAttrs>(
  op: OpDef<A>,
  inner: GpuKernel,
  innerTolerance: (c: KernelCase<Attrs>) => Tolerance,
  dot: (c: KernelCase<A>) => { k: number },
  /** The contraction with the epilogue in its own stores, where it can (nn/epilogue.ts). */
  fusedInner?: (c: GpuConstruction<A>, e: Epilogue) => GpuInstance<A> | undefined,
): Kernel<A> {
  return defineGpuKernel(op, {
    dtypes: FLOATS,
    // Overflow and padded-tap differences are the contraction's, read from the same inputs.
    differs: inner.differs as never,
    create(c) {
      const fn = epilogueFunction(c.attrs, c.outputs[0].dtype);
      const vectors = c.inputs.length - 2;
      const one = storeFusion(c.attrs) && fusedInner?.(c, {
        fn,
        vectors,
        uniforms: [c.attrs.epsilon, c.attrs.leakyrelu_alpha],
      });
      if (one) return one;
      const contraction = inner.create!({ ...c, inputs: c.inputs.slice(0, 2) });
      const args = c.inputs.slice(2);
      const out = c.outputs[0];
      const map = new NodeMap(
        fn,
        [out.shape, ...args.map((a) => a.shape)],
        out.shape,
        [out, ...args].map((s) => staticBinding(c.device, s)),
        staticBinding(c.device, out),
        [c.attrs.epsilon, c.attrs.leakyrelu_alpha],
      );
      return {
        programs: [...contraction.programs, ...map.programs],
        run(ctx) {
          let temp: GpuBuffer | undefined;
          const inner = innerContext(ctx, {
            output: (_: number, shape?: readonly number[]) =>
              temp = retain(ctx.device.allocate({
                dtype: out.dtype,
                shape: shape ?? ctx.outputShape(0),
              })),
          });
          const free = () => temp && release(temp);
          try {
            const first = contraction.run(inner);
            const epilogue = () =>
              ctx.device.encode(ctx.node, [
                map.dispatch(
                  ctx.device,
                  [temp!, ...ctx.inputs.slice(2)],
                  ctx.output(0, temp!.shape),
                ),
              ]);
            const done = first instanceof Promise ? first.then(epilogue) : epilogue();
            if (done instanceof Promise) return done.finally(free);
            free();
          } catch (e) {
            free();
            throw e;
          }
        },
      } satisfies GpuInstance<A>;
    },
    tolerance: (c) => {
      const t = innerTolerance(c as unknown as KernelCase<Attrs>);
      const args = c.inputs.slice(2);
      const gain = Math.max(1, epilogueGain(args, c.attrs, args[0].size));
      const { k } = dot(c);
      const big = k * maxAbs(c.inputs[0].data as ArrayLike<number>) *
          maxAbs(c.inputs[1].data as ArrayLike<number>) +
        args.slice(0, 4).reduce((m, a) => m + maxAbs(a.data as ArrayLike<number>), 0);
      return {
        ...t,
        atol: (t.atol ?? 0) * gain + 16 * 2 ** -23 * big * gain,
        ulps: (t.ulps ?? 0) + 8,
        reason: `${t.reason}; then the epilogue in float32 with WGSL's exp/sqrt (a few ULPs)`,
      };
    },
  });
}

function maxAbs(v: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) {
    const a = Math.abs(Number(v[i]));
    if (a > m && a !== Infinity) m = a;
  }
  return m;
}

const PRELU: MapFunction = {
  name: "Prelu",
  wgsl: "fn f(x: f32, a: f32) -> f32 { return select(x, a * x, x < 0.0); }",
};

/** Prelu: one map, alpha broadcast along the last dim (or one value). */
export const preluKernel = defineGpuKernel(Prelu, {
  dtypes: FLOATS,
  create({ inputs: [x, alpha], outputs: [out], device }) {
    const map = new NodeMap(
      PRELU,
      [x.shape, alpha.shape],
      x.shape,
      [x, alpha].map((s) => staticBinding(device, s)),
      staticBinding(device, out),
    );
    return {
      programs: map.programs,
      run(ctx) {
        const [x, alpha] = ctx.inputs;
        return ctx.device.encode(ctx.node, [map.dispatch(ctx.device, [x, alpha], ctx.output(0))]);
      },
    };
  },
  tolerance: (c) => widenFor16(c.inputs[0].dtype, { atol: 0, reason: "one float32 product" }),
});

export const FUSED_KERNELS = [
  preluKernel,
  fusedKernel(
    FusedConv2D,
    conv2dKernel,
    conv2dKernel.tolerance as never,
    (c) => ({ k: c.inputs[1].shape[0] * c.inputs[1].shape[1] * c.inputs[1].shape[2] }),
    fusedConv2dInstance as never,
  ),
  fusedKernel(
    FusedDepthwiseConv2dNative,
    depthwiseKernel,
    depthwiseKernel.tolerance as never,
    (c) => ({ k: c.inputs[1].shape[0] * c.inputs[1].shape[1] }),
    fusedDepthwiseInstance,
  ),
  fusedKernel(FusedMatMul, matMulKernel, matMulKernel.tolerance as never, (c) => ({
    k: c.attrs.transpose_a ? c.inputs[0].shape[0] : c.inputs[0].shape[1],
  })),
];
