/**
 * Colocation groups by union-find: a node joins the nodes it names in `colocation` (TensorFlow's
 * `_class: loc:@name`) and the producer of every resource handle it takes (a variable with the
 * ops that read and assign it), so a group is placed on one device.
 */
import type { Node } from "../graph.ts";

export class UnionFind<T> {
  private readonly parent = new Map<T, T>();

  find(x: T): T {
    let root = x;
    while (this.parent.has(root) && this.parent.get(root) !== root) root = this.parent.get(root)!;
    // Path compression keeps later finds short.
    let y = x;
    while (y !== root) {
      const next = this.parent.get(y)!;
      this.parent.set(y, root);
      y = next;
    }
    return root;
  }

  /** Joins the two sets; the root is the one of `a` (the earlier node, so leaders are stable). */
  union(a: T, b: T): void {
    const ra = this.find(a), rb = this.find(b);
    if (ra !== rb) this.parent.set(rb, ra);
  }
}

/** Per node (in the order given), its group's members in that order; singletons included. */
export function colocationGroups(nodes: readonly Node[]): Map<Node, readonly Node[]> {
  const uf = new UnionFind<Node>();
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const order = new Map(nodes.map((n, i) => [n, i]));
  const first = (a: Node, b: Node) => (order.get(a)! <= order.get(b)! ? [a, b] : [b, a]);
  for (const n of nodes) {
    for (const name of n.colocation) {
      const other = byName.get(name);
      if (other) uf.union(...(first(other, n) as [Node, Node]));
    }
    for (const o of n.inputs) {
      if (o.dtype === "resource" && order.has(o.node)) {
        uf.union(...(first(o.node, n) as [Node, Node]));
      }
    }
  }
  const members = new Map<Node, Node[]>();
  for (const n of nodes) {
    const root = uf.find(n);
    const list = members.get(root) ?? [];
    list.push(n);
    members.set(root, list);
  }
  const groups = new Map<Node, readonly Node[]>();
  for (const list of members.values()) for (const n of list) groups.set(n, list);
  return groups;
}
