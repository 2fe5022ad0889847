/**
 * Softmax and LogSoftmax over the last axis as TensorFlow computes them: each row's maximum is
 * taken first (a workgroup tree), so exp never overflows; then the sum of exp(x - max), then
 * exp(x - max) / sum or (x - max) - log(sum), so huge logits keep their precision. A row with
 * NaN or +Inf (or all -Inf) is NaN throughout.
 */
import { LogSoftmax, Softmax, type SoftmaxAttrs } from "../../core/ops/nn.ts";
import type { OpDef } from "../../core/op.ts";
import type { Program } from "../../devices/webgpu/program.ts";
import { defineGpuKernel, FLOATS, floatTolerance, staticBinding } from "../kernel.ts";
import { type Binding, load, program, store } from "../wgsl.ts";
import { ROW_BAD, ROW_DECLS, ROW_WG, rowGrid, rowMain, treeReduce } from "./rows.ts";

function softmaxProgram(log: boolean, x: Binding, out: Binding): Program {
  const value = `select(${log ? "(v - mx) - log(total)" : "exp(v - mx) / total"}, nan_(), bad)`;
  return program({
    name: log ? "LogSoftmax" : "Softmax",
    key: [],
    inputs: [x],
    outputs: [out],
    uniforms: [{ name: "rows", type: "u32" }, { name: "n", type: "u32" }],
    body: () =>
      `${ROW_DECLS}
${rowMain()}
  let base = row * u.n;
  var m = neg_inf();
  for (var j = t; j < u.n; j += ${ROW_WG}u) { m = max(m, max_key(${load("in0", "base + j", x)})); }
${treeReduce("mx", "m", "max")}
  ${ROW_BAD}
  var sum = 0.0;
  for (var j = t; j < u.n; j += ${ROW_WG}u) {
    sum += select(exp(${load("in0", "base + j", x)} - mx), 0.0, bad);
  }
${treeReduce("total", "sum", "+")}
  for (var j = t; j < u.n; j += ${ROW_WG}u) {
    let v = ${load("in0", "base + j", x)};
    ${store("out0", "base + j", value, out)}
  }
}
`,
  });
}

function makeSoftmaxKernel(op: OpDef<SoftmaxAttrs>, log: boolean) {
  return defineGpuKernel(op, {
    dtypes: FLOATS,
    create({ inputs: [x], outputs: [out], device }) {
      const p = softmaxProgram(log, staticBinding(device, x), staticBinding(device, out));
      return {
        programs: [p],
        run(ctx) {
          const x = ctx.inputs[0];
          const out = ctx.output(0, x.shape);
          const n = x.shape[x.shape.length - 1];
          const rows = n === 0 ? 0 : x.size / n;
          return ctx.device.encode(ctx.node, [{
            program: p,
            inputs: [x],
            outputs: [out],
            uniforms: [rows, n],
            workgroups: rowGrid(rows, ctx.device.maxWorkgroups),
          }]);
        },
      };
    },
    tolerance: floatTolerance(
      { ulps: 16, atol: 1e-6 },
      "float32 sums in tree order and WGSL's exp/log (a few ULPs each)",
    ),
  });
}

export const softmaxKernel = makeSoftmaxKernel(Softmax, false);
export const logSoftmaxKernel = makeSoftmaxKernel(LogSoftmax, true);
export const SOFTMAX_KERNELS = [softmaxKernel, logSoftmaxKernel];
