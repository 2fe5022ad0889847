/**
 * `cond` and `whileLoop`: TensorFlow 1's graph construction of conditionals and loops from
 * Switch, Merge, Enter, Exit, NextIteration and LoopCond (the EuroSys 2018 paper, section 4).
 *
 * The branch and body functions build ordinary ops; afterwards every op they made is wired into
 * its context as TensorFlow's CondContext/WhileContext do: a tensor from outside read inside a
 * cond branch goes through a Switch on the predicate, one read inside a loop through a constant
 * Enter (a loop invariant), and an op without inputs (a Const) hangs on the branch's or body's
 * pivot by a control edge, so it runs in the right branch and frame.
 */
import type { DType } from "../dtype.ts";
import { EdgeflowError, withContext } from "../errors.ts";
import { Graph, type Node, Output } from "../graph.ts";
import { identity } from "../ops/basic.ts";
import { add, less, logicalAnd } from "../ops/binary.ts";
import { type TensorLike, toOutput } from "../ops/build.ts";
import { Enter, Exit, LoopCond, Merge, NextIteration, Switch } from "../ops/control_flow.ts";
import { formatShape, isCompatible, type PartialShape } from "../shape.ts";

export interface CondOptions {
  name?: string;
}

/** Outputs of a branch or a body: one tensor or a list. */
export type Branch = TensorLike | readonly TensorLike[];

function graphOf(xs: readonly unknown[], what: string): Graph {
  for (const x of xs) if (x instanceof Output) return x.graph;
  const g = Graph.current();
  if (!g) throw new EdgeflowError(`${what}: no tensor argument and no current graph`);
  return g;
}

function flat(b: Branch): TensorLike[] {
  return Array.isArray(b) ? [...b] : [b as TensorLike];
}

/**
 * Rewires the ops made in [start, end) (except `skip`): inputs from nodes made before `outside`
 * go through `external(o)`, ops without any input get a control edge from `pivot`.
 */
function capture(
  g: Graph,
  outside: number,
  start: number,
  end: number,
  skip: ReadonlySet<Node>,
  external: (o: Output) => Output,
  pivot: Node,
  leave?: ReadonlySet<Node>,
): void {
  for (let k = start; k < end; k++) {
    const node = g.nodes[k];
    if (skip.has(node)) continue;
    node.inputs.forEach((o, i) => {
      if (o.node.id < outside || leave?.has(o.node)) g.updateInput(node, i, external(o));
    });
    if (node.controlInputs.length === 0 && node.inputs.every((o) => isInvariant(o, skip))) {
      // No input, or loop invariants only (TensorFlow's _MaybeAddControlDependency): without
      // the pivot it would run in every iteration at once, the loop's predicate unheard.
      g.addControlInput(node, pivot);
    } else {
      // A control edge from outside is kept only through the pivot (it may be in another frame).
      const outer = node.controlInputs.filter((c) => c.id < outside);
      if (outer.length > 0) {
        for (const c of outer) node.controlInputs.splice(node.controlInputs.indexOf(c), 1);
        g.addControlInput(node, pivot);
      }
    }
  }
}

/** A loop invariant this construct made: a constant Enter. */
function isInvariant(o: Output, made: ReadonlySet<Node>): boolean {
  return made.has(o.node) && o.node.op.controlFlow === "Enter";
}

/** Stateful ops a function made that nothing it made reads: they must run with the branch. */
function sideEffects(g: Graph, start: number, end: number): Node[] {
  const read = new Set<Node>();
  for (let k = start; k < end; k++) {
    for (const o of g.nodes[k].inputs) read.add(o.node);
    for (const c of g.nodes[k].controlInputs) read.add(c);
  }
  const out: Node[] = [];
  for (let k = start; k < end; k++) {
    const n = g.nodes[k];
    if (n.op.stateful && !read.has(n)) out.push(n);
  }
  return out;
}

/**
 * TensorFlow's tf.cond: `trueFn()` when the scalar bool `pred` is true, else `falseFn()`; only
 * the taken branch runs (the other one's ops are dead). Both must give the same number of
 * tensors with the same dtypes; each result's shape is what the two branches' shapes agree on.
 * A stateful op a branch makes (a variable update) runs when, and only when, its branch is taken.
 */
