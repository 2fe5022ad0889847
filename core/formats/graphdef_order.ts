/** Adds GraphDef nodes producers-first, whatever order the file lists them in. */
import { EdgeflowError } from "../errors.ts";
import type { Node } from "../graph.ts";
import { mergedShape } from "../ops/control_flow.ts";
import { formatShape } from "../shape.ts";

interface Named {
  name: string;
  op: string;
  input?: string[];
}

/** A loop's back edge (NextIteration → Merge): the one kind of cycle a GraphDef may have. */
function isBackEdge(def: Named, producer: Named | undefined, input: string): boolean {
  return def.op === "Merge" && producer?.op === "NextIteration" && !input.startsWith("^");
}

/**
 * Calls `add` for each node after its inputs; a cycle or a dangling input is an EdgeflowError. A
 * Merge is added before the NextIteration of its back edge, reading its first input there; the
 * edge is set once the NextIteration exists (`graph.updateInput`).
 */
export function addInTopologicalOrder<T extends Named>(
  defs: readonly T[],
  byName: ReadonlyMap<string, T>,
  add: (def: T, lookup: (name: string) => Node) => Node,
): void {
  const built = new Map<string, Node>();
  const onPath = new Set<string>();
  const lookup = (name: string) => built.get(name)!;
  const producerName = (input: string) => input.replace(/^\^/, "").replace(/:\d+$/, "");
  const backEdges: { merge: string; index: number; input: string }[] = [];
  const addDef = (def: T): Node => {
    const inputs = def.input ?? [];
    const back = inputs.map((i) => isBackEdge(def, byName.get(producerName(i)), i));
    if (!back.some((b) => b)) return add(def, lookup);
    const forward = inputs.find((i, k) => !back[k] && !i.startsWith("^"));
    if (forward === undefined) {
      throw new EdgeflowError("a Merge with only back edges has no value to start its loop", {
        node: def.name,
        op: def.op,
      });
    }
    let data = 0;
    inputs.forEach((i, k) => {
      if (back[k]) backEdges.push({ merge: def.name, index: data, input: i });
      if (!i.startsWith("^")) data++;
    });
    return add({ ...def, input: inputs.map((i, k) => (back[k] ? forward : i)) }, lookup);
  };
  for (const root of defs) {
    if (built.has(root.name)) continue;
    // Iterative DFS so that long chains do not overflow the stack.
    const stack: { def: T; next: number }[] = [{ def: root, next: 0 }];
    onPath.add(root.name);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const inputs = top.def.input ?? [];
      if (top.next < inputs.length) {
        const input = inputs[top.next++];
        const name = producerName(input);
        if (built.has(name)) continue;
        const dep = byName.get(name);
        if (isBackEdge(top.def, dep, input)) continue;
        const context = { node: top.def.name, op: top.def.op };
        if (!dep) throw new EdgeflowError(`input '${name}' is not a node of the GraphDef`, context);
        if (onPath.has(name)) {
          throw new EdgeflowError(`the graph has a cycle through '${name}'`, context);
        }
        onPath.add(name);
        stack.push({ def: dep, next: 0 });
      } else {
        stack.pop();
        onPath.delete(top.def.name);
        built.set(top.def.name, addDef(top.def));
      }
    }
  }
  for (const { merge, index, input } of backEdges) {
    const node = built.get(merge)!;
    const m = /^(.*?)(?::(\d+))?$/.exec(input)!;
    const producer = built.get(m[1])!;
    const out = producer.outputs[Number(m[2] ?? 0)];
    if (out === undefined) {
      throw new EdgeflowError(`input '${input}' is not an output of ${m[1]}`, {
        node: merge,
        op: "Merge",
      });
    }
    node.graph.updateInput(node, index, out);
    const before = node.outputSpecs[0].shape;
    const shape = mergedShape(node.inputs.map((o) => o.shape));
    if (JSON.stringify(shape) !== JSON.stringify(before)) {
      // Ops after the Merge were inferred with the first input's shape.
      throw new EdgeflowError(
        `the loop variable's shape changes across iterations (${formatShape(before)} enters, ` +
          `${formatShape(out.shape)} comes back): not supported in imported loops`,
        { node: merge, op: "Merge" },
      );
    }
  }
}
