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
import { MapHostContext } from "../../host_context.ts";
import { formatShape, isFullyDefined } from "../../shape.ts";
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
    /** The most bytes one tensor of the model may take (options.maxTensorBytes). */
    readonly maxTensorBytes: number,
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
  /**
   * `o` as a scalar (ONNX accepts a one-element tensor where it means a scalar), of `dtype` when
   * given; `what` names it in the error.
   */
  asScalar(o: Output, what: string, dtype?: DType): Output {
    if (dtype && o.dtype !== dtype) throw this.error(`${what} must be ${dtype}, got ${o.dtype}`);
    if (o.shape !== null && o.shape.length === 0) return o;
    if (o.shape !== null && o.shape.some((d) => d > 1 || d === 0)) {
      throw this.error(`${what} must hold one element, got shape ${formatShape(o.shape)}`);
    }
    return this.out("Reshape", [o, this.ints32([])]);
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
    const v = loadTimeValue(o);
    if (!v) throw new OnnxNeedsConstantError(this.node.input[i], what, this.file, this.where);
    return intList(v);
  }
  /** The value of input i at load time as a Tensor. */
  constTensor(i: number, what: string): Tensor {
    const o = this.req(i);
    const v = loadTimeValue(o);
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

  /**
   * Refuses a load-time size the model's numbers ask for (an output of `elements` elements, an
   * unrolled loop of `elements` steps) past `max`, before any array or node is made for it.
   */
  limit(elements: number, max: number, what: string): void {
    if (!(elements <= max)) throw this.error(`${what} (${elements}) is over the limit of ${max}`);
  }

  error(why: string): EdgeflowError {
    return new EdgeflowError(`${this.file}: ${this.node.path}: ${why}`, this.where);
  }
  unsupported(why: string): OnnxUnsupportedError {
    return new OnnxUnsupportedError(`${this.file}: ${this.node.path}: ${why}`, this.where);
  }
}

/** Load-time values stay small: shape arithmetic, not weights. */
const MAX_FOLDED = 1 << 16;
const folded = new WeakMap<Output, Tensor | null>();

/**
 * `o`'s value if the graph fixes it at load time: a Const, the Shape of a fully known shape, or a
 * stateless op of such values, evaluated with its reference implementation. ONNX exporters
 * compute shape arguments (Resize's sizes, Reshape's target) from Shape, Gather and Concat.
 */
export function loadTimeValue(o: Output, depth = 0): Tensor | undefined {
  const direct = constantValue(o);
  if (direct) return direct;
  if (folded.has(o)) return folded.get(o) ?? undefined;
  let value: Tensor | undefined;
  const node = o.node;
  if (node.op.name === "Shape" && isFullyDefined(node.inputs[0].shape)) {
    const dims = node.inputs[0].shape;
    value = Tensor.fromNumbers(node.attrs.out_type ?? "int32", [dims.length], dims);
  } else if (
    depth < 32 && !node.op.stateful && node.inputs.length > 0 && node.controlInputs.length === 0 &&
    node.op.name !== "Placeholder" &&
    // A loop variable reads a Merge whose back edge is not wired yet (If, Loop and Scan of
    // onnx_ops_control.ts): folding it would take the first iteration's value for all of them.
    node.op.controlFlow === undefined
  ) {
    const inputs = node.inputs.map((i) => loadTimeValue(i, depth + 1));
    if (inputs.every((t): t is Tensor => t !== undefined && t.size <= MAX_FOLDED)) {
      try {
        const ctx = new MapHostContext();
        ctx.node = node;
        const out = node.op.reference(inputs, node.attrs, ctx)[o.index];
        if (out.size <= MAX_FOLDED) value = out;
      } catch (e) {
        if (!(e instanceof EdgeflowError)) throw e; // the run reports it with its context
      }
    }
  }
  folded.set(o, value ?? null);
  return value;
}

/** An Edgeflow node name from an ONNX name: ':' would read as an output index, '^' as control. */
export function sanitizeName(name: string): string {
  const s = name.replace(/[:^\s]/g, "_").replace(/^\/+|\/+$/g, "");
  return s.length > 0 ? s : "onnx";
}