export function cond(
  pred: TensorLike,
  trueFn: () => Branch,
  falseFn: () => Branch,
  options: CondOptions = {},
): Output[] {
  const g = graphOf([pred], "cond");
  return g.withNameScope(options.name ?? "cond", () =>
    withContext({ op: "cond" }, () => {
      const p = toOutput(g, pred, "bool", "pred");
      if (p.dtype !== "bool") throw new EdgeflowError(`pred must be bool, got ${p.dtype}`);
      const sw = g.addNode(Switch, [p, p], {}, { name: "switch_pred" });
      const pivots = [
        identity(sw.outputs[0], { name: "switch_f" }),
        identity(sw.outputs[1], { name: "switch_t" }),
      ];
      const branch = (fn: () => Branch, taken: 0 | 1): Output[] => {
        const start = g.nodes.length;
        const pivot = pivots[taken].node;
        const made = g.asDefault(() => flat(fn()));
        const end = g.nodes.length;
        const switched = new Map<Output, Output>();
        const skip = new Set<Node>();
        const external = (o: Output) => {
          let s = switched.get(o);
          if (!s) {
            const n = g.addNode(Switch, [o, p], {}, { name: "switch" });
            skip.add(n);
            s = n.outputs[taken];
            switched.set(o, s);
          }
          return s;
        };
        capture(g, start, start, end, skip, external, pivot);
        const effects = sideEffects(g, start, end);
        return made.map((x) => {
          let o: Output;
          if (x instanceof Output && x.node.id < start) o = external(x);
          else if (x instanceof Output) o = x;
          else {
            const c = g.asDefault(() =>
              g.withControlDependencies([pivot], () => toOutput(g, x as TensorLike))
            );
            o = c;
          }
          // Every branch result passes an Identity in the branch, after the branch's effects.
          return g.withControlDependencies(effects, () => identity(o));
        });
      };
      const t = branch(trueFn, 1);
      const f = branch(falseFn, 0);
      if (t.length !== f.length) {
        throw new EdgeflowError(
          `the branches give ${t.length} and ${f.length} tensors; they must give as many`,
        );
      }
      return t.map((x, i) => {
        if (x.dtype !== f[i].dtype) {
          throw new EdgeflowError(
            `result ${i} is ${x.dtype} in the true branch and ${f[i].dtype} in the false branch`,
          );
        }
        return g.addNode(Merge, [[f[i], x]], {}, { name: "merge" }).outputs[0];
      });
    }));
}

export interface WhileOptions {
  /** Iterations that run at most (TensorFlow's maximum_iterations). */
  maximumIterations?: TensorLike;
  /** Per loop variable, the shape it may take in any iteration (default: its initial shape). */
  shapeInvariants?: readonly PartialShape[];
  /** Iterations that may run at once (default 10). */
  parallelIterations?: number;
  name?: string;
  /**
   * How a tensor from outside the loop read inside it is brought in, where not as a loop
   * invariant: returns its replacement, or undefined for the constant Enter `enter` makes. A
   * while loop's gradient (core/grads/while_loop.ts) pops the forward loop's values this way.
   */
  capture?: (o: Output, enter: (outer: Output) => Output) => Output | undefined;
  /**
   * Nodes the body function makes that belong to another frame and stay as they are: the
   * forward counter and stacks a nested loop's gradient adds to its forward loop. What they
   * give the body comes in through `capture`, as values from outside do.
   */
  leave?: ReadonlySet<Node>;
}

/**
 * TensorFlow's tf.while_loop: while `cond(...vars)` holds, `vars = body(...vars)`; returns the
 * final values. `body` must give as many tensors as there are loop variables, of the same dtypes
 * and of shapes within the shape invariants. Up to `parallelIterations` iterations run at once.
 */
