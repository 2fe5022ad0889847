/**
 * ResizeBilinear, ResizeNearestNeighbor, GatherNd and ScatterNd: one invocation per output element. The
 * resizes read core's resizePlan tables (source rows, columns and float32 lerps), uploaded once
 * per shape as device constants, so no coordinate is computed again in WGSL (whose compilers may
 * contract a multiply-add). Bilinear is TensorFlow's compute_lerp: WGSL's f32 +, − and × are
 * correctly rounded, so the result is the reference's. GatherNd walks each index row with the
 * depth unrolled in the program; an index outside params yields 0, as TensorFlow's GPU kernel
 * (the op's check refuses it before the kernel runs on every device).
 */
import { GatherNd, gatherNdPlan, ScatterNd } from "../../core/ops/gather_nd.ts";
import { intVector } from "../../core/ops/array_util.ts";
import {
  type ResizeAttrs,
  ResizeBilinear,
  ResizeNearestNeighbor,
  resizePlan,
} from "../../core/ops/resize.ts";
import { Tensor } from "../../core/tensor.ts";
import type { Program } from "../../devices/webgpu/program.ts";
import type { StorageType } from "../../devices/webgpu/storage.ts";
import { GPU_DTYPES } from "../../devices/webgpu/storage.ts";
import { defineGpuKernel, NodePrograms } from "../kernel.ts";
import { linearGrid, linearMain, program } from "../wgsl.ts";

const WG = 256;
const nominal = (type: StorageType) => ({ type, dtype: "float32" as const });
const u32s = (names: string[]) => names.map((name) => ({ name, type: "u32" as const }));

function resizeProgram(kind: "bilinear" | "nearest", type: StorageType): Program {
  const lerp = `
  let dx = in2[u.oh + x];
  let dy = in2[y];
  let top = ((b * u.h + u32(in1[y])) * u.w) * u.c;
  let bottom = ((b * u.h + u32(in1[u.oh + y])) * u.w) * u.c;
  let l = u32(in1[2u * u.oh + x]) * u.c + k;
  let r = u32(in1[2u * u.oh + u.ow + x]) * u.c + k;
  let tl = in0[top + l]; let tr = in0[top + r];
  let bl = in0[bottom + l]; let br = in0[bottom + r];
  let t = tl + (tr - tl) * dx;
  let bo = bl + (br - bl) * dx;
  out0[i] = t + (bo - t) * dy;`;
  const copy = `
  out0[i] = in0[((b * u.h + u32(in1[y])) * u.w + u32(in1[u.oh + x])) * u.c + k];`;
  return program({
    name: `Resize.${kind}`,
    key: [],
    inputs: kind === "bilinear"
      ? [nominal(type), nominal("i32"), nominal("f32")]
      : [nominal(type), nominal("i32")],
    outputs: [nominal(kind === "bilinear" ? "f32" : type)],
    uniforms: u32s(["n", "h", "w", "c", "oh", "ow"]),
    body: () =>
      `${linearMain(WG)}
  if (i >= u.n) { return; }
  let k = i % u.c;
  var rest = i / u.c;
  let x = rest % u.ow;
  rest = rest / u.ow;
  let y = rest % u.oh;
  let b = rest / u.oh;${kind === "bilinear" ? lerp : copy}
}
`,
  });
}

/** The plan's tables as tensors, memoized by the shapes and size they depend on. */
function tables(kind: "bilinear" | "nearest", attrs: ResizeAttrs) {
  const memo = new Map<string, { outShape: number[]; index: Tensor; lerp: Tensor }>();
  return (shape: readonly number[], size: Tensor) => {
    const key = `${shape.join(",")}|${Array.from(size.data as Int32Array).join(",")}`;
    let t = memo.get(key);
    if (!t) {
      const p = resizePlan(kind, shape, size, attrs);
      const [, oh, ow] = p.outShape;
      const index = kind === "bilinear"
        ? [...p.rows.lower, ...p.rows.upper, ...p.cols.lower, ...p.cols.upper]
        : [...p.rows.lower, ...p.cols.lower];
      t = {
        outShape: p.outShape,
        index: new Tensor("int32", [index.length], Int32Array.from(index)),
        lerp: new Tensor("float32", [oh + ow], Float32Array.from([...p.rows.lerp, ...p.cols.lerp])),
      };
      if (memo.size > 16) memo.clear();
      memo.set(key, t);
    }
    return t;
  };
}

function resizeKernel(kind: "bilinear" | "nearest") {
  const op = kind === "bilinear" ? ResizeBilinear : ResizeNearestNeighbor;
  return defineGpuKernel(op, {
    dtypes: kind === "bilinear" ? ["float32"] : GPU_DTYPES,
    create({ inputs: [x], attrs, device }) {
      const p = resizeProgram(kind, device.storageOf(x.dtype));
      const plans = tables(kind, attrs);
      return {
        programs: [p],
        run(ctx) {
          const [x] = ctx.inputs;
          const t = plans(x.shape, ctx.hostInput(1));
          const out = ctx.output(0, t.outShape);
          if (out.size === 0) return;
          const [, h, w] = x.shape, [, oh, ow, c] = t.outShape;
          const inputs = [x, ctx.device.constant(t.index)];
          if (kind === "bilinear") inputs.push(ctx.device.constant(t.lerp));
          return ctx.device.encode(ctx.node, [{
            program: p,
            inputs,
            outputs: [out],
            uniforms: [out.size, h, w, c, oh, ow],
            workgroups: linearGrid(out.size, WG, ctx.device.maxWorkgroups),
          }]);
        },
      };
    },
    tolerance: {
      atol: 0,
      reason: "the reference's float32 operations in its order (WGSL's +, −, × round correctly)",
    },
  });
}

