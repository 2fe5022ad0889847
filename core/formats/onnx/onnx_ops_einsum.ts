/**
 * ONNX Einsum from Transpose, Reshape, Sum, SelectV2 and BatchMatMulV2 (static shapes). Each
 * operand first takes its diagonals (a label repeated within it) and sums out the labels nobody
 * else has; two operands then contract as one BatchMatMulV2 ([batch..., M, K] · [batch..., K, N]),
 * one operand is reduced and transposed, and more than two are aligned on one label order,
 * multiplied with broadcasting and summed (bounded: that product is materialized). "..." stands for
 * the same broadcast dims in every term; without "->" the output is "..." and the labels used once,
 * in alphabetical order.
 */
import type { Output } from "../../graph.ts";
import type { OnnxMapper, OnnxNodeContext } from "./onnx_context.ts";

/** Elements of the broadcast product of more than two operands (or of a diagonal's mask). */
const MAX_PRODUCT = 1 << 24;

interface Term {
  value: Output;
  /** One label per dim; ellipsis dims are "0", "1", ... counted from the right end. */
  labels: string[];
}

/** The labels of a term for a value of rank `rank`, its ellipsis spelled out. */
function termLabels(c: OnnxNodeContext, term: string, rank: number): string[] {
  const parts = term.split("...");
  if (parts.length > 2) throw c.error(`'${term}' has more than one ellipsis`);
  const letters = parts.join("");
  if (!/^[A-Za-z]*$/.test(letters)) throw c.error(`'${term}' has a label that is not a letter`);
  const ellipsis = rank - letters.length;
  if (ellipsis < 0 || (parts.length === 1 && ellipsis !== 0)) {
    throw c.error(`'${term}' does not fit an input of rank ${rank}`);
  }
  const dots = Array.from(
    { length: parts.length === 2 ? ellipsis : 0 },
    (_, i) => `${ellipsis - 1 - i}`,
  );
  return [...parts[0], ...dots, ...(parts[1] ?? "")];
}

/** The operand with each repeated label's diagonal taken (a select of i = j, summed over j). */
function diagonals(c: OnnxNodeContext, t: Term): Term {
  let { value, labels } = t;
  for (let q = labels.length - 1; q > 0; q--) {
    const p = labels.indexOf(labels[q]);
    if (p === q) continue;
    const dims = c.dims(value), n = dims[p];
    if (dims[q] !== n) throw c.error(`label '${labels[q]}' has dims ${n} and ${dims[q]}`);
    c.limit(n * n, MAX_PRODUCT, "an Einsum diagonal's mask");
    const eye = c.out("Equal", [
      c.out("Reshape", [c.ints32(Array.from({ length: n }, (_, i) => i)), c.ints32([n, 1])]),
      c.ints32(Array.from({ length: n }, (_, i) => i)),
    ]);
    const shape = dims.map((_, k) => (k === p || k === q ? n : 1));
    const mask = c.out("Reshape", [eye, c.ints32(shape)]);
    value = c.out("Sum", [
      c.out("SelectV2", [mask, value, c.out("ZerosLike", [value])]),
      c.scalar(q, "int32"),
    ]);
    labels = labels.filter((_, k) => k !== q);
  }
  return { value, labels };
}

/** Sums `t` over the labels not in `keep`. */
function sumOut(c: OnnxNodeContext, t: Term, keep: ReadonlySet<string>): Term {
  const axes = t.labels.flatMap((l, k) => (keep.has(l) ? [] : [k]));
  if (axes.length === 0) return t;
  return {
    value: c.out("Sum", [t.value, c.ints32(axes)]),
    labels: t.labels.filter((l) => keep.has(l)),
  };
}

/** `t` with its dims in the order of `order` (which holds exactly its labels). */
function arrange(c: OnnxNodeContext, t: Term, order: readonly string[]): Output {
  const perm = order.map((l) => t.labels.indexOf(l));
  return perm.every((p, k) => p === k) ? t.value : c.out("Transpose", [t.value, c.ints32(perm)]);
}