export function whileLoop(
  cond: (...vars: Output[]) => TensorLike,
  body: (...vars: Output[]) => Branch,
  loopVars: readonly TensorLike[],
  options: WhileOptions = {},
): Output[] {
  const g = graphOf([...loopVars, options.maximumIterations], "whileLoop");
  const parallel = options.parallelIterations ?? 10;
  if (!Number.isInteger(parallel) || parallel < 1) {
    throw new EdgeflowError(
      `whileLoop: parallelIterations must be a positive integer, got ${parallel}`,
    );
  }
  return g.withNameScope(options.name ?? "while", () =>
    withContext({ op: "whileLoop" }, () => {
      const frame = g.scopeName;
      const userVars = loopVars.map((v) => toOutput(g, v));
      const invariants = options.shapeInvariants;
      if (invariants && invariants.length !== userVars.length) {
        throw new EdgeflowError(
          `shapeInvariants has ${invariants.length} shapes for ${userVars.length} loop variables`,
        );
      }
      const max = options.maximumIterations === undefined
        ? undefined
        : toOutput(g, options.maximumIterations, "int32", "maximumIterations");
      if (max && (max.dtype !== "int32" || (max.shape !== null && max.shape.length !== 0))) {
        throw new EdgeflowError(
          `maximumIterations must be an int32 scalar, got ${max.dtype} ${formatShape(max.shape)}`,
        );
      }
      // maximum_iterations is a hidden counter variable, as TensorFlow builds it.
      const vars = max ? [toOutput(g, 0, "int32"), ...userVars] : userVars;
      // Everything made from here on is in the loop's frame.
      const start = g.nodes.length;
      const shapes: PartialShape[] = vars.map((v, i) => {
        const k = max ? i - 1 : i;
        const s = k >= 0 && invariants ? invariants[k] : v.shape;
        if (!isCompatible(s, v.shape)) {
          throw new EdgeflowError(
            `loop variable ${k} has shape ${formatShape(v.shape)}, not within its shape ` +
              `invariant ${formatShape(s)}`,
          );
        }
        return s;
      });
      const enters = vars.map((v) =>
        g.addNode(Enter, [v], { frame_name: frame, parallel_iterations: parallel }, {
          name: "enter",
        })
      );
      const merges = enters.map((e, i) => {
        const m = g.addNode(Merge, [[e.outputs[0], e.outputs[0]]], {}, { name: "merge" });
        g.setOutputSpecs(m, [{ dtype: vars[i].dtype, shape: shapes[i] }, m.outputSpecs[1]]);
        return m;
      });
      const mergedVars = merges.map((m) => m.outputs[0]);
      const userStart = g.nodes.length;
      const userCond = (): Output => {
        const c = toOutput(g, g.asDefault(() => cond(...(max ? mergedVars.slice(1) : mergedVars))));
        return max ? logicalAnd(less(mergedVars[0], max), c) : c;
      };
      const c = userCond();
      const condEnd = g.nodes.length;
      if (c.dtype !== "bool" || (c.shape !== null && c.shape.length !== 0)) {
        throw new EdgeflowError(
          `cond must give a bool scalar, got ${c.dtype} ${formatShape(c.shape)}`,
        );
      }
      const skip = new Set<Node>();
      const entered = new Map<Output, Output>();
      const enterConstant = (o: Output) => {
        let e = entered.get(o);
        if (!e) {
          const n = g.addNode(Enter, [o], {
            frame_name: frame,
            is_constant: true,
            parallel_iterations: parallel,
          }, { name: "enter_invariant" });
          skip.add(n);
          e = n.outputs[0];
          entered.set(o, e);
        }
        return e;
      };
      const external = (o: Output) => options.capture?.(o, enterConstant) ?? enterConstant(o);
      // The cond's ops read loop variables through the Merges.
      capture(g, start, userStart, condEnd, skip, external, merges[0]);
      const loopCond = g.addNode(LoopCond, [c.node.id < start ? external(c) : c], {}, {
        name: "loop_cond",
      });
      const switches = merges.map((m) =>
        g.addNode(Switch, [m.outputs[0], loopCond.outputs[0]], {}, { name: "switch" })
      );
      const exits = switches.map((s) => g.addNode(Exit, [s.outputs[0]], {}, { name: "exit" }));
      const bodyVars = switches.map((s) => identity(s.outputs[1], { name: "body" }));
      const bodyStart = g.nodes.length;
      const given = flat(g.asDefault(() => body(...(max ? bodyVars.slice(1) : bodyVars))));
      const bodyEnd = g.nodes.length;
      const leave = options.leave;
      if (leave) {
        for (let k = bodyStart; k < bodyEnd; k++) if (leave.has(g.nodes[k])) skip.add(g.nodes[k]);
      }
      capture(g, start, bodyStart, bodyEnd, skip, external, bodyVars[0].node, leave);
      const effects = sideEffects(g, bodyStart, bodyEnd).filter((n) => !leave?.has(n));
      if (given.length !== userVars.length) {
        throw new EdgeflowError(
          `body gives ${given.length} tensors for ${userVars.length} loop variables`,
        );
      }
      const results = given.map((x, i) => {
        const want: DType = userVars[i].dtype;
        let o = x instanceof Output
          ? (x.node.id < start ? external(x) : x)
          : g.withControlDependencies([bodyVars[0].node], () => toOutput(g, x, want));
        if (o.dtype !== want) {
          throw new EdgeflowError(
            `body gives loop variable ${i} dtype ${o.dtype}; it entered as ${want}`,
          );
        }
        const s = shapes[max ? i + 1 : i];
        if (!isCompatible(o.shape, s) || (s !== null && o.shape === null)) {
          throw new EdgeflowError(
            `loop variable ${i} has shape ${formatShape(o.shape)} after an iteration, not ` +
              `within its shape invariant ${formatShape(s)}: give shapeInvariants`,
          );
        }
        if (s !== null && o.shape !== null && o.shape.some((d, j) => s[j] !== -1 && d !== s[j])) {
          throw new EdgeflowError(
            `loop variable ${i} has shape ${formatShape(o.shape)} after an iteration, not ` +
              `within its shape invariant ${formatShape(s)}: give shapeInvariants`,
          );
        }
        if (effects.length > 0) o = g.withControlDependencies(effects, () => identity(o));
        return o;
      });
      const nextValues = max
        ? [
          add(
            bodyVars[0],
            g.withControlDependencies([bodyVars[0].node], () => toOutput(g, 1, "int32")),
          ),
          ...results,
        ]
        : results;
      nextValues.forEach((v, i) => {
        // A body result that is an invariant waits for the body's pivot, as any op on invariants.
        const next = g.addNode(NextIteration, [v], {}, {
          name: "next_iteration",
          controlInputs: isInvariant(v, skip) ? [bodyVars[0].node] : [],
        });
        g.updateInput(merges[i], 1, next.outputs[0]);
      });
      const outs = exits.map((e) => e.outputs[0]);
      return max ? outs.slice(1) : outs;
    }));
}
