/**
 * OpDef: everything an op means, in one object. `defineOp` checks the definition and returns it;
 * it registers nothing (core/ops/registry.ts lists the ops explicitly).
 */
import type { DType } from "./dtype.ts";
import type { PartialShape } from "./shape.ts";
import type { Tensor } from "./tensor.ts";
import type { Node, Output } from "./graph.ts";
import type { Arbitrary, FastCheck } from "./testing/fast_check_types.ts";

/** A dtype and a (possibly partial) shape: what the graph knows about a tensor. */
export interface TensorSpec {
  readonly dtype: DType;
  readonly shape: PartialShape;
  /** For a resource handle: the dtype and shape of the variable behind it, where known. */
  readonly handle?: { readonly dtype: DType; readonly shape: PartialShape };
}
/** An input to shape inference: its spec and, when the graph knows it, its constant value. */
export interface InferInput extends TensorSpec {
  readonly value?: Tensor;
}

/** The values an attribute may hold, as in TensorFlow's AttrValue. */
export type AttrValue =
  | number
  | boolean
  | string
  | PartialShape
  | Tensor
  | readonly number[]
  | readonly string[]
  | readonly PartialShape[];
export type Attrs = { [name: string]: AttrValue };

export type AttrKind =
  | "int"
  | "float"
  | "bool"
  | "string"
  | "type"
  | "shape"
  | "tensor"
  | "list(int)"
  | "list(float)"
  | "list(type)"
  | "list(string)"
  | "list(shape)";

export interface AttrSpec<T> {
  /** TensorFlow's attr type; decides the GraphDef encoding. */
  kind: AttrKind;
  /** Used when the attr is not given; an attr without a default is required. */
  default?: T;
  /** The values allowed (dtype lists, padding names, data formats). */
  allowed?: readonly T[];
  /** Returns why a value is invalid, or undefined when it is fine. */
  validate?: (value: T) => string | undefined;
}
export type AttrSpecs<A extends Attrs> = { readonly [K in keyof A]: AttrSpec<A[K]> };

export interface InputSpec {
  /** TensorFlow's input arg name ("a", "b", "values"). */
  name: string;
  /** The attr that holds this input's dtype ("T"), or a fixed dtype ("int32"). */
  type: string;
  /** For a list input: the int attr that counts it ("N"). */
  numberAttr?: string;
}
export interface OutputSpec {
  name: string;
  /** The attr that holds this output's dtype, or a fixed dtype. */
  type: string;
  /** For a list output: the int attr that counts it ("num"). */
  numberAttr?: string;
}

/** What a reference implementation may use beyond its inputs: state kept by the session. */
export interface HostContext {
  /** The node being run, for error messages. */
  readonly node: { readonly name: string; readonly op: { readonly name: string } };
  /** The variable behind a resource handle; throws when it was never assigned. */
  readVariable(handle: string): Tensor;
  assignVariable(handle: string, value: Tensor): void;
  /**
   * Reserves `count` Philox counter blocks for this node and returns the first; the position
   * persists across runs of the session, so successive runs draw new numbers.
   */
  randomCounter(count: number): number;
}

/** Builds gradient subgraphs; filled in by core/gradients.ts. */
export interface GradientContext {
  readonly graph: Node["graph"];
}
export type GradientFn<A extends Attrs> = (
  g: GradientContext,
  node: Node<A>,
  dys: readonly (Output | null)[],
) => (Output | null)[];

/** One random test case for an op: inputs and the attrs that differ from defaults. */
export interface OpCase<A extends Attrs> {
  inputs: Tensor[];
  attrs: Partial<A>;
  /** Variables (by handle) that must hold these values before the op runs. */
  variables?: Record<string, Tensor>;
}

export interface OpDefInit<A extends Attrs> {
  /** TensorFlow's name: "MatMul". */
  name: string;
  inputs: readonly InputSpec[];
  outputs: readonly OutputSpec[];
  attrs: AttrSpecs<A>;
  /** Stateful ops (variables, random) are never folded, merged by CSE or pruned as duplicates. */
  stateful?: boolean;
  /** Output dtypes and partial shapes from input specs; throws EdgeflowError on bad input. */
  infer(inputs: readonly InferInput[], attrs: A): TensorSpec[];
  /** The meaning of the op: plain TypeScript on host tensors. */
  reference(inputs: readonly Tensor[], attrs: A, ctx: HostContext): Tensor[];
  gradient?: GradientFn<A>;
  /** Draws valid inputs and attrs with the given dtype for the op's primary type attr. */
  arbitrary?: (fc: FastCheck, dtype: DType) => Arbitrary<OpCase<A>>;
  /** The dtypes `arbitrary` can draw; defaults to those allowed for the primary type attr. */
  testDTypes?: readonly DType[];
}

// OpDef<A> is invariant in A (A appears in argument and result positions); the default `any`
// lets "an op of any attrs" be written `OpDef`.
// deno-lint-ignore no-explicit-any
export interface OpDef<A extends Attrs = any> extends OpDefInit<A> {
  /** The attr kernels are constrained by ("T"), or undefined for ops without a type attr. */
  readonly typeAttr?: string;
  readonly testDTypes: readonly DType[];
}

/** Checks an op definition and returns it. */
export function defineOp<A extends Attrs>(init: OpDefInit<A>): OpDef<A> {
  const specs = init.attrs as unknown as Record<string, AttrSpec<AttrValue>>;
  for (const arg of [...init.inputs, ...init.outputs]) {
    if (arg.numberAttr && specs[arg.numberAttr]?.kind !== "int") {
      throw new Error(`${init.name}: list arg ${arg.name} needs int attr ${arg.numberAttr}`);
    }
  }
  const typeAttr = Object.keys(specs).find((k) => specs[k].kind === "type");
  const testDTypes = init.testDTypes ??
    (typeAttr ? (specs[typeAttr].allowed as readonly DType[] | undefined) ?? [] : []);
  return { ...init, typeAttr, testDTypes };
}

/** Number of outputs a node of this op has with these attrs. */
export function outputCount(op: OpDef, attrs: Attrs): number {
  let n = 0;
  for (const o of op.outputs) n += o.numberAttr ? (attrs[o.numberAttr] as number) : 1;
  return n;
}

/** The dtype an input or output spec names, given resolved attrs. */
export function argDType(type: string, attrs: Attrs): DType {
  return (type in attrs ? attrs[type] : type) as DType;
}
