/**
 * Symbolic differentiation: `gradients(ys, xs)` adds the backward graph to the forward one, as
 * TensorFlow's tf.gradients does. Each node between the xs and the ys (in reverse creation order,
 * which is a reverse topological order) gets the sum of its outputs' gradients and calls its op's
 * gradient function; the new nodes are named "gradients/<node>_grad/...".
 *
 * - Only float, resource and variant edges carry gradients (TensorFlow's backpropagatable types), so
 *   integer shape and index arguments never need gradient functions.
 * - A tensor read several times gets the AddN of its partial gradients.
 * - xs that the ys do not depend on get null (or zeros, with `unconnected: "zero"`).
 * - Ops whose gradient function returns null for an input (StopGradient, Floor, ...) stop the
 *   gradient there; an op on the path with no gradient function is an EdgeflowError naming the
 *   node and op.
 * - Outputs of a multi-output node that get no gradient receive zeros (ZerosLike), so gradient
 *   functions see one gradient per output; `isZeros` lets them skip such terms.
 */
import { type DType, isFloat } from "./dtype.ts";
import { EdgeflowError, withContext } from "./errors.ts";
import type { Graph, Node } from "./graph.ts";
import { Output } from "./graph.ts";
import { formatShape, isCompatible, isFullyDefined } from "./shape.ts";
import { Tensor } from "./tensor.ts";
import { Variable } from "./variables.ts";
import { constant } from "./ops/basic.ts";
import { fill, zerosLike } from "./ops/fill.ts";
import { addN } from "./ops/grad_math.ts";
import { shape as shapeOp } from "./ops/shape_ops.ts";
import { topologicalOrder } from "./passes/topo.ts";
import { type FrameMap, type StaticFrame, staticFrames } from "./control_flow/static_frames.ts";
import { backwardOrder, type LoopUnit, valueFrame } from "./grads/loop_order.ts";
import { type EnclosingLoop, whileLoopGradient } from "./grads/while_loop.ts";
import { addListGradients } from "./grads/tensor_list.ts";

export interface GradientsOptions {
  /** The name scope of the backward graph; "gradients" (made unique) by default. */
  name?: string;
  /** What an x the ys do not depend on gets: null (TensorFlow's default) or zeros like x. */
  unconnected?: "none" | "zero";
}

/** Whether gradients flow along an edge of this dtype (TensorFlow's _IsBackpropagatable). */
export function carriesGradient(dtype: DType): boolean {
  // A variant is a TensorList: its gradient is a list (core/grads/tensor_list.ts).
  return isFloat(dtype) || dtype === "resource" || dtype === "variant";
}

/**
 * d(sum of ys)/d(x) for each x, each the sum over ys weighted by `gradYs` (ones by default). An x
 * may be a Variable: its gradient is taken through its handle, summed over every read.
 */
export function gradients(
  ys: Output | readonly Output[],
  xs: Output | Variable | readonly (Output | Variable)[],
  gradYs?: readonly (Output | null | undefined)[],
  options: GradientsOptions = {},
): (Output | null)[] {
  const yList = Array.isArray(ys) ? (ys as readonly Output[]) : [ys as Output];
  const xList = (Array.isArray(xs) ? xs as readonly (Output | Variable)[] : [xs as Output]).map(
    (x) => (x instanceof Variable ? x.handle : x),
  );
  if (yList.length === 0) throw new EdgeflowError("gradients needs at least one y");
  const graph = yList[0].graph;
  for (const t of [...yList, ...xList]) {
    if (!(t instanceof Output)) {
      throw new EdgeflowError(`gradients takes Outputs or Variables, got ${String(t)}`);
    }
    if (t.graph !== graph) throw new EdgeflowError(`${t.name} belongs to another graph`);
  }
  if (gradYs !== undefined && gradYs.length !== yList.length) {
    throw new EdgeflowError(
      `gradYs has ${gradYs.length} entries but there are ${yList.length} ys`,
    );
  }
  return graph.withNameScope(
    options.name ?? "gradients",
    () => new Backprop(graph, yList, xList, gradYs ?? [], options).run(),
  );
}

/**
 * Where a Backprop runs: inside a loop body (a while loop's gradient differentiates its body),
 * the walk back from the ys stops at the xs' nodes, and the frames are the outer pass's.
 */
