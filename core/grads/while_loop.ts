/**
 * The gradient of a while loop, as TensorFlow 1 builds it (control_flow_grad.py and
 * control_flow_state.py; "Dynamic Control Flow in Large-Scale Machine Learning", EuroSys 2018,
 * section 5): a backward while loop that runs as many iterations as the forward one did, and
 * reads the forward values of each iteration from stacks, in reverse order.
 *
 * Per op of the forward loop, what its gradient becomes (TensorFlow's rules):
 * - Exit: its gradient enters the backward loop (the initial value of a backward loop variable).
 * - Switch: a Merge of that entered gradient and the backward body's gradient of the Switch's
 *   true output (the backward loop variable's Merge, fed by NextIteration).
 * - NextIteration: the identity: the backward body's result goes round to the next iteration.
 * - Merge: a Switch on the backward loop's predicate: the gradient goes on round the backward
 *   loop while it runs, and out of it (Exit) when it ends, to the loop variable's Enter.
 * - Enter: an Exit of the backward loop carries the gradient of the initial value; a loop
 *   invariant's (is_constant) gradients are summed over the iterations in an accumulator loop
 *   variable, whose Exit is the invariant's gradient.
 * - LoopCond: none (a bool). The backward loop's predicate counts down the forward iterations.
 *
 * The forward loop gets a counter loop variable (TensorFlow's forward index) whose Exit gives
 * the number of iterations. Every forward value the body's gradient reads is pushed onto a stack
 * (StackPushV2 in the forward frame) and popped in the backward body (StackPopV2). Order with
 * parallel iterations: a push waits on the counter of its iteration (a control edge from the
 * counter's body value) and the counter's increment waits on every push, so iteration i+1's
 * pushes follow all of iteration i's; the backward loop's pops are chained the same way on its
 * countdown, whose initial value is the forward counter's Exit (every push is done by then).
 *
 * The body's gradient is built by `vjp` (the gradients machinery itself, confined to the body)
 * inside `whileLoop`'s body function; `whileLoop`'s capture hook then replaces each forward value
 * it reads: a loop invariant by its outer value entered as a constant, a Const by a copy, any
 * other value of the forward frame by a pop, and a value from outside the loop by a constant
 * Enter.
 *
 * TensorLists (variant) are loop variables and invariants with gradients as floats are: a list
 * that gets no gradient is an empty list, an invariant's accumulator starts as zeros of the
 * source's length, and list gradients add with `addListGradients`.
 *
 * Conds inside the body: a value of a cond branch is pushed in every iteration (merged with a
 * stand-in where the branch is not taken) and popped through a Switch on the popped predicate,
 * so the backward branch is dead where the forward one was, as the cond's gradient needs.
 *
 * Nested loops: the inner loop's gradient is built inside the outer backward body (the body's
 * gradient meets the inner loop as a unit). Its stacks are the step's, entered through both
 * frames; the inner forward counter starts on the outer counter's body value and the outer
 * increment waits for the inner counter's Exit, so each outer iteration's inner pushes follow
 * the previous one's; the outer countdown waits for the inner backward loop likewise. The
 * inner count and every outer value the inner gradient reads are outer values, popped by the
 * outer gradient. A loop in a cond branch of the outer body runs, its counter included, only
 * where the branch is taken (forward and backward); the outer counter and countdown wait on its
 * Exit made live everywhere (`liveEverywhere`).
 */
import { isFloat } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Graph, Node, Output } from "../graph.ts";
import { constant, identity } from "../ops/basic.ts";
import { add, greater, sub } from "../ops/binary.ts";
import { Const } from "../ops/const.ts";
import { Enter, Switch } from "../ops/control_flow.ts";
import { zerosLike } from "../ops/fill.ts";
import { StackPopV2, StackPushV2, StackV2 } from "../ops/stack.ts";
import { Tensor } from "../tensor.ts";
import { whileLoop } from "../control_flow/builders.ts";
import type { FrameMap, StaticFrame } from "../control_flow/static_frames.ts";
import { isFullyDefined, type PartialShape } from "../shape.ts";
import { reshape } from "../ops/shape_ops.ts";
import { type LoopUnit, valueFrame } from "./loop_order.ts";
import { type CondBranch, CondBranches, liveEverywhere } from "./cond_context.ts";
import { addForwardCounter, type Counter, forwardLoop, type LoopVar } from "./forward_loop.ts";
import { apply } from "../ops/build.ts";
import {
  EmptyTensorList,
  TensorListElementShape,
  TensorListFromTensor,
  TensorListStack,
} from "../ops/tensor_list.ts";
import { elementShapeTensor } from "../tensor_list/list.ts";
import { addListGradients } from "./tensor_list.ts";
import type { DType } from "../dtype.ts";

