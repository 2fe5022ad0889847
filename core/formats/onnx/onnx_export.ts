/**
 * An Edgeflow graph as an ONNX model (opset 17) that other runtimes (onnxruntime) load: the
 * nodes the requested outputs need, Consts as initializers, Placeholders as graph inputs, NHWC
 * convolutions and pools as ONNX's NCHW ones between Transposes. Every op without an ONNX form is
 * listed in one error.
 */
import { EdgeflowError } from "../../errors.ts";
import { constantValue, type Graph, type Node, type Output } from "../../graph.ts";
import { intList, type Tensor } from "../../tensor.ts";
import {
  convNchw,
  Exporter,
  type ExportFn,
  int64Input,
  same,
  valueName,
  windowAttrs,
} from "./onnx_export_context.ts";
import { FUSED_EXPORTERS } from "./onnx_export_fused.ts";
import { SELECT_EXPORTERS } from "./onnx_export_select.ts";
import { exportWithControlFlow, hasControlFlow } from "./onnx_export_control.ts";
import { encodeOnnxModel, type OnnxValueOut } from "./onnx_encode.ts";
import { dtypeToOnnx } from "./onnx_tensor.ts";

export const EXPORT_OPSET = 17;
/** Past any dim ("to the end" for ONNX's Slice), and exact as a JavaScript number. */
const INT64_MAX_SAFE = Number.MAX_SAFE_INTEGER;

export interface OnnxExportOptions {
  /** The tensors to output ("node:0" or "node"); default: every output no node reads. */
  outputs?: readonly string[];
  /** The ONNX graph's name. */
  name?: string;
}

/** The graph as ONNX ModelProto bytes. */
export function toOnnx(graph: Graph, options: OnnxExportOptions = {}): Uint8Array {
  const outputs = options.outputs?.map((n) => graph.tensor(n)) ?? unreadOutputs(graph);
  const nodes = needed(outputs);
  if (hasControlFlow(nodes)) {
    // Conds and loops become If and Loop nodes (onnx_export_control.ts).
    return encodeOnnxModel({
      name: options.name ?? "edgeflow",
      ...exportWithControlFlow(graph, outputs, EXPORTERS),
      opset: EXPORT_OPSET,
    });
  }
  const ex = new Exporter();
  const missing = nodes.filter((n) =>
    !EXPORTERS[n.op.name] && n.op.name !== "Const" && n.op.name !== "Placeholder"
  );
  if (missing.length > 0) {
    const ops = [...new Set(missing.map((n) => n.op.name))];
    throw new EdgeflowError(
      `the graph uses ${ops.length} op${ops.length === 1 ? "" : "s"} without an ONNX export: ${
        ops.map((op) =>
          `${op} (${
            missing.filter((n) => n.op.name === op).slice(0, 5).map((n) =>
              `'${n.name}'`
            ).join(", ")
          })`
        ).join("; ")
      }`,
    );
  }
  for (const n of nodes) {
    if (n.op.name === "Const") ex.initializer(valueName(n.outputs[0]), n.attrs.value as Tensor);
    else if (n.op.name === "Placeholder") {
      ex.inputs.push(valueInfo(n.outputs[0]));
    } else {
      ex.node = n;
      EXPORTERS[n.op.name](ex, n);
    }
  }
  // Consts read only as attributes (a perm, an axis) are no initializers of the ONNX graph.
  const used = new Set([...ex.nodes.flatMap((n) => n.inputs), ...outputs.map(valueName)]);
  return encodeOnnxModel({
    name: options.name ?? "edgeflow",
    nodes: ex.nodes,
    initializers: ex.initializers.filter((t) => used.has(t.name)),
    inputs: ex.inputs,
    outputs: outputs.map(valueInfo),
    opset: EXPORT_OPSET,
  });
}

function valueInfo(o: Output): OnnxValueOut {
  dtypeToOnnx(o.dtype);
  return { name: valueName(o), dtype: o.dtype, shape: o.shape };
}

function unreadOutputs(graph: Graph): Output[] {
  const read = new Set<Node>();
  for (const n of graph.nodes) for (const i of n.inputs) read.add(i.node);
  // With control flow, a cond's pivots (Identities of a Switch) are read by control edges or
  // not at all, and a Merge's value_index by nothing: none of them is a result.
  const flow = graph.nodes.some((n) => n.op.controlFlow !== undefined);
  const pivot = (n: Node) =>
    n.inputs.length > 0 && n.inputs.every((i) => i.node.op.controlFlow === "Switch");
  return graph.nodes.filter((n) =>
    !read.has(n) && n.op.name !== "NoOp" &&
    (!flow || (n.op.controlFlow === undefined && !pivot(n)))
  ).flatMap((n) => n.outputs);
}