interface Within {
  /** The loop whose body this is (its gradient under construction). */
  readonly loop: EnclosingLoop;
  readonly frame: StaticFrame;
  readonly frames: FrameMap;
  readonly stop: ReadonlySet<Node>;
}

/** One backward pass: the nodes on the path, the partial gradients per tensor, and the loop. */
class Backprop {
  /** Nodes both reachable from an x and feeding a y, along gradient-carrying edges. */
  private readonly between = new Set<Node>();
  /** Partial gradients per tensor, summed when the tensor's producer is processed. */
  private readonly partials = new Map<Output, Output[]>();
  private readonly summed = new Map<Output, Output | null>();

  constructor(
    private readonly graph: Graph,
    private readonly ys: readonly Output[],
    private readonly xs: readonly Output[],
    private readonly gradYs: readonly (Output | null | undefined)[],
    private readonly options: GradientsOptions,
    private readonly within?: Within,
  ) {}

  run(): (Output | null)[] {
    this.markBetween();
    this.seed();
    // Consumers before producers, in the dependency order rather than creation order (cond and
    // whileLoop rewire the ops their functions made to read Switches and Enters made after them),
    // each while loop as one unit whose gradient is a backward loop (core/grads/while_loop.ts).
    const frames = this.within?.frames ??
      staticFrames(topologicalOrder(this.ys.map((y) => y.node)));
    const order = backwardOrder(this.between, frames, this.within?.frame ?? frames.root);
    for (const item of order) {
      if (!("frame" in item)) this.backprop(item);
      else this.backpropLoop(item, frames);
    }
    return this.xs.map((x) => {
      const g = this.total(x);
      if (g !== null || this.options.unconnected !== "zero") return g;
      return x.dtype === "resource" ? variableZeros(x) : zerosLike(x);
    });
  }

  private markBetween(): void {
    // Forward from the xs over gradient-carrying edges.
    const consumers = new Map<Output, Node[]>();
    for (const n of this.graph.nodes) {
      for (const input of n.inputs) {
        if (!carriesGradient(input.dtype)) continue;
        const list = consumers.get(input) ?? [];
        list.push(n);
        consumers.set(input, list);
      }
    }
    const reached = new Set<Node>();
    const stack: Node[] = [];
    const reach = (n: Node) => {
      if (!reached.has(n)) reached.add(n), stack.push(n);
    };
    for (const x of this.xs) {
      reached.add(x.node);
      for (const c of consumers.get(x) ?? []) reach(c);
    }
    while (stack.length > 0) {
      const n = stack.pop()!;
      for (const out of n.outputs) for (const c of consumers.get(out) ?? []) reach(c);
    }
    // Backward from the ys, keeping only reached nodes.
    const back = this.ys.map((y) => y.node).filter((n) => reached.has(n));
    for (const n of back) this.between.add(n);
    const stop = this.within?.stop;
    while (back.length > 0) {
      const n = back.pop()!;
      if (stop?.has(n)) continue;
      for (const input of n.inputs) {
        if (!carriesGradient(input.dtype) || !reached.has(input.node)) continue;
        if (!this.between.has(input.node)) this.between.add(input.node), back.push(input.node);
      }
    }
  }

  /** The initial gradients: gradYs, or ones shaped like each y. */
  private seed(): void {
    this.ys.forEach((y, i) => {
      const given = this.gradYs[i];
      let g: Output;
      if (given) {
        if (given.dtype !== y.dtype || !isCompatible(given.shape, y.shape)) {
          throw new EdgeflowError(
            `gradYs[${i}] (${given.dtype} ${
              formatShape(given.shape)
            }) does not match y ${y.name} ` +
              `(${y.dtype} ${formatShape(y.shape)})`,
          );
        }
        g = given;
      } else {
        if (!isFloat(y.dtype)) {
          throw new EdgeflowError(
            `y ${y.name} has dtype ${y.dtype}; gradients need float ys (or gradYs)`,
          );
        }
        const one = constant(Tensor.fromNumbers(y.dtype, [], [1]), { graph: this.graph });
        const dims = isFullyDefined(y.shape)
          ? constant(Tensor.fromNumbers("int32", [y.shape.length], y.shape), {
            graph: this.graph,
          })
          : shapeOp(y);
        g = fill(dims, one, { name: `grad_ys_${i}` });
      }
      this.push(y, g);
    });
  }

