/**
 * Gradient clipping by global norm (tf.clip_by_global_norm): every tensor is scaled by
 * clipNorm / max(globalNorm, clipNorm), so the list's joint L2 norm is at most clipNorm and the
 * directions are kept. A NaN or Inf norm makes every output NaN, as in TensorFlow.
 */
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { constant } from "../ops/basic.ts";
import { div, minimum, mul } from "../ops/binary.ts";
import { cast } from "../ops/cast.ts";
import { addN } from "../ops/grad_math.ts";
import { reshape } from "../ops/shape_ops.ts";
import { sum } from "../ops/reduce.ts";
import { sqrt, square } from "../ops/unary.ts";

/** sqrt(Σ_t Σ t²) over the non-null tensors (float32). */
export function globalNorm(
  tensors: readonly (Output | null)[],
  options: { name?: string } = {},
): Output {
  const live = tensors.filter((t): t is Output => t !== null);
  if (live.length === 0) throw new EdgeflowError("globalNorm needs at least one tensor");
  const g = live[0].graph;
  return g.withNameScope(options.name ?? "global_norm", () => {
    const parts = live.map((t) => {
      const f = t.dtype === "float32" ? t : cast(t, "float32");
      return sum(square(reshape(f, [-1])), [0]);
    });
    return sqrt(parts.length === 1 ? parts[0] : addN(parts), { name: "global_norm" });
  });
}

/** [the clipped tensors (null stays null), the global norm before clipping]. */
export function clipByGlobalNorm(
  tensors: readonly (Output | null)[],
  clipNorm: number | Output,
  options: { useNorm?: Output; name?: string } = {},
): [(Output | null)[], Output] {
  if (typeof clipNorm === "number" && !(clipNorm > 0)) {
    throw new EdgeflowError(`clipNorm must be positive, got ${clipNorm}`);
  }
  const norm = options.useNorm ?? globalNorm(tensors);
  const g = norm.graph;
  const clipped = g.withNameScope(options.name ?? "clip_by_global_norm", () => {
    const c = typeof clipNorm === "number"
      ? constant(clipNorm, { graph: g, dtype: "float32" })
      : clipNorm;
    const one = constant(1, { graph: g, dtype: "float32" });
    // scale = clip_norm * min(1 / norm, 1 / clip_norm), TensorFlow's expression.
    const scale = mul(c, minimum(div(one, norm), div(one, c)));
    return tensors.map((t) => {
      if (t === null) return null;
      const s = t.dtype === "float32" ? scale : cast(scale, t.dtype);
      return mul(t, s);
    });
  });
  return [clipped, norm];
}
