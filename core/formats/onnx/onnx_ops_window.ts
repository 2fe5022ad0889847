/**
 * ONNX's generalized cosine windows (opset 17) from Range and Cos: w[n] = a0 − a1·cos(2πn/N) +
 * a2·cos(4πn/N) for n in [0, size), N = size when `periodic` (the default), size − 1 when not.
 * The size may be fed: the window's length is then known only at run time.
 */
import type { Output } from "../../graph.ts";
import type { OnnxMapper, OnnxNodeContext } from "./onnx_context.ts";
import { dtypeFromOnnx } from "./onnx_tensor.ts";

function cosineWindow(a0: number, a1: number, a2 = 0): OnnxMapper {
  return (c) => {
    const size = c.out("Cast", [c.asScalar(c.req(0), "size")], { DstT: "int32" });
    const n = c.out("Cast", [
      c.out("Range", [c.scalar(0, "int32"), size, c.scalar(1, "int32")]),
    ], { DstT: "float32" });
    const periodic = c.int("periodic", 1) !== 0;
    let length = c.out("Cast", [size], { DstT: "float32" });
    if (!periodic) length = c.out("Sub", [length, c.scalar(1, "float32")]);
    // 2πn/N, then its multiples for the higher terms.
    const angle = c.out("RealDiv", [c.out("Mul", [n, c.scalar(2 * Math.PI, "float32")]), length]);
    const term = (a: number, k: number) =>
      c.out("Mul", [
        c.scalar(a, "float32"),
        c.out("Cos", [k === 1 ? angle : c.out("Mul", [angle, c.scalar(k, "float32")])]),
      ]);
    let w: Output = c.out("Sub", [c.scalar(a0, "float32"), term(a1, 1)]);
    if (a2 !== 0) w = c.out("AddV2", [w, term(a2, 2)]);
    return [castTo(c, w)];
  };
}

/** The window in `output_datatype` (ONNX's TensorProto code; default FLOAT). */
function castTo(c: OnnxNodeContext, w: Output): Output {
  const dtype = dtypeFromOnnx(
    c.int("output_datatype", 1),
    `${c.file}: ${c.node.path} attribute 'output_datatype'`,
  );
  return dtype === "float32" ? w : c.out("Cast", [w], { DstT: dtype });
}

export const WINDOW_MAPPERS: Record<string, OnnxMapper> = {
  HannWindow: cosineWindow(0.5, 0.5),
  HammingWindow: cosineWindow(25 / 46, 21 / 46),
  BlackmanWindow: cosineWindow(0.42, 0.5, 0.08),
};