  private push(t: Output, g: Output): void {
    const list = this.partials.get(t) ?? [];
    list.push(g);
    this.partials.set(t, list);
  }

  /** The summed gradient of `t` (AddN of its partials), computed once. */
  private total(t: Output): Output | null {
    if (this.summed.has(t)) return this.summed.get(t)!;
    const list = this.partials.get(t) ?? [];
    const g = list.length === 0
      ? null
      : list.length === 1
      ? list[0]
      : t.dtype === "variant"
      ? withContext({ node: t.node.name, op: t.node.op.name }, () => addListGradients(list))
      : addN(list);
    this.summed.set(t, g);
    return g;
  }

  /** A while loop's nodes, all at once: a backward loop (core/grads/while_loop.ts). */
  private backpropLoop(unit: LoopUnit, frames: FrameMap): void {
    for (const t of [...this.ys, ...this.xs]) {
      if (unit.nodes.includes(t.node) && valueFrame(frames, t.node) === unit.frame) {
        throw new EdgeflowError(
          `${t.name} is inside while loop '${unit.frame.name}': gradients take ys and xs ` +
            `outside loops (the loop's results and the tensors it reads)`,
        );
      }
    }
    whileLoopGradient({
      graph: this.graph,
      frames,
      gradientOf: (o) => this.total(o),
      wants: (o) => carriesGradient(o.dtype) && this.between.has(o.node),
      addGradient: (o, g) => this.push(o, g),
      vjp: (ys, gradYs, xs, loop) =>
        new Backprop(this.graph, ys, xs, gradYs, {}, {
          loop,
          frame: loop.frame,
          frames,
          stop: new Set(xs.map((x) => x.node)),
        }).run(),
      variableZeros,
      outer: this.within?.loop,
    }, unit);
  }

  private backprop(node: Node): void {
    const dys = node.outputs.map((o) => this.total(o));
    if (dys.every((d) => d === null)) return;
    // Sources (and nodes fed only by non-path tensors) need no gradient function.
    const pathInputs = node.inputs.map((i) => carriesGradient(i.dtype) && this.between.has(i.node));
    if (!pathInputs.some(Boolean)) return;
    const fn = node.op.gradient;
    const context = { node: node.name, op: node.op.name };
    if (!fn) {
      throw new EdgeflowError(
        `no gradient is defined for op ${node.op.name}, which lies on the path from the xs to ` +
          `the ys; cut the path with stopGradient if no gradient should flow through it`,
        context,
      );
    }
    const filled = dys.map((d, i) =>
      d ?? (isFloat(node.outputs[i].dtype) ? zerosLike(node.outputs[i]) : null)
    );
    const grads = this.graph.withNameScope(
      `${node.name}_grad`,
      () => withContext(context, () => fn({ graph: this.graph }, node, filled)),
    );
    if (grads.length !== node.inputs.length) {
      throw new EdgeflowError(
        `the gradient function returned ${grads.length} gradients for ${node.inputs.length} inputs`,
        context,
      );
    }
    grads.forEach((g, i) => {
      if (g === null || !pathInputs[i]) return;
      const input = node.inputs[i];
      const want = input.dtype === "resource" ? g.dtype : input.dtype;
      if (g.dtype !== want || (input.dtype !== "resource" && !isCompatible(g.shape, input.shape))) {
        throw new EdgeflowError(
          `the gradient for input ${i} (${input.name}: ${input.dtype} ${
            formatShape(input.shape)
          }) has dtype ${g.dtype} and shape ${formatShape(g.shape)}`,
          context,
        );
      }
      this.push(input, g);
    });
  }
}

/** Zeros of the shape of the variable behind a resource handle. */
function variableZeros(handle: Output): Output {
  const spec = handle.node.outputSpecs[handle.index].handle;
  if (!spec || !isFullyDefined(spec.shape)) {
    throw new EdgeflowError(
      `zero gradient for variable ${handle.name} needs its shape, which is not known`,
    );
  }
  return constant(Tensor.zeros(spec.dtype, spec.shape), { graph: handle.graph });
}
