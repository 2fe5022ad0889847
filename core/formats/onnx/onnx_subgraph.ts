/**
 * ONNX subgraphs (If's branches, Loop's and Scan's bodies): their names resolve in their own
 * scope first, then in the enclosing graphs' (a subgraph's name shadows an outer one), and they
 * are mapped node by node like the main graph. The control-flow mappers (onnx_ops_control.ts)
 * map a body inside `cond` / `whileLoop`, whose construction wires the outer values it reads
 * (Switch, constant Enter); `trace` maps a body once into a scratch graph to learn the dtypes and
 * shapes of its outputs before the loop that holds it is made.
 */
import type { DType } from "../../dtype.ts";
import { EdgeflowError } from "../../errors.ts";
import { Graph, type Output } from "../../graph.ts";
import type { TensorSpec } from "../../op.ts";
import { getOp } from "../../ops/registry.ts";
import type { PartialShape } from "../../shape.ts";
import { loadTimeValue, sanitizeName } from "./onnx_context.ts";
import type { OnnxGraphProto, OnnxNodeProto } from "./onnx_schema.ts";
import { dtypeFromOnnx, OnnxUnsupportedError, tensorFromOnnx } from "./onnx_tensor.ts";

/**
 * The values a (sub)graph's nodes can name: its own, then the enclosing scope's. `bring` turns
 * an enclosing value into one of this scope's graph (the stand-ins of a scratch trace).
 */
export class OnnxScope extends Map<string, Output> {
  private readonly brought = new Map<string, Output>();

  constructor(
    private readonly outer: ReadonlyMap<string, Output>,
    private readonly bring?: (o: Output) => Output,
  ) {
    super();
  }

  override get(name: string): Output | undefined {
    const own = super.get(name);
    if (own || !this.bring) return own ?? this.outer.get(name);
    let o = this.brought.get(name);
    if (!o) {
      const found = this.outer.get(name);
      if (!found) return undefined;
      o = this.bring(found);
      this.brought.set(name, o);
    }
    return o;
  }

  override has(name: string): boolean {
    return super.has(name) || this.outer.has(name);
  }
}

/** Maps nodes of a (sub)graph into `graph`, names resolving through `scope` (onnx_model.ts). */
export type MapOnnxNodes = (
  graph: Graph,
  nodes: readonly OnnxNodeProto[],
  scope: OnnxScope,
) => void;

/** What a control-flow mapper uses to map its node's subgraphs. */
export interface OnnxSubgraphs {
  /**
   * Maps `g` into `graph` with its inputs bound to `args`, its outer names resolving in the
   * node's scope; returns its outputs. `what` names the subgraph in errors ("body").
   */
  map(graph: Graph, g: OnnxGraphProto, args: readonly Output[], what: string): Output[];
  /** The dtypes and shapes `g`'s outputs get for arguments of `args`' specs (a scratch map). */
  trace(g: OnnxGraphProto, args: readonly TensorSpec[], what: string): TensorSpec[];
}

/** The subgraph mapper of a node whose names resolve in `outer`. */
export function onnxSubgraphs(
  outer: ReadonlyMap<string, Output>,
  mapNodes: MapOnnxNodes,
  file: string,
  nodePath: string,
  where: { node: string; op: string },
  maxBytes: number,
): OnnxSubgraphs {
  const at = (what: string) => `${file}: ${nodePath}: ${what}`;
  const run = (
    graph: Graph,
    g: OnnxGraphProto,
    scope: OnnxScope,
    args: readonly Output[],
    what: string,
  ) => {
    if (g.input.length !== args.length) {
      throw new EdgeflowError(
        at(`${what} takes ${g.input.length} inputs; the op gives it ${args.length}`),
        where,
      );
    }
    if (g.sparseInitializers > 0) {
      throw new OnnxUnsupportedError(at(`${what}: sparse_initializer is not supported`), where);
    }
    for (const t of g.initializer) {
      const value = tensorFromOnnx(t, file, maxBytes);
      const node = graph.addNode(getOp("Const"), [], { value, dtype: value.dtype }, {
        name: sanitizeName(t.name),
      });
      scope.set(t.name, node.outputs[0]);
    }
    g.input.forEach((v, i) => {
      if (v.nonTensor) {
        throw new OnnxUnsupportedError(
          at(`${what}.input[${i}] '${v.name}' is a ${v.nonTensor}`),
          where,
        );
      }
      if (v.elemType) {
        const declared = dtypeFromOnnx(v.elemType, at(`${what}.input[${i}] '${v.name}'`));
        if (declared !== args[i].dtype) {
          throw new EdgeflowError(
            at(
              `${what}.input[${i}] '${v.name}' is declared ${declared}; the op gives it ${
                args[i].dtype
              }`,
            ),
            where,
          );
        }
      }
      scope.set(v.name, args[i]);
    });
    mapNodes(graph, g.node, scope);
    return g.output.map((v, i) => {
      const o = scope.get(v.name);
      if (!o) {
        throw new EdgeflowError(
          at(`${what}.output[${i}] '${v.name}' is computed by no node of it nor named outside`),
          where,
        );
      }
      return o;
    });
  };
  return {
    map: (graph, g, args, what) => run(graph, g, new OnnxScope(outer), args, what),
    trace: (g, args, what) => {
      const scratch = new Graph();
      const standIn = (o: Output) => {
        const value = loadTimeValue(o);
        if (value) {
          return scratch.addNode(getOp("Const"), [], { value, dtype: value.dtype }).outputs[0];
        }
        return placeholder(scratch, o.dtype, o.shape);
      };
      const params = args.map((a) => placeholder(scratch, a.dtype, a.shape));
      return run(scratch, g, new OnnxScope(outer, standIn), params, what).map((o) => ({
        dtype: o.dtype,
        shape: o.shape,
      }));
    },
  };
}

function placeholder(graph: Graph, dtype: DType, shape: PartialShape): Output {
  return graph.addNode(getOp("Placeholder"), [], { dtype, shape }).outputs[0];
}

/** Every node of `g` and of the subgraphs in its nodes' attributes, depth first. */
export function* allOnnxNodes(g: OnnxGraphProto): Generator<OnnxNodeProto> {
  for (const n of g.node) {
    yield n;
    for (const a of n.attribute) if (a.g) yield* allOnnxNodes(a.g);
  }
}

/** `g` and every subgraph inside it. */
export function* allOnnxGraphs(g: OnnxGraphProto): Generator<OnnxGraphProto> {
  yield g;
  for (const n of g.node) for (const a of n.attribute) if (a.g) yield* allOnnxGraphs(a.g);
}

/** What two shapes a value takes have in common: the dims they agree on, else unknown. */
export function joinShapes(a: PartialShape, b: PartialShape): PartialShape {
  if (a === null || b === null || a.length !== b.length) return null;
  return a.map((d, i) => (d === b[i] ? d : -1));
}