/** What the gradients pass offers a loop's gradient. */
export interface LoopGradientHost {
  readonly graph: Graph;
  readonly frames: FrameMap;
  /** The summed gradient of a tensor (null: none). */
  gradientOf(o: Output): Output | null;
  /** Whether `o` is on the path from the xs to the ys (its gradient is wanted). */
  wants(o: Output): boolean;
  /** Adds a partial gradient of `o`. */
  addGradient(o: Output, g: Output): void;
  /** d(Σ gradYs·ys)/d(xs) within a loop body: the walk stops at the xs' nodes. */
  vjp(
    ys: readonly Output[],
    gradYs: readonly Output[],
    xs: readonly Output[],
    loop: EnclosingLoop,
  ): (Output | null)[];
  /** Zeros shaped like the variable behind a resource handle. */
  variableZeros(handle: Output): Output;
  /** The loop whose body this gradient is built in (a nested loop's); absent at the top. */
  readonly outer?: EnclosingLoop;
}

/** A loop gradient under construction, as the loops nested in its body see it. */
export interface EnclosingLoop {
  readonly frame: StaticFrame;
  /** Its forward counter: a nested loop starts after it and ends before its increment. */
  readonly counter: Counter;
  /** Its backward countdown: waits for every nested backward loop of the iteration. */
  readonly decrement: Node;
  /** Forward nodes the gradients add while a backward body is built: its builder leaves them. */
  readonly forward: Set<Node>;
}

/**
 * A zero gradient like `x`, a value of loop variable `v`: zeros, or for a TensorList an empty list
 * of its element shape (TensorFlow's zero list gradient: unset elements read as zeros).
 */
function zerosOf(x: Output, v: LoopVar): Output {
  return x.dtype === "variant" ? emptyListLike(x, v.enter.inputs[0]) : zerosLike(x);
}

/**
 * A list of zeros as long as the list `source` with its elements' shapes: the start of a
 * TensorList invariant's accumulator (list gradients add element by element, same lengths).
 */
function zeroListLike(source: Output): Output {
  const dtype = listDType(source);
  const stacked = apply(TensorListStack, [source, elementShapeTensor(null, "int32")], {
    element_dtype: dtype,
  }).outputs[0];
  const es = apply(TensorListElementShape, [source], { shape_type: "int32" }).outputs[0];
  return apply(TensorListFromTensor, [zerosLike(stacked), es], {}).outputs[0];
}

/** The element dtype of the list `source`, as its spec or its producer's attrs say. */
function listDType(source: Output): DType {
  const dtype = (source.node.outputSpecs[source.index].handle?.dtype ??
    source.node.attrs.element_dtype) as DType | undefined;
  if (!dtype) {
    throw new EdgeflowError(
      `the gradient of the TensorList ${source.name} needs its element dtype, not known when the ` +
        `graph is built`,
    );
  }
  return dtype;
}

/** An empty list with `x`'s element shape, of the element dtype `source` (a list) says. */
function emptyListLike(x: Output, source: Output): Output {
  const dtype = listDType(source);
  const es = apply(TensorListElementShape, [x], { shape_type: "int32" }).outputs[0];
  return apply(EmptyTensorList, [es, -1], { element_dtype: dtype }).outputs[0];
}

/** Whether `outer` is `frame` or one of the frames it is nested in. */
function enclosing(frame: StaticFrame, outer: StaticFrame): boolean {
  for (let f: StaticFrame | null = frame; f; f = f.parent) if (f === outer) return true;
  return false;
}

/**
 * `x` with the static shape `want` where its own is less known (a gradient built from run-time
 * shapes): a backward loop variable must stay within its shape invariant.
 */
function withShape(x: Output, want: PartialShape): Output {
  if (want === null || !isFullyDefined(want) || (x.shape !== null && isFullyDefined(x.shape))) {
    return x;
  }
  const dims = constant(Tensor.fromNumbers("int32", [want.length], want), {
    graph: x.graph,
    controlInputs: [x.node],
  });
  return reshape(x, dims);
}

/** Refuses what this gradient does not build, naming the loop. */
function refuseUnsupported(host: LoopGradientHost, unit: LoopUnit): void {
  const frame = unit.frame;
  const parent = host.outer?.frame ?? host.frames.root;
  if (frame.parent !== parent) {
    throw new EdgeflowError(
      `the gradient of loop '${frame.name}' was asked for outside its enclosing frame`,
    );
  }
}

/**
 * Builds the backward loop of `unit` and adds the gradients of its Enters' inputs (the initial
 * loop values and the loop invariants) to the host.
 */
