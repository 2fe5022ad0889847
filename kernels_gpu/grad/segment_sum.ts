/**
 * UnsortedSegmentSum (GatherV2's gradient) as a gather: one invocation per output element
 * [segment s, k] sums data[j, k] over the ids j equal to s, in id order (no atomics: WGSL has
 * none for floats). num_segments is host memory; ids ≥ num_segments were refused by the op's
 * checks before the kernel, and negative ids match no segment (dropped, as in TensorFlow).
 * int64 ids are stored as checked int32 on this device.
 */
import { intScalar } from "../../core/ops/array_util.ts";
import { UnsortedSegmentSum } from "../../core/ops/grad_array.ts";
import { sizeOf } from "../../core/shape.ts";
import { ARITHMETIC, defineGpuKernel, staticBinding } from "../kernel.ts";
import { computeType, linearGrid, linearMain, load, program, store } from "../wgsl.ts";
import { sumTolerance } from "./window_kernels.ts";
import { maxAbsOf } from "./util.ts";

const WG = 64;

export const unsortedSegmentSumKernel = defineGpuKernel(UnsortedSegmentSum, {
  dtypes: ARITHMETIC,
  create({ inputs: [data, ids], outputs: [out], device }) {
    const ins = [staticBinding(device, data), staticBinding(device, ids)];
    const ob = staticBinding(device, out);
    const t = computeType(data.dtype);
    const p = program({
      name: "grad.UnsortedSegmentSum",
      key: [],
      inputs: ins,
      outputs: [ob],
      uniforms: [
        { name: "n", type: "u32" },
        { name: "inner", type: "u32" },
        { name: "ids", type: "u32" },
      ],
      body: () =>
        `${linearMain(WG)}
  if (i >= u.n) { return; }
  let k = i % u.inner;
  let s = i32(i / u.inner);
  var acc = ${t}(0);
  for (var j = 0u; j < u.ids; j++) {
    if (in1[j] == s) { acc += ${load("in0", "j * u.inner + k", ins[0])}; }
  }
  ${store("out0", "i", "acc", ob)}
}`,
    });
    return {
      programs: [p],
      run(ctx) {
        const [data, ids] = ctx.inputs;
        const count = intScalar(ctx.hostInput(2), "num_segments");
        const shape = [count, ...data.shape.slice(ids.shape.length)];
        const o = ctx.output(0, shape);
        const n = o.size;
        return ctx.device.encode(ctx.node, [{
          program: p,
          inputs: [data, ids],
          outputs: [o],
          uniforms: [n, sizeOf(shape.slice(1)), ids.size],
          workgroups: n === 0 ? [0] : linearGrid(n, WG, ctx.device.maxWorkgroups),
        }]);
      },
    };
  },
  tolerance: ({ inputs: [data, ids], attrs }) =>
    attrs.T === "int32"
      ? { reason: "exact: int32 sums wrap as the reference's" }
      : sumTolerance(attrs.T, Math.max(1, ids.size), maxAbsOf(data), "float32 sums in id order"),
});
