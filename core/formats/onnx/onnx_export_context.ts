/**
 * What an ONNX exporter of one Edgeflow op sees: the node, ways to add ONNX nodes and
 * initializers named after it, and the NHWC window attrs in ONNX's spelling.
 */
import { EdgeflowError } from "../../errors.ts";
import { constantValue, type Node, type Output } from "../../graph.ts";
import { intList, Tensor } from "../../tensor.ts";
import type { OnnxAttrValue, OnnxNodeOut, OnnxValueOut } from "./onnx_encode.ts";
import { dtypeToOnnx } from "./onnx_tensor.ts";

/** The ONNX value name of an Edgeflow output: TensorFlow's tensor name, "node" for index 0. */
export function valueName(o: Output): string {
  return o.index === 0 ? o.node.name : `${o.node.name}:${o.index}`;
}

export class Exporter {
  nodes: OnnxNodeOut[] = [];
  initializers: { name: string; value: Tensor }[] = [];
  inputs: OnnxValueOut[] = [];
  node!: Node;
  /**
   * ONNX names of Edgeflow values where they differ from `valueName` (a subgraph's view of a
   * value: a Loop body's input for a loop variable, a copy of a loop's condition).
   */
  names = new Map<string, string>();
  /** Numbers the extra values; shared by the Exporters of one model's subgraphs. */
  counter = { n: 0 };

  initializer(name: string, value: Tensor): string {
    this.initializers.push({ name, value });
    return name;
  }
  /** A new int64 initializer. */
  int64(values: readonly number[], shape = [values.length]): string {
    return this.initializer(
      `${this.node.name}/const_${this.counter.n++}`,
      new Tensor("int64", shape, BigInt64Array.from(values, (v) => BigInt(v))),
    );
  }
  scalar(v: number, like: Output): string {
    return this.initializer(
      `${this.node.name}/const_${this.counter.n++}`,
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
    const name = out ?? `${this.node.name}/${op}_${this.counter.n++}`;
    this.nodes.push({ op, name, inputs, outputs: [name], attrs });
    return name;
  }
  in(i: number): string {
    const name = valueName(this.node.inputs[i]);
    return this.names.get(name) ?? name;
  }
  out(i = 0): string {
    const name = valueName(this.node.outputs[i]);
    return this.names.get(name) ?? name;
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

export type ExportFn = (ex: Exporter, n: Node) => void;

/** Input i as int64 where ONNX wants int64 (shapes, axes, indices): a constant folded, else a Cast. */
export function int64Input(ex: Exporter, i: number): string {
  const o = ex.node.inputs[i];
  if (o.dtype === "int64") return ex.in(i);
  const v = constantValue(o);
  if (v) return ex.int64(intList(v), v.shape.slice());
  return ex.add("Cast", [ex.in(i)], { to: dtypeToOnnx("int64") });
}

export const same = (op: string): ExportFn => (ex, n) =>
  void ex.add(op, n.inputs.map((_, i) => ex.in(i)), {}, ex.out());

/** The strides and padding of an NHWC window op as ONNX attributes of its NCHW form. */
export function windowAttrs(ex: Exporter): Record<string, OnnxAttrValue> {
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

/** The NHWC convolution of node `n` (inputs 0 and 1) through ONNX's Conv; returns its value. */
export function convNchw(ex: Exporter, n: Node, depthwise: boolean, out?: string): string {
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
  return ex.add("Transpose", [y], { perm: [0, 2, 3, 1] }, out);
}
