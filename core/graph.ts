/**
 * Graph, Node and Output: the symbolic dataflow graph, with TensorFlow's name scopes, device
 * scopes, control-dependency scopes and colocation.
 */
import type { DType } from "./dtype.ts";
import { EdgeflowError, withContext } from "./errors.ts";
import {
  argDType,
  type Attrs,
  type AttrSpec,
  type AttrValue,
  type InferInput,
  type OpDef,
  outputCount,
  type TensorSpec,
} from "./op.ts";
import { formatDeviceSpec, mergeDeviceSpecs, parseDeviceSpec } from "./device_spec.ts";
import { checkAttrValue } from "./attr_check.ts";
import type { PartialShape } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

/** A symbolic handle to one output of a node. */
export class Output<D extends DType = DType> {
  constructor(readonly node: Node, readonly index: number) {}
  get graph(): Graph {
    return this.node.graph;
  }
  get dtype(): D {
    return this.node.outputSpecs[this.index].dtype as D;
  }
  get shape(): PartialShape {
    return this.node.outputSpecs[this.index].shape;
  }
  /** TensorFlow's tensor name: "node:index". */
  get name(): string {
    return `${this.node.name}:${this.index}`;
  }
  toString(): string {
    return `Output(${this.name}, ${this.dtype})`;
  }
}

// deno-lint-ignore no-explicit-any
export class Node<A extends Attrs = any> {
  /** The device the user asked for, possibly partial ("/device:GPU:*"); "" when none. */
  requestedDevice: string;
  /** The full name of the device the placer chose; set on plan copies, not on user graphs. */
  assignedDevice?: string;
  /** Names of the nodes this one must be colocated with (TensorFlow's `_class: loc:@name`). */
  colocation: string[];
  readonly outputs: readonly Output[];

  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly name: string,
    readonly op: OpDef<A>,
    readonly attrs: A,
    readonly inputs: readonly Output[],
    readonly controlInputs: Node[],
    readonly outputSpecs: readonly TensorSpec[],
    device: string,
  ) {
    this.requestedDevice = device;
    this.colocation = [];
    this.outputs = outputSpecs.map((_, i) => new Output(this, i));
  }

  output(i = 0): Output {
    const out = this.outputs[i];
    if (!out) throw new EdgeflowError(`has no output ${i}`, { node: this.name, op: this.op.name });
    return out;
  }
  toString(): string {
    return `Node(${this.name}: ${this.op.name})`;
  }
}

export interface AddNodeOptions {
  name?: string;
  device?: string;
  controlInputs?: readonly (Node | Output)[];
}

const defaultGraphs: Graph[] = [];

export class Graph {
  readonly nodes: Node[] = [];
  private readonly byName = new Map<string, Node>();
  private readonly usedNames = new Set<string>();
  private readonly nextSuffix = new Map<string, number>();
  private nameScope = "";
  private deviceScope = "";
  private controlScope: Node[] = [];
  private colocationScope: string[] = [];
  /** Bumped when an existing node changes (not when one is added), so cached plans go stale. */
  mutations = 0;
  /** The graph-level random seed (TensorFlow's tf.random.set_seed), or undefined. */
  seed?: number;
  /** Named lists, as TensorFlow's graph collections ("variables", "trainable_variables"). */
  readonly collections = new Map<string, unknown[]>();

  addToCollection(name: string, value: unknown): void {
    const list = this.collections.get(name) ?? [];
    list.push(value);
    this.collections.set(name, list);
  }
  getCollection<T>(name: string): T[] {
    return (this.collections.get(name) ?? []) as T[];
  }

  /** The graph builder functions use when none of their inputs is an Output. */
  static current(): Graph | undefined {
    return defaultGraphs[defaultGraphs.length - 1];
  }

  /** Makes this the current graph while `fn` runs (TensorFlow's `with g.as_default()`). */
  asDefault<T>(fn: () => T): T {
    defaultGraphs.push(this);
    try {
      return fn();
    } finally {
      defaultGraphs.pop();
    }
  }

