/**
 * GatherV2 and OneHot: one invocation per output element finds its source through an index read
 * on the GPU. GatherV2 follows core's resolveGather layout ([batch, outer, count, inner]); an
 * index outside [0, axisDim) yields 0, as TensorFlow's GPU kernel does (the CPU kernel and the
 * reference raise; the op's cases draw valid indices). OneHot follows resolveOneHot.
 */
import { intScalar } from "../../core/ops/array_util.ts";
import { GatherV2, resolveGather } from "../../core/ops/gather.ts";
import { OneHot, resolveOneHot } from "../../core/ops/select.ts";
import type { Program } from "../../devices/webgpu/program.ts";
import type { StorageType } from "../../devices/webgpu/storage.ts";
import { GPU_DTYPES } from "../../devices/webgpu/storage.ts";
import { defineGpuKernel } from "../kernel.ts";
import { linearGrid, linearMain, program } from "../wgsl.ts";

const WG = 256;
const nominal = (type: StorageType) => ({ type, dtype: "float32" as const });

function gatherProgram(type: StorageType): Program {
  return program({
    name: "GatherV2",
    key: [],
    inputs: [nominal(type), nominal("i32")],
    outputs: [nominal(type)],
    uniforms: ["n", "outer", "axisDim", "count", "inner"].map((name) => ({ name, type: "u32" })),
    body: () =>
      `${linearMain(WG)}
  if (i >= u.n) { return; }
  let r = i % u.inner;
  var rest = i / u.inner;
  let j = rest % u.count;
  rest = rest / u.count;
  let o = rest % u.outer;
  let b = rest / u.outer;
  let index = in1[b * u.count + j];
  let ok = index >= 0 && u32(index) < u.axisDim;
  let src = ((b * u.outer + o) * u.axisDim + u32(max(index, 0))) * u.inner + r;
  out0[i] = select(${type}(0), in0[select(0u, src, ok)], ok);
}
`,
  });
}

export const gatherKernel = defineGpuKernel(GatherV2, {
  dtypes: GPU_DTYPES,
  create({ inputs: [params], device }) {
    const p = gatherProgram(device.storageOf(params.dtype));
    return {
      programs: [p],
      run(ctx) {
        const [params, indices] = ctx.inputs;
        const plan = resolveGather(
          params.shape,
          indices.shape,
          intScalar(ctx.hostInput(2), "axis"),
          ctx.attrs.batch_dims,
        );
        const out = ctx.output(0, plan.outShape);
        return ctx.device.encode(ctx.node, [{
          program: p,
          inputs: [params, indices],
          outputs: [out],
          uniforms: [out.size, plan.outer, plan.axisDim, plan.count, plan.inner],
          workgroups: linearGrid(out.size, WG, ctx.device.maxWorkgroups),
        }]);
      },
    };
  },
});

function oneHotProgram(type: StorageType): Program {
  return program({
    name: "OneHot",
    key: [],
    inputs: [nominal("i32"), nominal(type), nominal(type)],
    outputs: [nominal(type)],
    uniforms: ["n", "depth", "inner"].map((name) => ({ name, type: "u32" })),
    body: () =>
      `${linearMain(WG)}
  if (i >= u.n) { return; }
  let r = i % u.inner;
  let rest = i / u.inner;
  let d = rest % u.depth;
  let o = rest / u.depth;
  out0[i] = select(in2[0], in1[0], in0[o * u.inner + r] == i32(d));
}
`,
  });
}

export const oneHotKernel = defineGpuKernel(OneHot, {
  dtypes: GPU_DTYPES,
  create({ attrs, device }) {
    const p = oneHotProgram(device.storageOf(attrs.T));
    return {
      programs: [p],
      run(ctx) {
        const [indices, , on, off] = ctx.inputs;
        const depth = intScalar(ctx.hostInput(1), "depth");
        const plan = resolveOneHot(indices.shape, depth, attrs.axis);
        const out = ctx.output(0, plan.outShape);
        return ctx.device.encode(ctx.node, [{
          program: p,
          inputs: [indices, on, off],
          outputs: [out],
          uniforms: [out.size, plan.depth, plan.inner],
          workgroups: linearGrid(out.size, WG, ctx.device.maxWorkgroups),
        }]);
      },
    };
  },
});

export const GATHER_KERNELS = [gatherKernel, oneHotKernel];
