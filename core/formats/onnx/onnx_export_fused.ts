/**
 * ONNX forms of the ops real models bring from TensorFlow and tfjs: the fused contractions
 * (_FusedConv2D, FusedDepthwiseConv2dNative, _FusedMatMul: contraction, BiasAdd or batch norm,
 * one activation), FusedBatchNormV3 in inference, AddN, GatherNd and the resizes. They are looked
 * up by op name, so they apply wherever the ops are registered.
 */
import { EdgeflowError } from "../../errors.ts";
import type { Node } from "../../graph.ts";
import { convNchw, type Exporter, type ExportFn } from "./onnx_export_context.ts";
import { dtypeToOnnx } from "./onnx_tensor.ts";

/** Batch norm over the last axis: (x − mean) · scale / sqrt(variance + ε) + offset. */
function batchNorm(ex: Exporter, n: Node, x: string, args: string[], out?: string): string {
  const [scale, offset, mean, variance] = args;
  const eps = ex.scalar(ex.attr<number>("epsilon") ?? 1e-4, n.inputs[0]);
  const inv = ex.add("Div", [scale, ex.add("Sqrt", [ex.add("Add", [variance, eps])])]);
  return ex.add("Add", [ex.add("Mul", [ex.add("Sub", [x, mean]), inv]), offset], {}, out);
}

function activation(ex: Exporter, n: Node, act: string, x: string, alpha?: string): string {
  const out = ex.out();
  switch (act) {
    case "":
      return ex.add("Identity", [x], {}, out);
    case "Relu":
    case "Elu":
    case "Sigmoid":
    case "Tanh":
      return ex.add(act, [x], {}, out);
    case "Relu6":
      return ex.add("Clip", [x, ex.scalar(0, n.inputs[0]), ex.scalar(6, n.inputs[0])], {}, out);
    case "LeakyRelu":
      return ex.add("LeakyRelu", [x], { alpha: { float: ex.attr("leakyrelu_alpha") } }, out);
    case "Prelu":
      return ex.add("PRelu", [x, alpha!], {}, out);
  }
  throw new EdgeflowError(`activation '${act}' has no ONNX export`, {
    node: n.name,
    op: n.op.name,
  });
}

/** The contraction's value, then the fused BiasAdd or batch norm, then the activation. */
const fused = (contract: (ex: Exporter, n: Node) => string): ExportFn => (ex, n) => {
  const [kind, act = ""] = ex.attr<string[]>("fused_ops");
  const numArgs = ex.attr<number>("num_args");
  const args = Array.from({ length: numArgs }, (_, i) => ex.in(2 + i));
  const y = contract(ex, n);
  const vectors = kind === "BiasAdd" ? 1 : 4;
  const z = kind === "BiasAdd"
    ? ex.add("Add", [y, args[0]])
    : batchNorm(ex, n, y, args.slice(0, 4));
  activation(ex, n, act, z, args[vectors]);
};

const matMul = (ex: Exporter): string => {
  const ta = ex.attr<boolean>("transpose_a"), tb = ex.attr<boolean>("transpose_b");
  if (!ta && !tb) return ex.add("MatMul", [ex.in(0), ex.in(1)]);
  return ex.add("Gemm", [ex.in(0), ex.in(1)], { transA: ta ? 1 : 0, transB: tb ? 1 : 0 });
};

/**
 * TensorFlow's NHWC resizes as ONNX Resize with `sizes` [N, h, w, C]: align_corners,
 * half_pixel_centers (TensorFlow's is half_pixel for bilinear, tf_half_pixel_for_nn for nearest)
 * or neither (asymmetric); nearest rounds as TensorFlow does (floor, or round with corners).
 */
const resize = (mode: "linear" | "nearest"): ExportFn => (ex) => {
  const corners = ex.attr<boolean>("align_corners"), half = ex.attr<boolean>("half_pixel_centers");
  const coordinate = corners
    ? "align_corners"
    : half
    ? (mode === "linear" ? "half_pixel" : "tf_half_pixel_for_nn")
    : "asymmetric";
  const shape = ex.add("Shape", [ex.in(0)]);
  const slice = (b: number, e: number) =>
    ex.add("Slice", [shape, ex.int64([b]), ex.int64([e]), ex.int64([0])]);
  const hw = ex.node.inputs[1].dtype === "int64"
    ? ex.in(1)
    : ex.add("Cast", [ex.in(1)], { to: dtypeToOnnx("int64") });
  const sizes = ex.add("Concat", [slice(0, 1), hw, slice(3, 4)], { axis: 0 });
  ex.add("Resize", [ex.in(0), "", "", sizes], {
    mode,
    coordinate_transformation_mode: coordinate,
    ...(mode === "nearest" ? { nearest_mode: corners ? "round_prefer_ceil" : "floor" } : {}),
  }, ex.out());
};

export const FUSED_EXPORTERS: Record<string, ExportFn> = {
  _FusedConv2D: fused((ex, n) => convNchw(ex, n, false)),
  FusedDepthwiseConv2dNative: fused((ex, n) => convNchw(ex, n, true)),
  _FusedMatMul: fused(matMul),
  FusedBatchNormV3: (ex, n) => {
    if (ex.attr<boolean>("is_training")) {
      throw new EdgeflowError("ONNX export takes FusedBatchNormV3 in inference only", {
        node: n.name,
        op: n.op.name,
      });
    }
    if (n.outputs.slice(1).some((o) => o.node.graph.nodes.some((m) => m.inputs.includes(o)))) {
      throw new EdgeflowError("ONNX export writes FusedBatchNormV3's y only", {
        node: n.name,
        op: n.op.name,
      });
    }
    batchNorm(ex, n, ex.in(0), [1, 2, 3, 4].map((i) => ex.in(i)), ex.out());
  },
  AddN: (ex, n) => void ex.add("Sum", n.inputs.map((_, i) => ex.in(i)), {}, ex.out()),
  GatherNd: (ex) => {
    const i = ex.node.inputs[1].dtype === "int64"
      ? ex.in(1)
      : ex.add("Cast", [ex.in(1)], { to: dtypeToOnnx("int64") });
    ex.add("GatherND", [ex.in(0), i], {}, ex.out());
  },
  ResizeBilinear: resize("linear"),
  ResizeNearestNeighbor: resize("nearest"),
};
