/**
 * What an ONNX op mapper sees: the node's inputs as graph Outputs, its attributes with ONNX's
 * defaults, the opset, and helpers that add Edgeflow nodes named after the ONNX node. A mapper
 * returns one Output per ONNX output it computes.
 */
import type { DType } from "../../dtype.ts";
import { EdgeflowError, withContext } from "../../errors.ts";
import { constantValue, type Graph, type Node, type Output } from "../../graph.ts";
import { apply } from "../../ops/build.ts";
import { getOp } from "../../ops/registry.ts";
import { intList, Tensor } from "../../tensor.ts";
import { ATTRIBUTE_TYPE, type OnnxAttribute, type OnnxNodeProto } from "./onnx_schema.ts";
import { OnnxUnsupportedError, tensorFromOnnx } from "./onnx_tensor.ts";

/** A mapper needs an input's value at load time (an axis list, a slice bound) and it is fed. */
export class OnnxNeedsConstantError extends OnnxUnsupportedError {
  constructor(
    readonly input: string,
    what: string,
    file: string,
    context: { node: string; op: string },
  ) {
    super(
      `${file}: ${what} ('${input}') must be a constant (an initializer or Constant), Edgeflow takes it as an attribute`,
      context,
    );
  }
}

export type OnnxMapper = (c: OnnxNodeContext) => (Output | undefined)[];

const decoder = new TextDecoder();

export class OnnxNodeContext {
  /** The prefix of the Edgeflow nodes this ONNX node becomes. */
  readonly base: string;
  readonly where: { node: string; op: string };

  constructor(
    readonly graph: Graph,
    readonly node: OnnxNodeProto,
    /** The model's version of the default ("ai.onnx") domain. */
    readonly opset: number,
    readonly file: string,
    private readonly inputs: readonly (Output | undefined)[],
    private readonly maxTensorBytes: number,
  ) {
    this.base = sanitizeName(node.name || node.output[0] || node.opType);
    this.where = { node: node.name || node.output[0] || "", op: node.opType };
  }

  /** Input i, or undefined when absent (an empty name marks a skipped optional input). */
  input(i: number): Output | undefined {
    return this.inputs[i];
  }
  /** Input i, which the op requires. */
  req(i: number): Output {
    const o = this.inputs[i];
    if (!o) throw this.error(`input ${i} is required`);
    return o;
  }
  get inputCount(): number {
    return this.inputs.length;
  }
  /** How many outputs the model uses (trailing empty names do not count). */
  wants(i: number): boolean {
    return (this.node.output[i] ?? "") !== "";
  }

  attr(name: string): OnnxAttribute | undefined {
    return this.node.attribute.find((a) => a.name === name);
  }
  int(name: string, dflt: number): number {
    const a = this.attr(name);
    if (!a) return dflt;
    this.expectType(a, ATTRIBUTE_TYPE.INT);
    return Number(a.i ?? 0n);
  }
  ints(name: string): number[] | undefined {
    const a = this.attr(name);
    if (!a) return undefined;
    this.expectType(a, ATTRIBUTE_TYPE.INTS);
    return a.ints.map(Number);
  }
  float(name: string, dflt: number): number {
    const a = this.attr(name);
    if (!a) return dflt;
    this.expectType(a, ATTRIBUTE_TYPE.FLOAT);
    return a.f ?? 0;
  }
  floats(name: string): number[] | undefined {
    const a = this.attr(name);
    if (!a) return undefined;
    this.expectType(a, ATTRIBUTE_TYPE.FLOATS);
    return a.floats;
  }
  string(name: string, dflt: string): string {
    const a = this.attr(name);
    if (!a) return dflt;
    this.expectType(a, ATTRIBUTE_TYPE.STRING);
    return decoder.decode(a.s ?? new Uint8Array());
  }
  tensor(name: string): Tensor | undefined {
    const a = this.attr(name);
    if (!a) return undefined;
    this.expectType(a, ATTRIBUTE_TYPE.TENSOR);
    if (!a.t) throw this.error(`attribute '${name}' holds no tensor`);
    return tensorFromOnnx(a.t, this.file, this.maxTensorBytes);
  }
  private expectType(a: OnnxAttribute, type: number): void {
    // type 0 (UNDEFINED) comes from writers that leave it out: accept the value present.
    if (a.type !== 0 && a.type !== type) {
      const name = (t: number) => Object.entries(ATTRIBUTE_TYPE).find(([, v]) => v === t)?.[0];
      throw this.error(`attribute '${a.name}' is ${name(a.type)}, the op expects ${name(type)}`);
    }
  }

  /** Adds an Edgeflow node of op `op`. */
  add(op: string, inputs: readonly (Output | readonly Output[])[], attrs = {}): Node {
    return withContext(
      this.where,
      () => apply(getOp(op), inputs, { ...attrs, name: `${this.base}/${op}`, graph: this.graph }),
    );
  }
  /** Adds a node and returns its first output. */
  out(op: string, inputs: readonly (Output | readonly Output[])[], attrs = {}): Output {
    return this.add(op, inputs, attrs).outputs[0];
  }
  /** A Const node. */
  constant(value: Tensor): Output {
    return this.out("Const", [], { value, dtype: value.dtype });
  }
  /** A scalar Const of `dtype`. */
  scalar(v: number | boolean, dtype: DType): Output {
    const value = dtype === "int64"
      ? new Tensor("int64", [], BigInt64Array.of(BigInt(v)))
      : Tensor.fromNumbers(dtype, [], [Number(v)]);
    return this.constant(value);
  }
  /** An int32 or int64 vector Const. */
  ints32(v: readonly number[], dtype: "int32" | "int64" = "int32"): Output {
    return this.constant(
      dtype === "int64"
        ? new Tensor("int64", [v.length], BigInt64Array.from(v, (x) => BigInt(x)))
        : Tensor.fromNumbers("int32", [v.length], v),
    );
  }

  /** The value of input i at load time, as integers; `what` names it. */
  constInts(i: number, what: string): number[] {
    const o = this.req(i);
    const v = constantValue(o);
    if (!v) throw new OnnxNeedsConstantError(this.node.input[i], what, this.file, this.where);
    return intList(v);
  }
  /** The value of input i at load time as a Tensor. */
  constTensor(i: number, what: string): Tensor {
    const o = this.req(i);
    const v = constantValue(o);
    if (!v) throw new OnnxNeedsConstantError(this.node.input[i], what, this.file, this.where);
    return v;
  }
  /** The rank of `o`, which this mapping needs to know. */
  rank(o: Output): number {
    if (o.shape === null) throw this.unsupported(`needs its input's rank, which is unknown`);
    return o.shape.length;
  }
  /** The dims of `o`, which this mapping needs to know. */
  dims(o: Output): number[] {
    if (o.shape === null || o.shape.some((d) => d < 0)) {
      throw this.unsupported(`needs its input's full shape, which is not known at load time`);
    }
    return o.shape.slice();
  }

  error(why: string): EdgeflowError {
    return new EdgeflowError(`${this.file}: ${this.node.path}: ${why}`, this.where);
  }
  unsupported(why: string): OnnxUnsupportedError {
    return new OnnxUnsupportedError(`${this.file}: ${this.node.path}: ${why}`, this.where);
  }
}

/** An Edgeflow node name from an ONNX name: ':' would read as an output index, '^' as control. */
export function sanitizeName(name: string): string {
  const s = name.replace(/[:^\s]/g, "_").replace(/^\/+|\/+$/g, "");
  return s.length > 0 ? s : "onnx";
}
