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
  /** For a queue's handle: its components' dtypes and shapes, where the queue declares them. */
  readonly queue?: readonly TensorSpec[];
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
  /**
   * For a list of mixed dtypes (a queue's components): the list(type) attr holding one dtype per
   * element ("Tcomponents"); the list's length is the attr's. `type` is then unused.
   */
  typeListAttr?: string;
}
export interface OutputSpec {
  name: string;
  /** The attr that holds this output's dtype, or a fixed dtype. */
  type: string;
  /** For a list output: the int attr that counts it ("num"). */
  numberAttr?: string;
  /** For a list of mixed dtypes: the list(type) attr holding one dtype per element. */
  typeListAttr?: string;
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

/**
 * Which of a node's inputs and outputs live in host memory (TensorFlow's HostMemory): shape,
 * axis and permutation arguments, resource handles. Every device reads those inputs as host
 * tensors (the executor downloads one a device produced) and never uploads them. A negative
 * index counts from the end: ConcatV2's axis, -1, follows its N values.
 */
export interface HostMemory {
  /** Indexes, or "all" for ops whose every argument is a shape (ConcatOffset's N shapes). */
  readonly inputs?: readonly number[] | "all";
  readonly outputs?: readonly number[] | "all";
}

/**
 * A run-time check of input values (TensorFlow's OP_REQUIRES on data): integer divisors,
 * index ranges, labels. It is part of the op's meaning, so the executor applies it before the
 * kernel on every device, and the reference applies it too (constant folding calls that).
 */
export interface InputCheck<A extends Attrs> {
  /** The inputs whose values the check reads (negative counts from the end, as in HostMemory). */
  readonly reads: readonly number[];
  /**
   * Whether the check applies to a node with these attrs (integer divisors only); decided once
   * per plan, so a device never reads values nothing will check. Always when absent.
   */
  applies?(attrs: A): boolean;
  /**
   * Throws an EdgeflowError naming what is wrong. `values[i]` is set for every input in
   * `reads` (as a host view: valid only during the call); `specs[i]` is every input's dtype and
   * shape.
   */
  run(values: readonly (Tensor | undefined)[], specs: readonly TensorSpec[], attrs: A): void;
}

/**
 * The control-flow primitives of the 2015 paper (section 4.4) and the EuroSys 2018 paper, and
 * TensorFlow's ControlTrigger (a NoOp that dead inputs do not make dead).
 */
export type ControlFlowKind =
  | "Switch"
  | "Merge"
  | "Enter"
  | "Exit"
  | "NextIteration"
  | "LoopCond"
  | "ControlTrigger";

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
  /** Inputs and outputs in host memory on every device. */
  hostMemory?: HostMemory;
  /**
   * The executor's role of a control-flow op (core/control_flow/): how its outputs are routed
   * between frames and iterations and how dead inputs reach it. Absent for every other op.
   */
  controlFlow?: ControlFlowKind;
  /** Run-time checks of input values, applied the same way on every device. */
  checks?: readonly InputCheck<A>[];
  /**
   * A mode of the op, by its attrs, that a kernel runs only where it lists it (`Kernel.modes`),
   * TensorFlow's kernel constraints on attrs: FusedBatchNormV3's "training". A device whose
   * kernel does not list the mode does not take such a node (the placer picks another, REF at
   * last), so a kernel written for one mode never computes another.
   */
  kernelMode?(attrs: A): string | undefined;
  /** Output dtypes and partial shapes from input specs; throws EdgeflowError on bad input. */
  infer(inputs: readonly InferInput[], attrs: A): TensorSpec[];
  /** The meaning of the op: plain TypeScript on host tensors. */
  reference(inputs: readonly Tensor[], attrs: A, ctx: HostContext): Tensor[];
  gradient?: GradientFn<A>;
  /** Draws valid inputs and attrs with the given dtype for the op's primary type attr. */
  arbitrary?: (fc: FastCheck, dtype: DType) => Arbitrary<OpCase<A>>;
  /** The dtypes `arbitrary` can draw; defaults to those allowed for the primary type attr. */
  testDTypes?: readonly DType[];
  /**
   * Draws inputs one of `checks` refuses (a zero integer divisor, an index out of range): the
   * equivalence suite checks every device refuses them with the reference's message. Undefined
   * where the dtype can hold no invalid value (float divisors).
   */
  invalidArbitrary?: (fc: FastCheck, dtype: DType) => Arbitrary<OpCase<A>> | undefined;
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
    if (arg.typeListAttr && specs[arg.typeListAttr]?.kind !== "list(type)") {
      throw new Error(
        `${init.name}: list arg ${arg.name} needs list(type) attr ${arg.typeListAttr}`,
      );
    }
  }
  const typeAttr = Object.keys(specs).find((k) => specs[k].kind === "type");
  const testDTypes = init.testDTypes ??
    (typeAttr ? (specs[typeAttr].allowed as readonly DType[] | undefined) ?? [] : []);
  const checks = init.checks;
  if (!checks?.length) return { ...init, typeAttr, testDTypes };
  // The reference applies the checks too, so every caller of it (REF, constant folding, tests)
  // refuses what the devices refuse, with the same message.
  const reference = init.reference;
  return {
    ...init,
    typeAttr,
    testDTypes,
    reference: (inputs, attrs, ctx) => {
      for (const c of checks) {
        if (c.applies && !c.applies(attrs)) continue;
        const values = inputs.map((t, i) => resolvesTo(c.reads, i, inputs.length) ? t : undefined);
        c.run(values, inputs, attrs);
      }
      return reference(inputs, attrs, ctx);
    },
  };
}

/** Whether index list `list` (negative from the end) names input `i` of `count`. */
export function resolvesTo(
  list: readonly number[] | "all" | undefined,
  i: number,
  count: number,
): boolean {
  if (!list) return false;
  if (list === "all") return true;
  for (const j of list) if (j === i || j + count === i) return true;
  return false;
}

/** Per input of a node with `count` inputs: whether the op keeps it in host memory. */
export function hostMemoryInputs(op: OpDef, count: number): boolean[] {
  return Array.from({ length: count }, (_, i) => resolvesTo(op.hostMemory?.inputs, i, count));
}

/** Number of outputs a node of this op has with these attrs. */
export function outputCount(op: OpDef, attrs: Attrs): number {
  let n = 0;
  for (const o of op.outputs) {
    n += o.numberAttr
      ? (attrs[o.numberAttr] as number)
      : o.typeListAttr
      ? (attrs[o.typeListAttr] as readonly string[]).length
      : 1;
  }
  return n;
}

/** The dtype an input or output spec names, given resolved attrs. */
export function argDType(type: string, attrs: Attrs): DType {
  return (type in attrs ? attrs[type] : type) as DType;
}
