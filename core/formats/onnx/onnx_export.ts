/**
 * An Edgeflow graph as an ONNX model (opset 17) that other runtimes (onnxruntime) load: the
 * nodes the requested outputs need, Consts as initializers, Placeholders as graph inputs, NHWC
 * convolutions and pools as ONNX's NCHW ones between Transposes. Every op without an ONNX form is
 * listed in one error.
 */
import { EdgeflowError } from "../../errors.ts";
import { constantValue, type Graph, type Node, type Output } from "../../graph.ts";
import { intList, Tensor } from "../../tensor.ts";
import {
  encodeOnnxModel,
  type OnnxAttrValue,
  type OnnxNodeOut,
  type OnnxValueOut,
} from "./onnx_encode.ts";
import { dtypeToOnnx } from "./onnx_tensor.ts";

export const EXPORT_OPSET = 17;

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

/** The ONNX value name of an Edgeflow output: TensorFlow's tensor name, "node" for index 0. */
export function valueName(o: Output): string {
  return o.index === 0 ? o.node.name : `${o.node.name}:${o.index}`;
}

function valueInfo(o: Output): OnnxValueOut {
  dtypeToOnnx(o.dtype);
  return { name: valueName(o), dtype: o.dtype, shape: o.shape };
}

function unreadOutputs(graph: Graph): Output[] {
  const read = new Set<Node>();
  for (const n of graph.nodes) for (const i of n.inputs) read.add(i.node);
  return graph.nodes.filter((n) => !read.has(n) && n.op.name !== "NoOp").flatMap((n) => n.outputs);
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

class Exporter {
  nodes: OnnxNodeOut[] = [];
  initializers: { name: string; value: Tensor }[] = [];
  inputs: OnnxValueOut[] = [];
  node!: Node;
  private count = 0;

  initializer(name: string, value: Tensor): string {
    this.initializers.push({ name, value });
    return name;
  }
  /** A new int64 initializer. */
  int64(values: readonly number[], shape = [values.length]): string {
    return this.initializer(
      `${this.node.name}/const_${this.count++}`,
      new Tensor("int64", shape, BigInt64Array.from(values, (v) => BigInt(v))),
    );
  }
  scalar(v: number, like: Output): string {
    return this.initializer(
      `${this.node.name}/const_${this.count++}`,
      Tensor.fromNumbers(like.dtype, [], [v]),
    );
  }
  /** Adds an ONNX node; `out` defaults to the Edgeflow node's output i. */
  add(
    op: string,
    inputs: readonly string[],
    attrs: Record<string, OnnxAttrValue> = {},
    out?: string,
  ): string {
    const name = out ?? `${this.node.name}/${op}_${this.count++}`;
    this.nodes.push({ op, name, inputs, outputs: [name], attrs });
    return name;
  }
  in(i: number): string {
    return valueName(this.node.inputs[i]);
  }
  out(i = 0): string {
    return valueName(this.node.outputs[i]);
  }
  constInts(i: number, what: string): number[] {
    const v = constantValue(this.node.inputs[i]);
    if (!v) {
      throw new EdgeflowError(`ONNX export needs ${what} as a constant`, {
        node: this.node.name,
        op: this.node.op.name,
      });
    }
    return intList(v);
  }
  attr<T>(name: string): T {
    return (this.node.attrs as Record<string, unknown>)[name] as T;
  }
}

type ExportFn = (ex: Exporter, n: Node) => void;

const same = (op: string): ExportFn => (ex, n) =>
  void ex.add(op, n.inputs.map((_, i) => ex.in(i)), {}, ex.out());

/** An NHWC window op as Transpose → NCHW op → Transpose. */
function windowAttrs(ex: Exporter): Record<string, OnnxAttrValue> {
  const strides = ex.attr<number[]>("strides");
  const padding = ex.attr<string>("padding");
  const attrs: Record<string, OnnxAttrValue> = { strides: [strides[1], strides[2]] };
  if (padding === "SAME") attrs.auto_pad = "SAME_UPPER";
  else if (padding === "EXPLICIT") {
    const p = ex.attr<number[]>("explicit_paddings");
    attrs.pads = [p[2], p[4], p[3], p[5]];
  }
  return attrs;
}

const conv = (depthwise: boolean): ExportFn => (ex, n) => {
  const x = ex.add("Transpose", [ex.in(0)], { perm: [0, 3, 1, 2] });
  let filter = ex.in(1);
  const f = n.inputs[1].shape;
  if (f === null || f.some((d) => d < 0)) {
    throw new EdgeflowError("ONNX export needs the filter's shape", {
      node: n.name,
      op: n.op.name,
    });
  }
  const attrs = windowAttrs(ex);
  const d = ex.attr<number[]>("dilations");
  attrs.dilations = [d[1], d[2]];
  attrs.kernel_shape = [f[0], f[1]];
  if (depthwise) {
    // [kh, kw, C, mult] → [kh, kw, 1, C·mult]: output channel c·mult + k, as ONNX's groups.
    filter = ex.add("Reshape", [filter, ex.int64([f[0], f[1], 1, f[2] * f[3]])]);
    attrs.group = f[2];
  }
  const oihw = ex.add("Transpose", [filter], { perm: [3, 2, 0, 1] });
  const y = ex.add("Conv", [x, oihw], attrs);
  ex.add("Transpose", [y], { perm: [0, 2, 3, 1] }, ex.out());
};

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

/** Casts input i to int64 where ONNX wants int64 (shapes, axes) and it is int32. */
function int64Input(ex: Exporter, i: number): string {
  const o = ex.node.inputs[i];
  if (o.dtype === "int64") return ex.in(i);
  const v = constantValue(o);
  if (v) return ex.int64(intList(v), v.shape.slice());
  return ex.add("Cast", [ex.in(i)], { to: dtypeToOnnx("int64") });
}

const EXPORTERS: Record<string, ExportFn> = {
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