  node(name: string): Node {
    const n = this.byName.get(name);
    if (!n) throw new EdgeflowError(`the graph has no node named '${name}'`);
    return n;
  }
  hasNode(name: string): boolean {
    return this.byName.has(name);
  }

  /** Resolves "name" or "name:i" to an Output. */
  tensor(name: string): Output {
    const m = /^(.*?)(?::(\d+))?$/.exec(name)!;
    const node = this.byName.get(m[1]);
    if (!node) throw new EdgeflowError(`the graph has no tensor named '${name}'`);
    const i = m[2] === undefined ? 0 : Number(m[2]);
    if (i >= node.outputs.length) {
      throw new EdgeflowError(
        `the graph has no tensor named '${name}' (the node has ${node.outputs.length} outputs)`,
      );
    }
    return node.outputs[i];
  }

  /** Runs `fn` with names prefixed by a unique scope ("dense", then "dense_1"). */
  withNameScope<T>(scope: string, fn: () => T): T {
    const outer = this.nameScope;
    this.nameScope = this.uniqueName(outer + scope) + "/";
    try {
      return this.asDefault(fn);
    } finally {
      this.nameScope = outer;
    }
  }

  /** Runs `fn` with new nodes requesting `device`, merged with any outer device scope. */
  withDevice<T>(device: string, fn: () => T): T {
    const outer = this.deviceScope;
    this.deviceScope = formatDeviceSpec(
      mergeDeviceSpecs(parseDeviceSpec(outer), parseDeviceSpec(device)),
    );
    try {
      return this.asDefault(fn);
    } finally {
      this.deviceScope = outer;
    }
  }

  /** Runs `fn` with new nodes depending on `deps` (TensorFlow's control_dependencies). */
  withControlDependencies<T>(deps: readonly (Node | Output)[], fn: () => T): T {
    const outer = this.controlScope;
    this.controlScope = [...outer, ...deps.map(toNode)];
    try {
      return this.asDefault(fn);
    } finally {
      this.controlScope = outer;
    }
  }

  /** Runs `fn` with new nodes colocated with `target` (same device, same colocation group). */
  colocateWith<T>(target: Node | Output, fn: () => T): T {
    const outer = this.colocationScope;
    const node = toNode(target);
    this.colocationScope = node.colocation.length > 0 ? node.colocation : [node.name];
    try {
      return this.asDefault(fn);
    } finally {
      this.colocationScope = outer;
    }
  }

  /** A name not used yet in this graph: `base`, else `base_1`, `base_2`, ... */
  uniqueName(base: string): string {
    // The next suffix to try per base keeps long runs of same-named nodes linear, as in TF.
    let i = this.nextSuffix.get(base) ?? 0;
    let name = i === 0 ? base : `${base}_${i}`;
    while (this.usedNames.has(name)) name = `${base}_${++i}`;
    this.nextSuffix.set(base, i + 1);
    this.usedNames.add(name);
    return name;
  }

  /** The current name scope without its trailing slash ("" at the top). */
  get scopeName(): string {
    return this.nameScope.slice(0, -1);
  }

  /** A name taken as given (TensorFlow's names ending in "/"): it may equal a scope's name. */
  private exactName(name: string): string {
    if (this.byName.has(name)) throw new EdgeflowError(`a node named '${name}' exists already`);
    this.usedNames.add(name);
    return name;
  }