export function whileLoopGradient(host: LoopGradientHost, unit: LoopUnit): void {
  refuseUnsupported(host, unit);
  const g = host.graph;
  const loop = forwardLoop(g, unit.frame);
  // Float and TensorList (variant) loop variables carry gradients (an int counter,
  // maximumIterations' included, does not).
  const vars = loop.vars.filter((v) => {
    const d = v.enter.outputs[0].dtype;
    return isFloat(d) || d === "variant";
  });
  const invariants = loop.invariants.filter((e) => {
    const d = e.inputs[0].dtype;
    return host.wants(e.inputs[0]) && (isFloat(d) || d === "resource" || d === "variant");
  });
  const exitGrads = vars.map((v) => host.gradientOf(v.exit.outputs[0]));
  if (exitGrads.every((d) => d === null)) return;
  // Forward nodes made from here on (the counter, stacks, pushes) are the forward loop's, even
  // while an enclosing backward body is being built.
  const forward = host.outer?.forward ?? new Set<Node>();
  const asForward = <T>(make: () => T): T => {
    const from = g.nodes.length;
    const made = make();
    for (let k = from; k < g.nodes.length; k++) forward.add(g.nodes[k]);
    return made;
  };
  // Nested in a cond branch of the enclosing body: the loop, its counter included, runs only
  // where the branch is taken; what the enclosing counters wait on is made live everywhere.
  const outerBranches = host.outer ? new CondBranches(host.frames, host.outer.frame) : undefined;
  let inBranch: CondBranch | null = null;
  let entered: Output | undefined;
  for (const e of outerBranches ? loop.frame.enters : []) {
    const b = outerBranches!.of(e.inputs[0]);
    if (b && (!inBranch || b.depth > inBranch.depth)) [inBranch, entered] = [b, e.inputs[0]];
  }
  const counter = asForward(() => {
    const from = g.nodes.length;
    // A Switch's output cannot gate by a control edge (the Switch itself runs): an Identity can.
    const gate = entered ? identity(entered, { name: "branch_gate" }).node : undefined;
    const c = addForwardCounter(g, loop, host.outer, gate);
    if (host.outer) {
      g.addControlInput(host.outer.counter.increment, liveEverywhere(c.count, inBranch).node);
    }
    // Its frames, for an enclosing gradient that pops the count (an Exit's value is outside).
    for (let k = from; k < g.nodes.length; k++) {
      const n = g.nodes[k];
      const outside = n.op === Const || n.op.controlFlow === "Enter";
      host.frames.of.set(n, outside ? loop.frame.parent! : loop.frame);
    }
    return c;
  });
  const initial = vars.map((v, i) => exitGrads[i] ?? zerosOf(v.exit.outputs[0], v));
  const accumulators = invariants.map((e) => {
    const source = e.inputs[0];
    if (source.dtype === "resource") return host.variableZeros(source);
    return source.dtype === "variant" ? zeroListLike(source) : zerosLike(source);
  });
  const shapes: PartialShape[] = [
    [],
    ...vars.map((v) => v.merge.outputs[0].shape),
    ...accumulators.map((a) => a.shape),
  ];
  // The backward body's countdown value and decrement: the pops hang between them.
  let pivot: Node | undefined;
  let decrement: Node | undefined;
  const replaced = new Map<Output, Output>();
  const branches = new CondBranches(host.frames, loop.frame);
  const stacks = new Map<Output, Output>();
  const frame = loop.frame;

  /**
   * A stack holding `t` of every forward iteration, pushed in the forward frame. A value of a
   * cond branch is pushed through a Merge with a stand-in from the other side at each level
   * (the predicate, cast), so a push runs in every iteration: a dead push would be a dead
   * control input of the counter's increment, ending the loop.
   */
  const stackOf = (t: Output, branch: CondBranch | null): Output =>
    stacks.get(t) ?? asForward(() => newStack(t, branch));
  const newStack = (t: Output, branch: CondBranch | null): Output => {
    const value = liveEverywhere(t, branch);
    const max = constant(Tensor.fromNumbers("int32", [], [-1]), { graph: g, name: "stack_size" });
    const handle = g.addNode(StackV2, [max], { elem_type: t.dtype, stack_name: t.name }, {
      name: "stack",
    }).outputs[0];
    // One stack for the whole step, entered through every enclosing loop: a nested loop's
    // values of successive outer iterations follow each other on it, popped in reverse.
    const path: StaticFrame[] = [];
    for (let f: StaticFrame | null = frame; f && f !== host.frames.root; f = f.parent) {
      path.unshift(f);
    }
    let entered = handle;
    for (const f of path) {
      entered = g.addNode(Enter, [entered], {
        frame_name: f.name,
        is_constant: true,
        parallel_iterations: f.parallelIterations,
      }, { name: "stack_enter" }).outputs[0];
    }
    const push = g.addNode(StackPushV2, [entered, value], {}, {
      name: "stack_push",
      controlInputs: [counter.pivot],
    });
    g.addControlInput(counter.increment, push);
    stacks.set(t, handle);
    return handle;
  };

  /** whileLoop's capture hook: how the backward body reads a forward value. */
  const capture = (o: Output, enter: (outer: Output) => Output): Output | undefined => {
    const at = valueFrame(host.frames, o.node);
    if (at === undefined || at !== frame) {
      // From outside the loop: a constant Enter (a value of an enclosing loop's frame is then
      // that loop's gradient's to bring in, a pop of its own).
      if (at !== undefined && !enclosing(frame, at)) {
        throw new EdgeflowError(
          `the gradient of loop '${frame.name}' reads ${o.name} of frame '${at.name}'`,
        );
      }
      return undefined;
    }
    return replace(o, enter);
  };

  /**
   * The backward body's stand-in for forward value `o` of the loop frame: a constant's copy or a
   * pop, which in a cond branch passes a Switch on the branch's (popped) predicate, dead where
   * the branch was not taken, as `o` was.
   */
  const replace = (o: Output, enter: (outer: Output) => Output): Output => {
    const n = o.node;
    if (n.op.controlFlow === "Enter") {
      if (!n.attrs.is_constant) {
        throw new EdgeflowError(
          `the gradient of loop '${frame.name}' reads the entering value ${o.name}`,
        );
      }
      return enter(n.inputs[0]); // A loop invariant: its outer value, once.
    }
    let r = replaced.get(o);
    if (r) return r;
    const branch = branches.of(o);
    if (n.op === Const) {
      // The same constant in the backward body, on its pivot (no stack needed).
      r = g.addNode(Const, [], n.attrs, { name: "const", controlInputs: [pivot!] }).outputs[0];
    } else {
      const handle = enter(stackOf(o, branch));
      const pop = g.addNode(StackPopV2, [handle], { elem_type: o.dtype }, {
        name: "stack_pop",
        controlInputs: [pivot!],
      });
      g.addControlInput(decrement!, pop);
      r = pop.outputs[0];
      if (!branch) g.setOutputSpecs(pop, [{ dtype: o.dtype, shape: o.shape }]);
    }
    if (branch) {
      const pred = replace(branch.pred, enter);
      r = g.addNode(Switch, [r, pred], {}, { name: "stack_branch" }).outputs[branch.side];
    }
    if (n.op !== Const && o.shape !== null && isFullyDefined(o.shape)) {
      // A pop's shape is known only at run time (TensorFlow's too): a Reshape to the pushed
      // value's static shape keeps the backward body's shapes known, in a GraphDef as well.
      const dims = constant(Tensor.fromNumbers("int32", [o.shape.length], o.shape), {
        graph: g,
        name: "stack_pop_shape",
        controlInputs: [pivot!],
      });
      r = reshape(r, dims);
    }
    replaced.set(o, r);
    return r;
  };

  const results = vars.map((v) => v.next.inputs[0]);
  const bodyInputs = [...vars.map((v) => v.sw.outputs[1]), ...invariants.map((e) => e.outputs[0])];
  const outs = whileLoop(
    (c) => greater(c, constant(Tensor.fromNumbers("int32", [], [0]), { graph: g })),
    (c, ...state) => {
      pivot = c.node;
      const grads = state.slice(0, vars.length);
      const sums = state.slice(vars.length);
      const one = constant(Tensor.fromNumbers("int32", [], [1]), {
        graph: g,
        controlInputs: [c.node],
      });
      const count = sub(c, one, { name: "count_down" });
      decrement = count.node;
      const d = host.vjp(results, grads, bodyInputs, { frame, counter, decrement, forward });
      return [
        count,
        ...grads.map((gk, i) => withShape(d[i] ?? zerosOf(gk, vars[i]), shapes[1 + i])),
        ...sums.map((s, j) => {
          const dj = d[vars.length + j];
          if (!dj) return s;
          // A TensorList's gradients add up as lists (TensorList gradients, grads/tensor_list.ts).
          const sum = s.dtype === "variant" ? addListGradients([dj, s]) : add(s, dj);
          return withShape(sum, shapes[1 + vars.length + j]);
        }),
      ];
    },
    [counter.count, ...initial, ...accumulators],
    {
      name: "while_grad",
      parallelIterations: frame.parallelIterations,
      shapeInvariants: shapes,
      capture,
      leave: forward,
    },
  );
  // The enclosing backward iteration ends after this backward loop (its pops come first).
  // (A loop in a cond branch: its backward loop is dead where the branch was not taken.)
  if (host.outer) g.addControlInput(host.outer.decrement, liveEverywhere(outs[0], inBranch).node);
  vars.forEach((v, i) => {
    const x = v.enter.inputs[0];
    if (host.wants(x)) host.addGradient(x, outs[1 + i]);
  });
  invariants.forEach((e, j) => host.addGradient(e.inputs[0], outs[1 + vars.length + j]));
}
