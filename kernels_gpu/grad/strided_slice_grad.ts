/**
 * StridedSliceGrad as a gather: each output element (coordinates c over `shape`) holds the dy
 * element StridedSlice would have read it into, or zero. Along dim d it is hit when
 * t = c[d] - begin[d] is a multiple of stride[d] with t / stride[d] in [0, size[d]); the
 * division runs on magnitudes (u32), since WGSL's i32 `/` and `%` of negative operands become
 * GLSL's, undefined, on the GL backend. Elements move in their storage type: exact, every dtype.
 */
import { intVector } from "../../core/ops/array_util.ts";
import { checkSliceGradDy, StridedSliceGrad } from "../../core/ops/grad_array.ts";
import { resolveStridedSlice } from "../../core/ops/slice_spec.ts";
import { stridesOf } from "../../core/shape.ts";
import type { Program } from "../../devices/webgpu/program.ts";
import type { StorageType } from "../../devices/webgpu/storage.ts";
import { GPU_DTYPES } from "../../devices/webgpu/storage.ts";
import { defineGpuKernel, NodePrograms } from "../kernel.ts";
import { dimFields, linearGrid, linearMain, program } from "../wgsl.ts";

const WG = 256;

function scatterProgram(type: StorageType, rank: number): Program {
  const b = { type, dtype: "float32" as const };
  const lines = [
    linearMain(WG),
    "  if (i >= u.n) { return; }",
    "  var rest = i;",
    "  var src = 0u;",
  ];
  lines.push("  var hit = true;");
  for (let d = rank - 1; d >= 0; d--) {
    lines.push(
      `  let c${d} = i32(rest % u.d${d});`,
      `  rest = rest / u.d${d};`,
      `  let t${d} = c${d} - u.b${d};`,
      `  let m${d} = select(u32(t${d}), u32(-t${d}), t${d} < 0);`,
      `  let q${d} = m${d} / u.a${d};`,
      `  hit = hit && (t${d} == 0 || (t${d} < 0) == (u.s${d} < 0)) && q${d} * u.a${d} == m${d} && q${d} < u.p${d};`,
      `  src += q${d} * u.y${d};`,
    );
  }
  lines.push(`  if (hit) { out0[i] = in0[src]; } else { out0[i] = ${type}(); }`, "}");
  return program({
    name: "grad.StridedSliceGrad",
    key: [rank],
    inputs: [b],
    outputs: [b],
    uniforms: [
      { name: "n", type: "u32" },
      ...dimFields("d", rank),
      ...dimFields("b", rank, "i32"),
      ...dimFields("s", rank, "i32"),
      ...dimFields("a", rank),
      ...dimFields("p", rank),
      ...dimFields("y", rank),
    ],
    body: () => lines.join("\n") + "\n",
  });
}

export const stridedSliceGradKernel = defineGpuKernel(StridedSliceGrad, {
  dtypes: GPU_DTYPES,
  create({ inputs, outputs: [out], device }) {
    const type = device.storageOf(inputs[4].dtype);
    const programs = new NodePrograms();
    const rank = out.shape?.length;
    if (rank !== undefined) programs.seed(`${rank}`, () => scatterProgram(type, rank));
    return {
      programs: programs.programs,
      run(ctx) {
        const dy = ctx.inputs[4];
        const [dims, begin, end, strides] = ["shape", "begin", "end", "strides"].map((w, i) =>
          intVector(ctx.hostInput(i), w)
        );
        const spec = resolveStridedSlice(dims, begin, end, strides, ctx.attrs);
        checkSliceGradDy(dy.shape, dims, spec.finalShape);
        const o = ctx.output(0, dims);
        const n = o.size;
        const r = dims.length;
        const p = programs.get(`${r}`, () => scatterProgram(type, r));
        const dyStrides = stridesOf(spec.processingShape);
        return ctx.device.encode(ctx.node, [{
          program: p,
          inputs: [dy],
          outputs: [o],
          uniforms: [
            n,
            ...dims,
            ...spec.begin,
            ...spec.strides,
            ...spec.strides.map(Math.abs),
            ...spec.processingShape,
            ...dyStrides,
          ],
          workgroups: n === 0 ? [0] : linearGrid(n, WG, ctx.device.maxWorkgroups),
        }]);
      },
    };
  },
});
