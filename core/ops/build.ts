/**
 * How builder functions add nodes: they find the graph from their inputs (or the current graph),
 * turn JavaScript values into Const nodes with the dtype their sibling inputs imply, and call
 * Graph.addNode.
 */
import { type DType, isDType } from "../dtype.ts";
import { EdgeflowError, withContext } from "../errors.ts";
import { type AddNodeOptions, Graph, type Node, Output } from "../graph.ts";
import type { Attrs, OpDef } from "../op.ts";
import { describeValue, type NestedArray, Tensor, tensorArg } from "../tensor.ts";
import { Const } from "./const.ts";

/** Anything a builder accepts as a tensor: a graph output, a host Tensor or nested JS values. */
export type TensorLike = Output | Tensor | NestedArray;

/** Options every builder takes besides the op's own attrs. */
export interface BuildOptions extends AddNodeOptions {
  /** The graph to build in when no input is an Output. */
  graph?: Graph;
}
export type OpOptions<A extends Attrs> = Partial<A> & BuildOptions;

const OPTION_KEYS = new Set(["name", "device", "controlInputs", "graph"]);

/** Adds a node of `op` and returns it. */
export function apply<A extends Attrs>(
  op: OpDef<A>,
  inputs: readonly (TensorLike | readonly TensorLike[])[],
  options: OpOptions<A> = {},
): Node<A> {
  if (!Array.isArray(inputs)) {
    throw new EdgeflowError(`inputs must be an array, got ${describeValue(inputs)}`, {
      op: op.name,
    });
  }
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new EdgeflowError(
      `options must be an object of attributes and build options, got ${describeValue(options)}`,
      { op: op.name },
    );
  }
  const attrs: Record<string, unknown> = {};
  const addOptions: AddNodeOptions = {};
  for (const [k, v] of Object.entries(options)) {
    if (OPTION_KEYS.has(k)) (addOptions as Record<string, unknown>)[k] = v;
    else attrs[k] = v;
  }
  const graph = findGraph(inputs, options.graph, op.name);
  const outputs = inputs.map((x, i) => {
    const spec = op.inputs[i];
    if (spec === undefined) {
      throw new EdgeflowError(`expects ${op.inputs.length} inputs, got ${inputs.length}`, {
        op: op.name,
      });
    }
    const hint = dtypeHint(op, i, inputs, attrs);
    const what = `input '${spec.name}'`;
    if (!spec.numberAttr && !spec.typeListAttr) {
      return toOutput(graph, x as TensorLike, hint, what, op.name);
    }
    if (!Array.isArray(x)) {
      throw new EdgeflowError(`${what} must be a list of tensors, got ${describeValue(x)}`, {
        op: op.name,
      });
    }
    return x.map((e, j) => toOutput(graph, e, hint, `${what}[${j}]`, op.name));
  });
  return graph.addNode(op, outputs, attrs as Partial<A>, addOptions);
}

function findGraph(inputs: readonly unknown[], given: Graph | undefined, op: string): Graph {
  for (const x of inputs.flat()) if (x instanceof Output) return x.graph;
  const g = given ?? Graph.current();
  if (!g) {
    throw new EdgeflowError(
      "no graph to build in: pass an Output input, `graph` in the options, or build inside g.asDefault()",
      { op },
    );
  }
  return g;
}

/** The dtype a literal input should take: its type attr if set, else a sibling Output's dtype. */
function dtypeHint(
  op: OpDef,
  index: number,
  inputs: readonly unknown[],
  attrs: Record<string, unknown>,
): DType | undefined {
  const type = op.inputs[index].type;
  if (isDType(type)) return type;
  if (isDType(attrs[type])) return attrs[type] as DType;
  const siblings = inputs.filter((_, j) => op.inputs[j].type === type).flat() as unknown[];
  const typed = siblings.find((e) => e instanceof Output || e instanceof Tensor) as
    | Output
    | Tensor
    | undefined;
  if (typed) return typed.dtype;
  // A literal alone takes the attr's default dtype (Tidx: int32); shape, axis and index arguments
  // that allow only integers (Tshape, Tperm, ...) make numbers int32.
  const spec =
    (op.attrs as Record<string, { default?: unknown; allowed?: readonly DType[] }>)[type];
  if (isDType(spec?.default)) return spec.default;
  if (spec?.allowed && !spec.allowed.includes("float32") && spec.allowed.includes("int32")) {
    return "int32";
  }
  return undefined;
}

/**
 * Turns a literal into a Const node in `graph`; passes Outputs through. A value that is not a
 * number where numbers belong (a string, null, an object), or a ragged array, is refused with an
 * EdgeflowError naming the argument (`what`) and the op.
 */
export function toOutput(
  graph: Graph,
  x: TensorLike,
  dtype?: DType,
  what = "value",
  op?: string,
): Output {
  if (x instanceof Output) return x;
  const value = x instanceof Tensor
    ? x
    : withContext({ op }, () => tensorArg(what, x, undefined, dtype ?? literalDType(x)));
  return graph.addNode(Const, [], { value, dtype: value.dtype }, {}).outputs[0];
}

/** tfjs's defaults for JavaScript values: numbers float32, booleans bool, bigints int64. */
export function literalDType(x: NestedArray): DType | undefined {
  if (!Array.isArray(x)) return literalKind(x);
  const flat = x.flat(Infinity as 1) as unknown[];
  if (flat.length === 0) return undefined;
  const kinds = new Set(flat.map((v) => typeof v));
  const only = kinds.size === 1 ? [...kinds][0] : undefined;
  if (only === "boolean") return "bool";
  if (only === "string") return "string";
  if (only === "bigint") return "int64";
  return undefined;
}

function literalKind(x: unknown): DType | undefined {
  if (typeof x === "boolean") return "bool";
  if (typeof x === "string") return "string";
  if (typeof x === "bigint") return "int64";
  return undefined;
}
