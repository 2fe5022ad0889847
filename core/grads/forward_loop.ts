/**
 * A while loop's forward side as its gradient sees it (TensorFlow 1's wiring, as `whileLoop`
 * builds it or a GraphDef holds it): per loop variable its Enter, Merge, Switch, Exit and
 * NextIteration, the loop invariants, the LoopCond; and the iteration counter the gradient adds
 * to the loop (TensorFlow's forward index), whose Exit tells the backward loop how many
 * iterations to run.
 */
import { EdgeflowError } from "../errors.ts";
import type { Graph, Node, Output } from "../graph.ts";
import { constant, identity } from "../ops/basic.ts";
import { add } from "../ops/binary.ts";
import { Enter, Exit, Merge, NextIteration, Switch } from "../ops/control_flow.ts";
import { Tensor } from "../tensor.ts";
import type { StaticFrame } from "../control_flow/static_frames.ts";

/** Where a nested loop's counter hangs: the enclosing loop's counter. */
export interface OuterCounter {
  readonly counter: Counter;
}

/** One loop variable of the forward loop, as whileLoop (or a TensorFlow 1 GraphDef) wires it. */
export interface LoopVar {
  readonly enter: Node;
  readonly merge: Node;
  readonly sw: Node;
  readonly exit: Node;
  readonly next: Node;
}

export interface ForwardLoop {
  readonly frame: StaticFrame;
  readonly loopCond: Output;
  readonly vars: LoopVar[];
  readonly invariants: Node[];
}

function consumersIndex(g: Graph): Map<Output, Node[]> {
  const index = new Map<Output, Node[]>();
  for (const n of g.nodes) {
    for (const o of n.inputs) {
      const list = index.get(o);
      if (list) list.push(n);
      else index.set(o, [n]);
    }
  }
  return index;
}

/** The loop's structure from its Enters: Merge, Switch, Exit and NextIteration per variable. */
export function forwardLoop(g: Graph, frame: StaticFrame): ForwardLoop {
  const readers = consumersIndex(g);
  const one = (o: Output, kind: string, what: Node): Node => {
    const n = (readers.get(o) ?? []).find((c) => c.op.controlFlow === kind);
    if (!n) {
      throw new EdgeflowError(
        `the loop variable entered by ${what.name} has no ${kind}: gradients need loops as ` +
          `whileLoop builds them`,
        { node: what.name, op: what.op.name },
      );
    }
    return n;
  };
  const vars: LoopVar[] = [];
  const invariants: Node[] = [];
  let loopCond: Output | undefined;
  for (const enter of frame.enters) {
    if (enter.attrs.is_constant) {
      invariants.push(enter);
      continue;
    }
    const merge = one(enter.outputs[0], "Merge", enter);
    const sw = one(merge.outputs[0], "Switch", enter);
    const exit = one(sw.outputs[0], "Exit", enter);
    const next = merge.inputs[1]?.node;
    if (next?.op.controlFlow !== "NextIteration") {
      throw new EdgeflowError(`the loop's Merge ${merge.name} has no NextIteration back edge`, {
        node: merge.name,
        op: merge.op.name,
      });
    }
    loopCond = sw.inputs[1];
    vars.push({ enter, merge, sw, exit, next });
  }
  if (!loopCond) {
    throw new EdgeflowError(`loop frame '${frame.name}' has no loop variable`);
  }
  return { frame, loopCond, vars, invariants };
}

/** The forward iteration counter added to a loop: its Exit, body value and increment. */
export interface Counter {
  readonly count: Output;
  readonly pivot: Node;
  readonly increment: Node;
}

/**
 * Adds the counter to `loop`. Nested: its count starts in the enclosing iteration once that
 * loop's counter has (so the nested loops of successive outer iterations push in order), and
 * only where `gate` runs (a node of the cond branch the loop sits in, if any); the caller makes
 * the enclosing increment wait for this loop's end.
 */
export function addForwardCounter(
  g: Graph,
  loop: ForwardLoop,
  outer?: OuterCounter,
  gate?: Node,
): Counter {
  const frameAttrs = {
    frame_name: loop.frame.name,
    parallel_iterations: loop.frame.parallelIterations,
  };
  const zero = constant(Tensor.fromNumbers("int32", [], [0]), {
    graph: g,
    name: "count_init",
    controlInputs: [...(outer ? [outer.counter.pivot] : []), ...(gate ? [gate] : [])],
  });
  const enter = g.addNode(Enter, [zero], frameAttrs, { name: "forward_count_enter" });
  const merge = g.addNode(Merge, [[enter.outputs[0], enter.outputs[0]]], {}, {
    name: "forward_count_merge",
  });
  const sw = g.addNode(Switch, [merge.outputs[0], loop.loopCond], {}, {
    name: "forward_count_switch",
  });
  const exit = g.addNode(Exit, [sw.outputs[0]], {}, { name: "forward_count" });
  const pivot = identity(sw.outputs[1], { name: "forward_count_body" });
  const one = constant(Tensor.fromNumbers("int32", [], [1]), {
    graph: g,
    name: "count_one",
    controlInputs: [pivot.node],
  });
  const increment = add(pivot, one, { name: "forward_count_next" });
  const next = g.addNode(NextIteration, [increment], {}, { name: "forward_count_iteration" });
  g.updateInput(merge, 1, next.outputs[0]);
  return { count: exit.outputs[0], pivot: pivot.node, increment: increment.node };
}
