/**
 * Before importing a model: every op it uses that Edgeflow lacks, listed at once with the nodes
 * that use it and the nearest op Edgeflow has, so a user sees the whole gap in one error instead
 * of fixing one node per attempt.
 */
import { EdgeflowError } from "../errors.ts";
import { ALL_OPS, hasOp } from "../ops/registry.ts";

/**
 * Ops other converters emit that an Edgeflow pattern computes: TensorFlow's grappler fuses
 * Conv2D/MatMul with BiasAdd and an activation, tfjs-converter renames some ops, older graphs use
 * the ops' first versions. Only parts Edgeflow has are suggested (checked when the error is made).
 */
const KNOWN_EQUIVALENTS: Record<string, string[]> = {
  FusedBatchNorm: ["FusedBatchNormV3"],
  FusedBatchNormV2: ["FusedBatchNormV3"],
  Add: ["AddV2"],
  BatchMatMul: ["BatchMatMulV2"],
  BatchMatMulV3: ["BatchMatMulV2"],
  Concat: ["ConcatV2"],
  Div: ["RealDiv"],
  DivNoNan: ["RealDiv", "SelectV2"],
  Gather: ["GatherV2"],
  Select: ["SelectV2"],
  ResourceGather: ["GatherV2"],
  StopGradient: ["Identity"],
  Snapshot: ["Identity"],
  Relu1: ["Relu6"],
};

export interface OpUse {
  name: string;
  op: string;
}

/** Throws one EdgeflowError naming every unsupported op of `nodes`; `file` says which model. */
export function checkOpsSupported(nodes: readonly OpUse[], file: string): void {
  const missing = new Map<string, string[]>();
  for (const n of nodes) {
    if (typeof n?.op !== "string" || hasOp(n.op)) continue;
    const users = missing.get(n.op) ?? [];
    users.push(n.name);
    missing.set(n.op, users);
  }
  if (missing.size === 0) return;
  const lines = [...missing].map(([op, users]) => {
    const shown = users.slice(0, 5).map((u) => `'${u}'`).join(", ");
    const more = users.length > 5 ? ` and ${users.length - 5} more` : "";
    const near = nearestOp(op);
    return `  ${op} (${users.length === 1 ? "node" : "nodes"} ${shown}${more})${
      near ? `; nearest: ${near}` : ""
    }`;
  });
  throw new EdgeflowError(
    `${file} uses ${missing.size} op${missing.size === 1 ? "" : "s"} Edgeflow does not have:\n${
      lines.join("\n")
    }`,
  );
}

/** A known equivalent pattern, else the registered op closest by edit distance, if close. */
export function nearestOp(op: string): string | undefined {
  const parts = KNOWN_EQUIVALENTS[op]?.filter(hasOp);
  if (parts && parts.length > 0) return parts.join(" + ");
  const target = op.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(op.length / 3)) + 1;
  for (const def of ALL_OPS) {
    const d = editDistance(target, def.name.toLowerCase(), bestDistance);
    if (d < bestDistance) [best, bestDistance] = [def.name, d];
  }
  return best;
}

/** Levenshtein distance, giving up (returning `limit`) once every path costs that much. */
export function editDistance(a: string, b: string, limit = Infinity): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost);
      rowMin = Math.min(rowMin, row[j]);
    }
    if (rowMin >= limit) return limit;
    prev = row;
  }
  return prev[b.length];
}