/** The nodes `outputs` depend on, inputs before the nodes that read them. */
function needed(outputs: readonly Output[]): Node[] {
  const order: Node[] = [];
  const seen = new Set<Node>();
  const visit = (n: Node) => {
    if (seen.has(n)) return;
    seen.add(n);
    for (const i of n.inputs) visit(i.node);
    order.push(n);
  };
  for (const o of outputs) visit(o.node);
  return order;
}

const conv = (depthwise: boolean): ExportFn => (ex, n) => void convNchw(ex, n, depthwise, ex.out());

const pool = (op: string): ExportFn => (ex) => {
  const x = ex.add("Transpose", [ex.in(0)], { perm: [0, 3, 1, 2] });
  const k = ex.attr<number[]>("ksize");
  const attrs = { ...windowAttrs(ex), kernel_shape: [k[1], k[2]] };
  const y = ex.add(op, [x], attrs);
  ex.add("Transpose", [y], { perm: [0, 2, 3, 1] }, ex.out());
};

const reduce = (op: string, axesAsInput = false): ExportFn => (ex, n) => {
  const axes = ex.constInts(1, "the reduction axes");
  const keepdims = ex.attr<boolean>("keep_dims") ? 1 : 0;
  if (axes.length === 0) return void ex.add("Identity", [ex.in(0)], {}, ex.out());
  if (axesAsInput) ex.add(op, [ex.in(0), ex.int64(axes)], { keepdims }, ex.out());
  else ex.add(op, [ex.in(0)], { axes, keepdims }, ex.out());
  void n;
};

export { valueName };

