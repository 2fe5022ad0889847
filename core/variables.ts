/**
 * Variable: TensorFlow's ResourceVariable on a graph. A VarHandleOp names it, an AssignVariableOp
 * initialises it, and each `read()` adds a ReadVariableOp. All of them are colocated with the handle.
 */
import type { DType } from "./dtype.ts";
import type { Graph, Node, Output } from "./graph.ts";
import { apply, type BuildOptions, type TensorLike, toOutput } from "./ops/build.ts";
import { group } from "./ops/basic.ts";
import {
  AssignAddVariableOp,
  AssignSubVariableOp,
  AssignVariableOp,
  ReadVariableOp,
  VarHandleOp,
} from "./ops/state.ts";
import type { PartialShape } from "./shape.ts";
import { Graph as GraphClass } from "./graph.ts";
import { EdgeflowError } from "./errors.ts";

export const VARIABLES = "variables";
export const TRAINABLE_VARIABLES = "trainable_variables";

export interface VariableOptions extends BuildOptions {
  dtype?: DType;
  trainable?: boolean;
}

export class Variable {
  readonly handle: Output;
  readonly initializer: Node;
  readonly dtype: DType;
  readonly shape: PartialShape;
  /** The value right after initialisation (TensorFlow's `initialized_value` source). */
  readonly initialValue: Output;

  constructor(initialValue: TensorLike, options: VariableOptions = {}) {
    const graph = options.graph ?? (initialValue as Output).graph ?? GraphClass.current();
    if (!graph) {
      throw new EdgeflowError("Variable needs a graph: pass `graph` or an Output initial value");
    }
    const name = options.name ?? "Variable";
    const built = graph.withNameScope(name, () => {
      const init = toOutput(graph, initialValue, options.dtype);
      const scope = graph.scopeName;
      // The handle takes the scope's own name ("dense/kernel"), as TensorFlow names variables.
      const handle = apply(VarHandleOp, [], {
        graph,
        name: `${scope}/`,
        device: options.device,
        dtype: init.dtype,
        shape: init.shape,
        shared_name: scope,
      }).outputs[0];
      const initializer = graph.colocateWith(
        handle,
        () => apply(AssignVariableOp, [handle, init], { name: "Assign" }),
      );
      return { handle, init, initializer };
    });
    this.handle = built.handle;
    this.initialValue = built.init;
    this.initializer = built.initializer;
    this.dtype = built.init.dtype;
    this.shape = built.init.shape;
    graph.addToCollection(VARIABLES, this);
    if (options.trainable !== false) graph.addToCollection(TRAINABLE_VARIABLES, this);
  }

  get graph(): Graph {
    return this.handle.graph;
  }
  get name(): string {
    return this.handle.node.attrs.shared_name as string;
  }

  /** A new ReadVariableOp of the current value. */
  read(options: BuildOptions = {}): Output {
    return this.colocated(() =>
      apply(ReadVariableOp, [this.handle], { ...options, dtype: this.dtype }).outputs[0]
    );
  }
  assign(value: TensorLike, options: BuildOptions = {}): Node {
    return this.colocated(() =>
      apply(AssignVariableOp, [this.handle, value], { ...options, dtype: this.dtype })
    );
  }
  assignAdd(value: TensorLike, options: BuildOptions = {}): Node {
    return this.colocated(() =>
      apply(AssignAddVariableOp, [this.handle, value], { ...options, dtype: this.dtype })
    );
  }
  assignSub(value: TensorLike, options: BuildOptions = {}): Node {
    return this.colocated(() =>
      apply(AssignSubVariableOp, [this.handle, value], { ...options, dtype: this.dtype })
    );
  }

  private colocated<T>(fn: () => T): T {
    return this.graph.colocateWith(this.handle, fn);
  }
}

/** A NoOp running every variable initializer of the graph (tf.compat.v1.global_variables_initializer). */
export function globalVariablesInitializer(graph: Graph): Node {
  const vars = graph.getCollection<Variable>(VARIABLES);
  return group(vars.map((v) => v.initializer), { graph, name: "init" });
}
