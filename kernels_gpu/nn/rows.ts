/**
 * Row programs: one workgroup per row of a [rows, n] view, its invocations striding over the row
 * and combining partial results through a tree in workgroup memory (log2(WG) steps, a barrier
 * each). Softmax, LogSoftmax and the cross entropies are built from these pieces.
 */
import { linearGrid } from "../wgsl.ts";

export const ROW_WG = 64;

/** Workgroups for `rows` rows (along y past the per-dimension limit). */
export function rowGrid(rows: number, max: number): [number, number] {
  return linearGrid(rows, 1, max);
}

/**
 * Declarations: the tree's workgroup array, -Inf and NaN (functions: bitcast is not const here),
 * and `max_key`, what a row's max is taken over: NaN counts as +Inf, so WGSL's max (undefined
 * for NaN) never sees one and a row holding NaN or +Inf has the max +Inf.
 */
export const ROW_DECLS = `
var<workgroup> tree: array<f32, ${ROW_WG}>;
fn neg_inf() -> f32 { return bitcast<f32>(0xff800000u); }
fn nan_() -> f32 { return bitcast<f32>(0x7fc00000u); }
fn max_key(x: f32) -> f32 { return select(x, bitcast<f32>(0x7f800000u), is_nan(x)); }
fn non_finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) >= 0x7f800000u; }
`;

/**
 * A row whose max is not finite (it holds NaN or +Inf, or is all -Inf) is NaN throughout, as in
 * TensorFlow: its shifted logits hold Inf - Inf. Decided from the max so no NaN arithmetic is
 * relied on (WGSL lets implementations assume there is none).
 */
export const ROW_BAD = "let bad = non_finite(mx) && u.n > 0u;";

/** `main`'s signature; `row` is the workgroup's row, `t` the invocation within it. */
export function rowMain(): string {
  return `@compute @workgroup_size(${ROW_WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  // Uniform across the workgroup, so the barriers below stay in uniform control flow.
  if (row >= u.rows) { return; }
  let t = lid.x;`;
}

/**
 * Statements combining every invocation's `value` (an f32 expression) with `op` ("max" or "+"),
 * leaving the result in `let ${result}` for all of them.
 */
export function treeReduce(result: string, value: string, op: "max" | "+"): string {
  const combine = op === "max" ? "max(tree[t], tree[t + s])" : "tree[t] + tree[t + s]";
  return `  tree[t] = ${value};
  workgroupBarrier();
  for (var s = ${ROW_WG / 2}u; s > 0u; s = s >> 1u) {
    if (t < s) { tree[t] = ${combine}; }
    workgroupBarrier();
  }
  let ${result} = tree[0];
  workgroupBarrier();`;
}
