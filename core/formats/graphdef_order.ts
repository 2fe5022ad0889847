/** Adds GraphDef nodes producers-first, whatever order the file lists them in. */
import { EdgeflowError } from "../errors.ts";
import type { Node } from "../graph.ts";

interface Named {
  name: string;
  op: string;
  input?: string[];
}

/** Calls `add` for each node after its inputs; a cycle or a dangling input is an EdgeflowError. */
export function addInTopologicalOrder<T extends Named>(
  defs: readonly T[],
  byName: ReadonlyMap<string, T>,
  add: (def: T, lookup: (name: string) => Node) => Node,
): void {
  const built = new Map<string, Node>();
  const onPath = new Set<string>();
  const lookup = (name: string) => built.get(name)!;
  const producerName = (input: string) => input.replace(/^\^/, "").replace(/:\d+$/, "");
  for (const root of defs) {
    if (built.has(root.name)) continue;
    // Iterative DFS so that long chains do not overflow the stack.
    const stack: { def: T; next: number }[] = [{ def: root, next: 0 }];
    onPath.add(root.name);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const inputs = top.def.input ?? [];
      if (top.next < inputs.length) {
        const name = producerName(inputs[top.next++]);
        if (built.has(name)) continue;
        const dep = byName.get(name);
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
        built.set(top.def.name, add(top.def, lookup));
      }
    }
  }
}