function gatherNdProgram(type: StorageType, depth: number): Program {
  const rows = Array.from({ length: depth }, (_, d) => `
  let v${d} = in1[row * ${depth}u + ${d}u];
  ok = ok && v${d} >= 0 && u32(v${d}) < u.d${d};
  src = src + u32(max(v${d}, 0)) * u.s${d};`).join("");
  return program({
    name: "GatherNd",
    key: [`${depth}`],
    inputs: [nominal(type), nominal("i32")],
    outputs: [nominal(type)],
    uniforms: u32s([
      "n",
      "inner",
      ...Array.from({ length: depth }, (_, d) => `d${d}`),
      ...Array.from({ length: depth }, (_, d) => `s${d}`),
    ]),
    body: () =>
      `${linearMain(WG)}
  if (i >= u.n) { return; }
  let r = i % u.inner;
  let row = i / u.inner;
  var ok = true;
  var src = 0u;${rows}
  out0[i] = select(${type}(0), in0[select(0u, src + r, ok)], ok);
}
`,
  });
}

export const gatherNdKernel = defineGpuKernel(GatherNd, {
  dtypes: GPU_DTYPES,
  create({ inputs: [params, indices], device }) {
    const type = device.storageOf(params.dtype);
    const make = (depth: number) => () => gatherNdProgram(type, depth);
    const programs = new NodePrograms();
    const depth = indices.shape?.[indices.shape.length - 1] ?? -1;
    if (depth >= 0) programs.seed(`${depth}`, make(depth));
    return {
      programs: programs.programs,
      run(ctx) {
        const [params, indices] = ctx.inputs;
        const plan = gatherNdPlan(params.shape, indices.shape);
        const out = ctx.output(0, plan.outShape);
        if (out.size === 0) return;
        const p = programs.get(`${plan.depth}`, make(plan.depth));
        return ctx.device.encode(ctx.node, [{
          program: p,
          inputs: [params, indices],
          outputs: [out],
          uniforms: [
            out.size,
            plan.inner,
            ...params.shape.slice(0, plan.depth),
            ...plan.strides,
          ],
          workgroups: linearGrid(out.size, WG, ctx.device.maxWorkgroups),
        }]);
      },
    };
  },
});

/**
 * ScatterNd: one invocation per output element walks the index rows in order and adds the
 * updates of every row that lands on it: the reference's order, so float32 rounds as it does
 * (and int32 wraps), at O(rows) per element.
 */
function scatterNdProgram(type: StorageType, depth: number): Program {
  const row = Array.from({ length: depth }, (_, d) => `
    to = to + u32(in0[r * ${depth}u + ${d}u]) * u.s${d};`).join("");
  return program({
    name: "ScatterNd",
    key: [`${depth}`],
    inputs: [nominal("i32"), nominal(type)],
    outputs: [nominal(type)],
    uniforms: u32s([
      "n",
      "inner",
      "count",
      ...Array.from({ length: depth }, (_, d) => `s${d}`),
    ]),
    body: () =>
      `${linearMain(WG)}
  if (i >= u.n) { return; }
  let col = i % u.inner;
  let at = i - col;
  var acc = ${type}(0);
  for (var r = 0u; r < u.count; r = r + 1u) {
    var to = 0u;${row}
    if (to == at) { acc = acc + in1[r * u.inner + col]; }
  }
  out0[i] = acc;
}
`,
  });
}

export const scatterNdKernel = defineGpuKernel(ScatterNd, {
  dtypes: ["float32", "int32"],
  create({ inputs: [indices, updates], device }) {
    const type = device.storageOf(updates.dtype);
    const make = (depth: number) => () => scatterNdProgram(type, depth);
    const programs = new NodePrograms();
    const depth = indices.shape?.[indices.shape.length - 1] ?? -1;
    if (depth >= 0) programs.seed(`${depth}`, make(depth));
    return {
      programs: programs.programs,
      run(ctx) {
        const [indices, updates] = ctx.inputs;
        const target = intVector(ctx.hostInput(2), "shape");
        const plan = gatherNdPlan(target, indices.shape);
        const out = ctx.output(0, target);
        if (out.size === 0) return;
        const p = programs.get(`${plan.depth}`, make(plan.depth));
        return ctx.device.encode(ctx.node, [{
          program: p,
          inputs: [indices, updates],
          outputs: [out],
          uniforms: [
            out.size,
            Math.max(1, plan.inner),
            plan.inner === 0 ? 0 : plan.count,
            ...plan.strides,
          ],
          workgroups: linearGrid(out.size, WG, ctx.device.maxWorkgroups),
        }]);
      },
    };
  },
  tolerance: { atol: 0, reason: "the reference's additions in its order" },
});

export const IMAGE_KERNELS = [
  resizeKernel("bilinear"),
  resizeKernel("nearest"),
  gatherNdKernel,
  scatterNdKernel,
];