  /**
   * Adds a node. A name ending in "/" is used exactly, without the scope. `inputs` follow the op's input specs, a list input given as an array. Type and
   * count attrs are filled in from the inputs, defaults applied, and output specs inferred; any
   * mismatch is an EdgeflowError naming the node and op.
   */
  addNode<A extends Attrs>(
    op: OpDef<A>,
    inputs: readonly (Output | readonly Output[])[],
    attrs: Partial<A> = {},
    options: AddNodeOptions = {},
  ): Node<A> {
    const name = options.name?.endsWith("/")
      ? this.exactName(options.name.slice(0, -1))
      : this.uniqueName(this.nameScope + (options.name ?? op.name));
    const context = { node: name, op: op.name };
    return withContext(context, () => {
      const flat = flattenInputs(op, inputs);
      for (const input of flat) {
        if (input.graph !== this) {
          throw new EdgeflowError(`input ${input.name} belongs to another graph`);
        }
      }
      const resolved = resolveAttrs(op, attrs, inputs);
      checkInputDTypes(op, inputs, resolved);
      const specs: InferInput[] = flat.map((o) => ({
        dtype: o.dtype,
        shape: o.shape,
        // A resource handle carries its variable's spec (ReadVariableOp's output shape).
        handle: o.node.outputSpecs[o.index].handle,
        queue: o.node.outputSpecs[o.index].queue,
        value: constantValue(o),
      }));
      const outputSpecs = op.infer(specs, resolved);
      const expected = outputCount(op, resolved);
      if (outputSpecs.length !== expected) {
        throw new EdgeflowError(
          `shape inference gave ${outputSpecs.length} outputs, expected ${expected}`,
        );
      }
      const control = [...this.controlScope, ...(options.controlInputs ?? []).map(toNode)];
      const device = options.device !== undefined
        ? formatDeviceSpec(
          mergeDeviceSpecs(parseDeviceSpec(this.deviceScope), parseDeviceSpec(options.device)),
        )
        : this.deviceScope;
      const node = new Node(
        this,
        this.nodes.length,
        name,
        op,
        resolved,
        flat,
        dedupe(control),
        outputSpecs,
        device,
      );
      node.colocation = [...this.colocationScope];
      this.nodes.push(node as unknown as Node);
      this.byName.set(name, node as unknown as Node);
      return node;
    });
  }

  /**
   * Replaces data input `index` of an existing node (TensorFlow's `_update_input`): how a loop's
   * back edge NextIteration → Merge is made, since the Merge exists before its NextIteration.
   * The new input must have the old one's dtype; cached plans go stale.
   */
  updateInput(node: Node, index: number, input: Output): void {
    withContext({ node: node.name, op: node.op.name }, () => {
      const old = node.inputs[index];
      if (old === undefined) throw new EdgeflowError(`has no input ${index}`);
      if (input.graph !== this) {
        throw new EdgeflowError(`input ${input.name} belongs to another graph`);
      }
      if (input.dtype !== old.dtype) {
        throw new EdgeflowError(
          `input ${index} has dtype ${old.dtype}; ${input.name} has dtype ${input.dtype}`,
        );
      }
      (node.inputs as Output[])[index] = input;
      this.mutations++;
    });
  }

  /**
   * Sets the output specs of a node whose inputs changed after it was made (a loop's Merge: its
   * shapes are the loop's shape invariants). Dtypes must stay; cached plans go stale.
   */
  setOutputSpecs(node: Node, specs: readonly TensorSpec[]): void {
    if (
      specs.length !== node.outputSpecs.length ||
      specs.some((s, i) => s.dtype !== node.outputSpecs[i].dtype)
    ) {
      throw new EdgeflowError("output specs may change shapes only", {
        node: node.name,
        op: node.op.name,
      });
    }
    (node as { outputSpecs: readonly TensorSpec[] }).outputSpecs = specs;
    this.mutations++;
  }

  /** Adds a control edge to an existing node (invalidates cached plans). */
  addControlInput(node: Node, dep: Node | Output): void {
    const d = toNode(dep);
    if (!node.controlInputs.includes(d)) node.controlInputs.push(d);
    this.mutations++;
  }
}

function toNode(x: Node | Output): Node {
  return x instanceof Output ? x.node : x;
}
function dedupe<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

function flattenInputs(op: OpDef, inputs: readonly (Output | readonly Output[])[]): Output[] {
  if (inputs.length !== op.inputs.length) {
    throw new EdgeflowError(
      `expects ${op.inputs.length} inputs (${
        op.inputs.map((i) => i.name).join(", ")
      }), got ${inputs.length}`,
    );
  }
  const flat: Output[] = [];
  op.inputs.forEach((spec, i) => {
    const x = inputs[i];
    if (spec.numberAttr || spec.typeListAttr) {
      if (!Array.isArray(x)) {
        throw new EdgeflowError(`input '${spec.name}' must be a list of tensors`);
      }
      flat.push(...x);
    } else {
      if (!(x instanceof Output)) {
        throw new EdgeflowError(`input '${spec.name}' must be one tensor`);
      }
      flat.push(x);
    }
  });
  return flat;
}

