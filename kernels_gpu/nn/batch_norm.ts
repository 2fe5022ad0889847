/**
 * FusedBatchNormV3 in training mode and FusedBatchNormGradV3. A per-channel program (one
 * invocation per channel, summing its elements in float32 in element order) computes the
 * batch's statistics or the gradient's two sums; an elementwise map then normalizes, or forms
 * x_backprop, with the channel vectors broadcast along the channel dim (channel.ts's views).
 * Error bounds: core/batch_norm_bounds.ts, with WGSL's sqrt and division taken as 6 ULPs.
 */
import { batchNormGradBound, batchNormTrainingBound } from "../../core/batch_norm_bounds.ts";
import { release, retain } from "../../core/buffer.ts";
import { admittingOverflow, type KernelCase, type Tolerance } from "../../core/kernel.ts";
import { FusedBatchNormGradV3 } from "../../core/ops/grad_batch_norm.ts";
import type { FusedBatchNormV3Attrs } from "../../core/ops/nn.ts";
import { Tensor } from "../../core/tensor.ts";
import type { GpuBuffer } from "../../devices/webgpu/buffer.ts";
import type { GpuInstance } from "../../devices/webgpu/device.ts";
import type { Program } from "../../devices/webgpu/program.ts";
import { type MapFunction, NodeMap } from "../elementwise/map.ts";
import {
  bindingFor,
  defineGpuKernel,
  FLOATS,
  type GpuConstruction,
  staticBinding,
  widenFor16,
} from "../kernel.ts";
import { type Binding, linearGrid, linearMain, load, program } from "../wgsl.ts";
import { channelView, NORMALIZE } from "./channel.ts";

const WG = 64;
const U = 2 ** -24;
/** ULPs of each WGSL sqrt or division step in the bounds. */
const K = 6;
const ZERO = Tensor.zeros("float32", []);

/** `i`'s flat index of element j of channel c (NHWC: inner 1; NCHW: inner H·W). */
const ELEMENT = "(j / u.inner) * u.C * u.inner + c * u.inner + j % u.inner";

const STAT_UNIFORMS = [
  { name: "C", type: "u32" as const },
  { name: "n", type: "u32" as const },
  { name: "inner", type: "u32" as const },
  { name: "average", type: "u32" as const },
  { name: "keep", type: "f32" as const },
  { name: "factor", type: "f32" as const },
  { name: "bessel", type: "f32" as const },
];

/** Batch statistics: in0 x, in1/in2 the running mean and variance; out0..3 running mean, running
 * variance, the batch's mean and biased variance. */
function statsProgram(x: Binding, f32: Binding): Program {
  return program({
    name: "batch_norm.stats",
    key: [],
    inputs: [x, f32, f32],
    outputs: [f32, f32, f32, f32],
    uniforms: STAT_UNIFORMS,
    body: () =>
      `${linearMain(WG)}
  let c = i;
  if (c >= u.C) { return; }
  var s = 0.0;
  for (var j = 0u; j < u.n; j++) { s += ${load("in0", ELEMENT, x)}; }
  let m = s / f32(u.n);
  var q = 0.0;
  for (var j = 0u; j < u.n; j++) {
    let d = ${load("in0", ELEMENT, x)} - m;
    q += d * d;
  }
  let v = q / f32(u.n);
  out2[c] = m;
  out3[c] = v;
  let unbiased = v * u.bessel;
  if (u.average != 0u) {
    out0[c] = u.keep * in1[c] + u.factor * m;
    out1[c] = u.keep * in2[c] + u.factor * unbiased;
  } else {
    out0[c] = m;
    out1[c] = unbiased;
  }
}
`,
  });
}

/** The channel count, elements per channel and inner size of a 4-D x. */
function channels(shape: readonly number[], nchw: boolean) {
  const C = shape[nchw ? 1 : 3], inner = nchw ? shape[2] * shape[3] : 1;
  return { C, n: C > 0 ? shape.reduce((a, b) => a * b, 1) / C : 0, inner };
}

/** FusedBatchNormV3's training instance (channel.ts picks it for is_training nodes). */
export function batchNormTrainingInstance(
  { inputs, outputs, attrs, device }: GpuConstruction<FusedBatchNormV3Attrs>,
): GpuInstance<FusedBatchNormV3Attrs> {
  const x = inputs[0];
  const nchw = attrs.data_format === "NCHW";
  const c = outputs[1].shape?.[0] ?? -1;
  const vShape = nchw ? [c, 1, 1] : [c];
  const f32 = bindingFor(device, "float32");
  const stats = statsProgram(staticBinding(device, x), f32);
  const map = new NodeMap(
    NORMALIZE,
    [x.shape, vShape, vShape, vShape, vShape],
    x.shape?.length === 4 ? x.shape : null,
    [staticBinding(device, x), f32, f32, f32, f32],
    staticBinding(device, outputs[0]),
    [attrs.epsilon],
  );
  const factor = attrs.exponential_avg_factor;
  return {
    programs: [stats, ...map.programs],
    run(ctx) {
      const [x, scale, offset, mean, variance] = ctx.inputs;
      const { C, n, inner } = channels(x.shape, nchw);
      const y = ctx.output(0);
      const [runMean, runVar, m, v] = [1, 2, 3, 4].map((i) => ctx.output(i, [C]));
      ctx.setOutput(5, ctx.device.constant(ZERO));
      const average = factor === 1 ? 0 : 1;
      const vectors = [scale, offset, m, v].map((b) => channelView(ctx.device, b, 4, nchw));
      return ctx.device.encode(ctx.node, [
        {
          program: stats,
          inputs: [x, mean, variance],
          outputs: [runMean, runVar, m, v],
          uniforms: [C, n, inner, average, 1 - factor, factor, n > 1 ? n / (n - 1) : 1],
          workgroups: C === 0 ? [0] : linearGrid(C, WG, ctx.device.maxWorkgroups),
        },
        map.dispatch(ctx.device, [x, ...vectors], y),
      ]);
    },
  };
}