/** Two operands as one BatchMatMulV2; the result's labels: batch, a's kept, b's kept. */
function contract(c: OnnxNodeContext, a: Term, b: Term, out: ReadonlySet<string>): Term {
  const inB = new Set(b.labels), inA = new Set(a.labels);
  const batch = a.labels.filter((l) => inB.has(l) && out.has(l));
  const summed = a.labels.filter((l) => inB.has(l) && !out.has(l));
  const left = a.labels.filter((l) => !inB.has(l));
  const right = b.labels.filter((l) => !inA.has(l));
  const da = c.dims(a.value), db = c.dims(b.value);
  const dim = (t: Term, d: number[], l: string) => d[t.labels.indexOf(l)];
  const size = (t: Term, d: number[], ls: string[]) => ls.reduce((s, l) => s * dim(t, d, l), 1);
  const batchA = batch.map((l) => dim(a, da, l)), batchB = batch.map((l) => dim(b, db, l));
  const x = c.out("Reshape", [
    arrange(c, a, [...batch, ...left, ...summed]),
    c.ints32([...batchA, size(a, da, left), size(a, da, summed)]),
  ]);
  const y = c.out("Reshape", [
    arrange(c, b, [...batch, ...summed, ...right]),
    c.ints32([...batchB, size(b, db, summed), size(b, db, right)]),
  ]);
  const product = c.out("BatchMatMulV2", [x, y]);
  const batchDims = batchA.map((n, k) => Math.max(n, batchB[k]));
  const dims = [
    ...batchDims,
    ...left.map((l) => dim(a, da, l)),
    ...right.map((l) => dim(b, db, l)),
  ];
  return {
    value: c.out("Reshape", [product, c.ints32(dims)]),
    labels: [...batch, ...left, ...right],
  };
}

/** More than two operands: aligned on one label order, multiplied with broadcasting. */
function multiplyAll(c: OnnxNodeContext, terms: Term[]): Term {
  const order = [...new Set(terms.flatMap((t) => t.labels))];
  const sizes = new Map<string, number>();
  for (const t of terms) {
    c.dims(t.value).forEach((n, k) =>
      sizes.set(t.labels[k], Math.max(sizes.get(t.labels[k]) ?? 1, n))
    );
  }
  c.limit(
    order.reduce((s, l) => s * sizes.get(l)!, 1),
    MAX_PRODUCT,
    "the Einsum product's elements",
  );
  const aligned = terms.map((t) => {
    const mine = order.filter((l) => t.labels.includes(l));
    const d = c.dims(t.value);
    const shape = order.map((l) => (t.labels.includes(l) ? d[t.labels.indexOf(l)] : 1));
    return c.out("Reshape", [arrange(c, t, mine), c.ints32(shape)]);
  });
  return { value: aligned.reduce((p, v) => c.out("Mul", [p, v])), labels: order };
}

export const EINSUM_MAPPERS: Record<string, OnnxMapper> = {
  Einsum: (c) => {
    const equation = c.string("equation", "").replace(/\s+/g, "");
    const [lhs, rhs] = equation.split("->");
    const inputs = lhs.split(",");
    if (inputs.length !== c.inputCount) {
      throw c.error(`'${equation}' has ${inputs.length} inputs, the node ${c.inputCount}`);
    }
    let terms = inputs.map((term, i) =>
      diagonals(c, {
        value: c.req(i),
        labels: termLabels(c, term, c.rank(c.req(i))),
      })
    );
    const ellipsis = Math.max(0, ...terms.map((t) => t.labels.filter((l) => /\d/.test(l)).length));
    const dots = Array.from({ length: ellipsis }, (_, i) => `${ellipsis - 1 - i}`);
    let outLabels: string[];
    if (rhs === undefined) {
      const counts = new Map<string, number>();
      for (const t of inputs.join("").replace(/\.\.\./g, "")) {
        counts.set(t, (counts.get(t) ?? 0) + 1);
      }
      outLabels = [...dots, ...[...counts].filter(([, n]) => n === 1).map(([l]) => l).sort()];
    } else {
      outLabels = rhs.includes("...")
        ? [...rhs.split("...")[0], ...dots, ...rhs.split("...")[1]]
        : [...rhs];
    }
    const out = new Set(outLabels);
    const known = new Set(terms.flatMap((t) => t.labels));
    for (const l of outLabels) {
      if (!known.has(l)) throw c.error(`output label '${l}' is in no input of '${equation}'`);
    }
    // Labels only one operand has and the output lacks are summed there first.
    terms = terms.map((t, i) => {
      const others = new Set(terms.flatMap((o, k) => (k === i ? [] : o.labels)));
      return sumOut(c, t, new Set(t.labels.filter((l) => out.has(l) || others.has(l))));
    });
    let result: Term = terms.length === 1
      ? terms[0]
      : terms.length === 2
      ? contract(c, terms[0], terms[1], out)
      : multiplyAll(c, terms);
    result = sumOut(c, result, out);
    return [arrange(c, result, outLabels)];
  },
};