/** Fills defaults, type attrs from input dtypes and counts from list lengths, then validates. */
export function resolveAttrs<A extends Attrs>(
  op: OpDef<A>,
  given: Partial<A>,
  inputs: readonly (Output | Tensor | readonly (Output | Tensor)[])[],
): A {
  const specs = op.attrs as unknown as Record<string, AttrSpec<AttrValue>>;
  const attrs: Record<string, AttrValue> = {};
  for (const [k, v] of Object.entries(given)) {
    if (v === undefined) continue;
    if (!Object.hasOwn(specs, k)) throw new EdgeflowError(`has no attribute '${k}'`);
    attrs[k] = v as AttrValue;
  }
  op.inputs.forEach((spec, i) => {
    const x = inputs[i];
    const list = Array.isArray(x) ? x : [x];
    if (spec.numberAttr) attrs[spec.numberAttr] ??= list.length;
    if (spec.typeListAttr) attrs[spec.typeListAttr] ??= list.map((o) => (o as Output).dtype);
    if (spec.type in specs && list.length > 0) attrs[spec.type] ??= (list[0] as Output).dtype;
  });
  for (const [k, spec] of Object.entries(specs)) {
    if (!(k in attrs)) {
      if (spec.default === undefined) throw new EdgeflowError(`attribute '${k}' is required`);
      attrs[k] = spec.default;
    }
    checkAttrValue(k, spec, attrs[k]);
  }
  return attrs as A;
}

function checkInputDTypes(
  op: OpDef,
  inputs: readonly (Output | readonly Output[])[],
  attrs: Attrs,
) {
  op.inputs.forEach((spec, i) => {
    const x = inputs[i];
    if (spec.typeListAttr) {
      const types = attrs[spec.typeListAttr] as readonly string[];
      const list = x as readonly Output[];
      if (list.length !== types.length) {
        throw new EdgeflowError(
          `input '${spec.name}' has ${list.length} tensors, attr ${spec.typeListAttr} lists ${types.length} dtypes`,
        );
      }
      list.forEach((o, j) => {
        if (o.dtype !== types[j]) {
          throw new EdgeflowError(
            `input '${spec.name}'[${j}] (${o.name}) has dtype ${o.dtype}, expected ${
              types[j]
            } (attr ${spec.typeListAttr})`,
          );
        }
      });
      return;
    }
    const want = argDType(spec.type, attrs);
    for (const o of Array.isArray(x) ? x : [x]) {
      if ((o as Output).dtype !== want) {
        throw new EdgeflowError(
          `input '${spec.name}' (${(o as Output).name}) has dtype ${
            (o as Output).dtype
          }, expected ${want}` +
            (spec.type in attrs ? ` (attr ${spec.type})` : ""),
        );
      }
    }
  });
}

/** The value of an output when its node is a Const. */
export function constantValue(o: Output): Tensor | undefined {
  return o.node.op.name === "Const" ? (o.node.attrs.value as Tensor) : undefined;
}

/** Regroups a node's flat inputs by its op's input specs (list inputs as arrays). */
export function groupInputs(
  op: OpDef,
  attrs: Attrs,
  flat: readonly Output[],
): (Output | Output[])[] {
  const grouped: (Output | Output[])[] = [];
  let i = 0;
  for (const spec of op.inputs) {
    if (spec.numberAttr || spec.typeListAttr) {
      const n = spec.numberAttr
        ? attrs[spec.numberAttr] as number
        : (attrs[spec.typeListAttr!] as readonly string[]).length;
      grouped.push(flat.slice(i, i + n));
      i += n;
    } else grouped.push(flat[i++]);
  }
  return grouped;
}