const EXPORTERS: Record<string, ExportFn> = {
  ...FUSED_EXPORTERS,
  ...SELECT_EXPORTERS,
  Identity: same("Identity"),
  Relu: same("Relu"),
  Sigmoid: same("Sigmoid"),
  Tanh: same("Tanh"),
  Exp: same("Exp"),
  Log: same("Log"),
  Sqrt: same("Sqrt"),
  Neg: same("Neg"),
  Abs: same("Abs"),
  Floor: same("Floor"),
  Ceil: same("Ceil"),
  Erf: same("Erf"),
  Sin: same("Sin"),
  Cos: same("Cos"),
  Sign: same("Sign"),
  Round: same("Round"),
  Reciprocal: same("Reciprocal"),
  Softplus: same("Softplus"),
  Elu: same("Elu"),
  Selu: same("Selu"),
  LeakyRelu: (ex) =>
    void ex.add("LeakyRelu", [ex.in(0)], { alpha: { float: ex.attr("alpha") } }, ex.out()),
  Relu6: (ex, n) =>
    void ex.add(
      "Clip",
      [ex.in(0), ex.scalar(0, n.inputs[0]), ex.scalar(6, n.inputs[0])],
      {},
      ex.out(),
    ),
  Square: (ex) => void ex.add("Mul", [ex.in(0), ex.in(0)], {}, ex.out()),
  Rsqrt: (ex) => void ex.add("Reciprocal", [ex.add("Sqrt", [ex.in(0)])], {}, ex.out()),
  AddV2: same("Add"),
  BiasAdd: same("Add"),
  Sub: same("Sub"),
  Mul: same("Mul"),
  RealDiv: same("Div"),
  Maximum: same("Max"),
  Minimum: same("Min"),
  Pow: same("Pow"),
  Equal: same("Equal"),
  Greater: same("Greater"),
  Less: same("Less"),
  GreaterEqual: same("GreaterOrEqual"),
  LessEqual: same("LessOrEqual"),
  LogicalAnd: same("And"),
  LogicalOr: same("Or"),
  LogicalNot: same("Not"),
  SelectV2: same("Where"),
  // TensorFlow's Where lists coordinates [n, rank], ONNX's NonZero [rank, n].
  Where: (ex) =>
    void ex.add("Transpose", [ex.add("NonZero", [ex.in(0)])], { perm: [1, 0] }, ex.out()),
  Cumsum: (ex) =>
    void ex.add("CumSum", [ex.in(0), ex.in(1)], {
      exclusive: ex.attr<boolean>("exclusive") ? 1 : 0,
      reverse: ex.attr<boolean>("reverse") ? 1 : 0,
    }, ex.out()),
  SquaredDifference: (ex) => {
    const d = ex.add("Sub", [ex.in(0), ex.in(1)]);
    ex.add("Mul", [d, d], {}, ex.out());
  },
  MatMul: (ex) => {
    const ta = ex.attr<boolean>("transpose_a"), tb = ex.attr<boolean>("transpose_b");
    if (!ta && !tb) return void ex.add("MatMul", [ex.in(0), ex.in(1)], {}, ex.out());
    ex.add("Gemm", [ex.in(0), ex.in(1)], { transA: ta ? 1 : 0, transB: tb ? 1 : 0 }, ex.out());
  },
  BatchMatMulV2: (ex, n) => {
    const swap = (i: number, adj: boolean) => {
      if (!adj) return ex.in(i);
      const r = n.inputs[i].shape!.length;
      const perm = Array.from({ length: r }, (_, j) => j);
      [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
      return ex.add("Transpose", [ex.in(i)], { perm });
    };
    ex.add("MatMul", [swap(0, ex.attr("adj_x")), swap(1, ex.attr("adj_y"))], {}, ex.out());
  },
  Softmax: (ex) => void ex.add("Softmax", [ex.in(0)], { axis: -1 }, ex.out()),
  LogSoftmax: (ex) => void ex.add("LogSoftmax", [ex.in(0)], { axis: -1 }, ex.out()),
  Reshape: (ex) => void ex.add("Reshape", [ex.in(0), int64Input(ex, 1)], {}, ex.out()),
  Transpose: (ex) =>
    void ex.add("Transpose", [ex.in(0)], { perm: ex.constInts(1, "the permutation") }, ex.out()),
  ConcatV2: (ex, n) => {
    const k = n.inputs.length - 1;
    const axis = ex.constInts(k, "the axis")[0];
    ex.add("Concat", n.inputs.slice(0, k).map((_, i) => ex.in(i)), { axis }, ex.out());
  },
  ExpandDims: (ex) => void ex.add("Unsqueeze", [ex.in(0), int64Input(ex, 1)], {}, ex.out()),
  Squeeze: (ex) => {
    const dims = ex.attr<number[]>("squeeze_dims");
    const inputs = dims.length > 0 ? [ex.in(0), ex.int64(dims)] : [ex.in(0)];
    ex.add("Squeeze", inputs, {}, ex.out());
  },
  Sum: reduce("ReduceSum", true),
  Mean: reduce("ReduceMean"),
  Max: reduce("ReduceMax"),
  Min: reduce("ReduceMin"),
  Prod: reduce("ReduceProd"),
  ArgMax: (ex) => argExport(ex, "ArgMax"),
  ArgMin: (ex) => argExport(ex, "ArgMin"),
  Cast: (ex) => void ex.add("Cast", [ex.in(0)], { to: dtypeToOnnx(ex.attr("DstT")) }, ex.out()),
  Conv2D: conv(false),
  DepthwiseConv2dNative: conv(true),
  MaxPool: pool("MaxPool"),
  AvgPool: pool("AveragePool"),
  Pad: (ex) => {
    const p = ex.constInts(1, "the paddings");
    const begins = p.filter((_, i) => i % 2 === 0), ends = p.filter((_, i) => i % 2 === 1);
    ex.add("Pad", [ex.in(0), ex.int64([...begins, ...ends])], {}, ex.out());
  },
  Pack: (ex, n) => {
    const axis = ex.attr<number>("axis");
    const a = ex.int64([axis]);
    const parts = n.inputs.map((_, i) => ex.add("Unsqueeze", [ex.in(i), a]));
    ex.add("Concat", parts, { axis }, ex.out());
  },
  Unpack: (ex, n) => {
    const axis = ex.attr<number>("axis");
    const names = n.outputs.map((_, i) => `${n.name}/split_${i}`);
    ex.nodes.push({
      op: "Split",
      name: `${n.name}/Split`,
      inputs: [ex.in(0)],
      outputs: names,
      attrs: { axis },
    });
    const a = ex.int64([axis]);
    names.forEach((part, i) => ex.add("Squeeze", [part, a], {}, ex.out(i)));
  },
  FloorDiv: (ex, n) => {
    const q = ex.add("Div", [ex.in(0), ex.in(1)]);
    const x = n.inputs[0];
    if (x.dtype === "float32" || x.dtype === "float16" || x.dtype === "bfloat16") {
      return void ex.add("Floor", [q], {}, ex.out());
    }
    // ONNX's integer Div truncates: step down where a remainder's sign differs from y's.
    const r = ex.add("Sub", [ex.in(0), ex.add("Mul", [q, ex.in(1)])]);
    const zero = ex.scalar(0, x);
    const down = ex.add("And", [
      ex.add("Not", [ex.add("Equal", [r, zero])]),
      ex.add("Xor", [ex.add("Less", [r, zero]), ex.add("Less", [ex.in(1), zero])]),
    ]);
    ex.add("Sub", [q, ex.add("Cast", [down], { to: dtypeToOnnx(x.dtype) })], {}, ex.out());
  },
  FloorMod: (ex, n) => {
    const x = n.inputs[0];
    if (x.dtype === "float32" || x.dtype === "float16" || x.dtype === "bfloat16") {
      // x − floor(x / y) · y
      const f = ex.add("Floor", [ex.add("Div", [ex.in(0), ex.in(1)])]);
      return void ex.add("Sub", [ex.in(0), ex.add("Mul", [f, ex.in(1)])], {}, ex.out());
    }
    ex.add("Mod", [ex.in(0), ex.in(1)], { fmod: 0 }, ex.out());
  },
  Tile: (ex) => void ex.add("Tile", [ex.in(0), int64Input(ex, 1)], {}, ex.out()),
  Range: same("Range"),
  Fill: (ex) => void ex.add("Expand", [ex.in(1), int64Input(ex, 0)], {}, ex.out()),
  ZerosLike: (ex, n) =>
    void ex.add("Expand", [ex.scalar(0, n.inputs[0]), ex.add("Shape", [ex.in(0)])], {}, ex.out()),
  OnesLike: (ex, n) =>
    void ex.add("Expand", [ex.scalar(1, n.inputs[0]), ex.add("Shape", [ex.in(0)])], {}, ex.out()),
  Slice: (ex) => {
    // TensorFlow's size −1 runs to the end: ONNX's end is then past any dim.
    const b = constantValue(ex.node.inputs[1]), z = constantValue(ex.node.inputs[2]);
    if (b && z) {
      const bs = intList(b),
        ends = intList(z).map((v, i) => (v === -1 ? INT64_MAX_SAFE : bs[i] + v));
      return void ex.add("Slice", [ex.in(0), ex.int64(bs), ex.int64(ends)], {}, ex.out());
    }
    const begin = int64Input(ex, 1), size = int64Input(ex, 2);
    const end = ex.add("Where", [
      ex.add("Equal", [size, ex.int64([-1], [])]),
      ex.int64([INT64_MAX_SAFE], []),
      ex.add("Add", [begin, size]),
    ]);
    ex.add("Slice", [ex.in(0), begin, end], {}, ex.out());
  },
  StridedSlice: (ex, n) => {
    const begin = ex.constInts(1, "begin"), end = ex.constInts(2, "end");
    const strides = ex.constInts(3, "strides");
    const bits = (name: string) => ex.attr<number>(name);
    if (bits("ellipsis_mask") || bits("new_axis_mask")) {
      throw new EdgeflowError("ONNX export takes StridedSlice without ellipsis or new axes", {
        node: n.name,
        op: n.op.name,
      });
    }
    const starts: number[] = [], ends: number[] = [], shrink: number[] = [];
    begin.forEach((b, i) => {
      const bit = 1 << i, up = strides[i] > 0;
      if (bits("shrink_axis_mask") & bit) {
        starts.push(b);
        ends.push(b === -1 ? INT64_MAX_SAFE : b + 1);
        shrink.push(i);
        return;
      }
      starts.push(bits("begin_mask") & bit ? (up ? 0 : INT64_MAX_SAFE) : b);
      ends.push(bits("end_mask") & bit ? (up ? INT64_MAX_SAFE : -INT64_MAX_SAFE) : end[i]);
    });
    const axes = begin.map((_, i) => i);
    const sliced = ex.add(
      "Slice",
      [ex.in(0), ex.int64(starts), ex.int64(ends), ex.int64(axes), ex.int64(strides)],
      {},
      shrink.length ? undefined : ex.out(),
    );
    if (shrink.length) ex.add("Squeeze", [sliced, ex.int64(shrink)], {}, ex.out());
  },
  GatherV2: (ex) => {
    const axis = ex.constInts(2, "the axis")[0];
    ex.add("Gather", [ex.in(0), ex.in(1)], { axis }, ex.out());
  },
  Shape: (ex, n) => {
    const out = n.outputs[0].dtype;
    if (out === "int64") return void ex.add("Shape", [ex.in(0)], {}, ex.out());
    ex.add("Cast", [ex.add("Shape", [ex.in(0)])], { to: dtypeToOnnx(out) }, ex.out());
  },
};

function argExport(ex: Exporter, op: string): void {
  const axis = ex.constInts(1, "the axis")[0];
  const type = ex.attr<string>("output_type");
  if (type === "int64") return void ex.add(op, [ex.in(0)], { axis, keepdims: 0 }, ex.out());
  const i = ex.add(op, [ex.in(0)], { axis, keepdims: 0 });
  ex.add("Cast", [i], { to: dtypeToOnnx("int32") }, ex.out());
}
