/**
 * SoftmaxCrossEntropyWithLogits and SparseSoftmaxCrossEntropyWithLogits as TensorFlow computes
 * them: per row the max, the shifted logits d = f - max and the sum of exp(d); the loss
 * Σ label · (log(sum) - d) as a workgroup-tree sum, and the backprop exp(d) / sum - labels. Huge
 * logits keep their precision; a row with NaN or +Inf (or all -Inf) is NaN throughout. Broadcast features and labels are read through row and column
 * strides (0 along a stretched dim). A sparse label outside [0, classes) gives NaN loss and
 * backprop, as TensorFlow's GPU kernel does (its CPU kernel and the reference raise instead, and
 * the op's cases never draw one).
 */
import type { DType } from "../../core/dtype.ts";
import { admittingOverflow, type KernelCase, type Tolerance } from "../../core/kernel.ts";
import { crossEntropyRows } from "../../core/cross_entropy_bounds.ts";
import type { Attrs, OpDef } from "../../core/op.ts";
import {
  SoftmaxCrossEntropyWithLogits,
  SparseSoftmaxCrossEntropyWithLogits,
} from "../../core/ops/loss.ts";
import type { Shape } from "../../core/shape.ts";
import type { Program } from "../../devices/webgpu/program.ts";
import { defineGpuKernel, FLOATS, staticBinding, widenFor16 } from "../kernel.ts";
import { type Binding, load, program, store } from "../wgsl.ts";
import { ROW_BAD, ROW_DECLS, ROW_WG, rowGrid, rowMain, treeReduce } from "./rows.ts";

function xentProgram(sparse: boolean, f: Binding, l: Binding, loss: Binding, bp: Binding): Program {
  const feature = (j: string) => load("in0", `row * u.fr + ${j} * u.fc`, f);
  // The sparse loss is the label's term alone, as TensorFlow's: 0 · (log_sum - d) would be NaN
  // for another class whose logit is -Inf.
  const term = sparse ? "select(0.0, log_sum - d, j == lab)" : "y * (log_sum - d)";
  const label = (j: string) =>
    sparse ? `select(0.0, 1.0, ${j} == lab)` : load("in1", `row * u.lr + ${j} * u.lc`, l);
  return program({
    name: sparse ? "SparseSoftmaxCrossEntropy" : "SoftmaxCrossEntropy",
    key: [],
    inputs: [f, l],
    outputs: [loss, bp],
    uniforms: ["rows", "n", "fr", "fc", "lr", "lc"].map((name) => ({ name, type: "u32" })),
    body: () =>
      `${ROW_DECLS}
${rowMain()}
  ${sparse ? "let lab = u32(in1[row]);\n  let bad_label = in1[row] < 0 || lab >= u.n;" : ""}
  var m = neg_inf();
  for (var j = t; j < u.n; j += ${ROW_WG}u) { m = max(m, max_key(${feature("j")})); }
${treeReduce("mx", "m", "max")}
  ${ROW_BAD}
  var sum = 0.0;
  for (var j = t; j < u.n; j += ${ROW_WG}u) { sum += select(exp(${feature("j")} - mx), 0.0, bad); }
${treeReduce("total", "sum", "+")}
  let log_sum = log(total);
  let nan_row = bad${sparse ? " || bad_label" : ""};
  var part = 0.0;
  for (var j = t; j < u.n; j += ${ROW_WG}u) {
    let d = ${feature("j")} - mx;
    let y = ${label("j")};
    part += select(${term}, 0.0, bad);
    let g = select(exp(d) / total - y, nan_(), nan_row);
    ${store("out1", "row * u.n + j", "g", bp)}
  }
${treeReduce("loss", "part", "+")}
  if (t == 0u) {
    ${store("out0", "row", "select(loss, nan_(), nan_row)", loss)}
  }
}
`,
  });
}

/** Row and column strides of a [rows, classes]-broadcast operand (rank 1 is one row). */
function strides(shape: Shape): [number, number] {
  const [r, c] = shape.length === 1 ? [1, shape[0]] : shape;
  return [r === 1 ? 0 : c, c === 1 ? 0 : 1];
}

function tolerance(c: KernelCase<Attrs>): Tolerance {
  const [features, labels] = c.inputs;
  const classes = features.shape[features.rank - 1];
  // The sparse op's labels are int class indexes; the dense op's are float rows.
  const dense = labels.dtype !== "int32" && labels.dtype !== "int64";
  const rows = crossEntropyRows(features, dense ? labels : undefined);
  // Each loss term is a label times log(s) - d: WGSL's log (a few 2^-21 absolute) and d's
  // rounding (u·D) scale with the labels (labels of 1e30: seed 620856988).
  const tol = widenFor16(features.dtype, {
    ulps: 16,
    atol: 2e-6 * Math.max(1, classes) * Math.max(1, rows.labelSum) +
      8 * 2 ** -24 * rows.labelSum * rows.range,
    reason: "float32 sums in tree order and WGSL's exp/log (a few ULPs each)",
  });
  return admittingOverflow(tol, rows.partial);
}

/**
 * Both ops run the same program; the sparse one reads one int label per row, so its label
 * strides are fixed (row stride n over the feature matrix, none for labels).
 */
function xentKernel<A extends { T: DType }>(op: OpDef<A>, sparse: boolean) {
  return defineGpuKernel(op, {
    dtypes: FLOATS,
    create({ inputs, outputs, device }) {
      const [f, l] = inputs.map((o) => staticBinding(device, o));
      const [loss, bp] = outputs.map((o) => staticBinding(device, o));
      const p = xentProgram(sparse, f, l, loss, bp);
      return {
        programs: [p],
        run(ctx) {
          const [f, l] = ctx.inputs;
          const loss = ctx.output(0), bp = ctx.output(1);
          const [rows, n] = bp.shape;
          return ctx.device.encode(ctx.node, [{
            program: p,
            inputs: [f, l],
            outputs: [loss, bp],
            uniforms: sparse
              ? [rows, n, n, 1, 0, 0]
              : [rows, n, ...strides(f.shape), ...strides(l.shape)],
            workgroups: rowGrid(rows, ctx.device.maxWorkgroups),
          }]);
        },
      };
    },
    tolerance,
  });
}

export const softmaxXentKernel = xentKernel(SoftmaxCrossEntropyWithLogits, false);
export const sparseXentKernel = xentKernel(SparseSoftmaxCrossEntropyWithLogits, true);

export const XENT_KERNELS = [softmaxXentKernel, sparseXentKernel];