export function batchNormTrainingTolerance(c: KernelCase<FusedBatchNormV3Attrs>): Tolerance {
  const { atol, partial } = batchNormTrainingBound(c.inputs, c.attrs, K);
  return admittingOverflow(
    widenFor16(c.attrs.T, {
      atol,
      rtol: 2 * U,
      reason: "float32 batch statistics, WGSL's sqrt and division (core/batch_norm_bounds.ts)",
    }),
    partial,
  );
}

// ---- FusedBatchNormGradV3 ----------------------------------------------------------------

/** in0 dy, in1 x, in2 mean, in3 variance; out0 Σdy·x̂, out1 Σdy, out2 Σdy/n, out3 Σdy·x̂/n. */
function gradSumsProgram(dy: Binding, x: Binding, f32: Binding): Program {
  return program({
    name: "batch_norm.grad_sums",
    key: [],
    inputs: [dy, x, f32, f32],
    outputs: [f32, f32, f32, f32],
    uniforms: [
      { name: "C", type: "u32" },
      { name: "n", type: "u32" },
      { name: "inner", type: "u32" },
      { name: "epsilon", type: "f32" },
    ],
    body: () =>
      `${linearMain(WG)}
  let c = i;
  if (c >= u.C) { return; }
  let r = 1.0 / sqrt(in3[c] + u.epsilon);
  var sdy = 0.0;
  var sdx = 0.0;
  for (var j = 0u; j < u.n; j++) {
    let k = ${ELEMENT};
    let g = ${load("in0", "k", dy)};
    sdy += g;
    sdx += g * ((${load("in1", "k", x)} - in2[c]) * r);
  }
  out0[c] = sdx;
  out1[c] = sdy;
  out2[c] = sdy / f32(u.n);
  out3[c] = sdx / f32(u.n);
}
`,
  });
}

const GRAD_UNIFORMS = [{ name: "epsilon", type: "f32" as const }];
const TRAINING_DX: MapFunction = {
  name: "batch_norm.dx.training",
  wgsl: `fn f(dy: f32, x: f32, s: f32, m: f32, v: f32, mdy: f32, mdx: f32) -> f32 {
  let r = 1.0 / sqrt(v + u.epsilon);
  return (s * r) * ((dy - mdy) - ((x - m) * r) * mdx);
}`,
  uniforms: GRAD_UNIFORMS,
};
const INFERENCE_DX: MapFunction = {
  name: "batch_norm.dx.inference",
  wgsl: `fn f(dy: f32, x: f32, s: f32, m: f32, v: f32, mdy: f32, mdx: f32) -> f32 {
  return dy * (s * (1.0 / sqrt(v + u.epsilon)));
}`,
  uniforms: GRAD_UNIFORMS,
};

export const fusedBatchNormGradKernel = defineGpuKernel(FusedBatchNormGradV3, {
  dtypes: FLOATS,
  create({ inputs, outputs, attrs, device }) {
    const [dy, x] = inputs;
    const nchw = attrs.data_format === "NCHW";
    const c = outputs[1].shape?.[0] ?? -1;
    const vShape = nchw ? [c, 1, 1] : [c];
    const f32 = bindingFor(device, "float32");
    const sums = gradSumsProgram(staticBinding(device, dy), staticBinding(device, x), f32);
    const rank4 = x.shape?.length === 4 ? x.shape : null;
    const map = new NodeMap(
      attrs.is_training ? TRAINING_DX : INFERENCE_DX,
      [dy.shape, x.shape, vShape, vShape, vShape, vShape, vShape],
      rank4,
      [staticBinding(device, dy), staticBinding(device, x), f32, f32, f32, f32, f32],
      staticBinding(device, outputs[0]),
      [attrs.epsilon],
    );
    return {
      programs: [sums, ...map.programs],
      run(ctx) {
        const [dy, x, scale, mean, variance] = ctx.inputs;
        const { C, n, inner } = channels(x.shape, nchw);
        const dx = ctx.output(0, x.shape);
        const scaleGrad = ctx.output(1, [C]), offsetGrad = ctx.output(2, [C]);
        ctx.output(3, [0]);
        ctx.output(4, [0]);
        const temps: GpuBuffer[] = [0, 1].map(() =>
          retain(ctx.device.allocate({ dtype: "float32", shape: [C] }))
        );
        const vectors = [scale, mean, variance, ...temps].map((b) =>
          channelView(ctx.device, b, 4, nchw)
        );
        const done = ctx.device.encode(ctx.node, [
          {
            program: sums,
            inputs: [dy, x, mean, variance],
            outputs: [scaleGrad, offsetGrad, ...temps],
            uniforms: [C, n, inner, attrs.epsilon],
            workgroups: C === 0 ? [0] : linearGrid(C, WG, ctx.device.maxWorkgroups),
          },
          map.dispatch(ctx.device, [dy, x, ...vectors], dx),
        ]);
        // The temporaries go back to the pool once recorded (the batch runs in order).
        const free = () => temps.forEach(release);
        if (done instanceof Promise) return done.finally(free);
        free();
      },
    };
  },
  tolerance: (c) => {
    const { atol, partial } = batchNormGradBound(c.inputs, c.attrs, K);
    return admittingOverflow(
      widenFor16(c.attrs.T, {
        atol,
        rtol: 2 * U,
        reason: "float32 sums, WGSL's sqrt and division (core/batch_norm_bounds.ts)",
      }),
      partial,
    );
  },
});
