/**
 * Reduction programs over a [outer, R, inner] view (core's resolveReduction gives it, after a
 * transpose when the reduced axes are not adjacent):
 * - "rows" (inner = 1): a workgroup reduces up to CHUNK elements of one row (each invocation a
 *   strided run, then a tree in workgroup memory) and writes a partial. Long rows split into
 *   chunks across workgroups, and a second rows pass reduces the partials, so a 1M-element Sum
 *   runs on 256 workgroups rather than one.
 * - "cols" (inner > 1): an invocation per output element walks its column; neighbouring
 *   invocations read neighbouring addresses.
 * The last pass applies Mean's division and the output's rounding.
 */
import type { Program } from "../../devices/webgpu/program.ts";
import { type Binding, computeType, linearMain, load, program, store } from "../wgsl.ts";

export type ReduceKind = "Sum" | "Mean" | "Max" | "Min" | "Prod";

export const ROWS_WG = 64;
/** Elements one workgroup of the rows program reduces. */
export const CHUNK = ROWS_WG * 64;
export const COLS_WG = 64;

/** WGSL: the identity and the combining function of a reduction over compute type t. */
function reducer(kind: ReduceKind, t: "f32" | "i32"): { identity: string; combine: string } {
  const nanFirst = (pick: string) =>
    t === "f32" ? `select(select(${pick}, b, is_nan(b)), a, is_nan(a))` : pick;
  switch (kind) {
    case "Sum":
    case "Mean":
      return { identity: `${t}(0)`, combine: "a + b" };
    case "Prod":
      return { identity: `${t}(1)`, combine: "a * b" };
    case "Max":
      return {
        identity: t === "f32" ? "bitcast<f32>(0xff800000u)" : "i32(-2147483647 - 1)",
        combine: nanFirst("max(a, b)"),
      };
    case "Min":
      return {
        identity: t === "f32" ? "bitcast<f32>(0x7f800000u)" : "i32(2147483647)",
        combine: nanFirst("min(a, b)"),
      };
  }
}

/** The value the last pass stores: Mean divides by the reduced count (Mean is float-only here). */
function finish(kind: ReduceKind): string {
  return kind === "Mean" ? "acc / f32(u.count)" : "acc";
}

function header(kind: ReduceKind, t: "f32" | "i32"): string {
  const r = reducer(kind, t);
  return `fn combine(a: ${t}, b: ${t}) -> ${t} { return ${r.combine}; }
fn identity() -> ${t} { return ${r.identity}; }
`;
}

/**
 * Rows pass: workgroup (chunk, row) reduces row[chunk·CHUNK, ...) of a [rows, R] input into
 * out[row·chunks + chunk]. `last` applies the finish and the output's rounding.
 */
export function rowsProgram(kind: ReduceKind, x: Binding, out: Binding, last: boolean): Program {
  const t = computeType(x.dtype);
  return program({
    name: `reduce.rows.${kind}`,
    key: [last],
    inputs: [x],
    outputs: [out],
    uniforms: ["rows", "R", "chunks", "count"].map((name) => ({ name, type: "u32" })),
    body: () =>
      `${header(kind, t)}
var<workgroup> tree: array<${t}, ${ROWS_WG}>;
@compute @workgroup_size(${ROWS_WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let row = wid.y;
  let chunk = wid.x;
  if (row >= u.rows || chunk >= u.chunks) { return; }
  let t = lid.x;
  let start = chunk * ${CHUNK}u;
  let end = min(start + ${CHUNK}u, u.R);
  var acc = identity();
  for (var j = start + t; j < end; j += ${ROWS_WG}u) {
    acc = combine(acc, ${load("in0", "row * u.R + j", x)});
  }
  tree[t] = acc;
  workgroupBarrier();
  for (var s = ${ROWS_WG / 2}u; s > 0u; s = s >> 1u) {
    if (t < s) { tree[t] = combine(tree[t], tree[t + s]); }
    workgroupBarrier();
  }
  if (t == 0u) {
    let acc = tree[0];
    ${last ? store("out0", "row", finish(kind), out) : "out0[row * u.chunks + chunk] = acc;"}
  }
}
`,
  });
}

/** Cols pass: invocation (o, i) reduces in[o, 0..R, i] of an [outer, R, inner] input. */
export function colsProgram(kind: ReduceKind, x: Binding, out: Binding): Program {
  const t = computeType(x.dtype);
  return program({
    name: `reduce.cols.${kind}`,
    key: [],
    inputs: [x],
    outputs: [out],
    uniforms: ["n", "R", "inner", "count"].map((name) => ({ name, type: "u32" })),
    body: () =>
      `${header(kind, t)}
${linearMain(COLS_WG)}
  if (i >= u.n) { return; }
  let base = (i / u.inner) * u.R * u.inner + i % u.inner;
  var acc = identity();
  for (var k = 0u; k < u.R; k++) { acc = combine(acc, ${load("in0", "base + k * u.inner", x)}); }
  ${store("out0", "i", finish(kind), out)}
}
`,
  });
}

/** ArgMax (sign 1) or ArgMin (-1) along the middle dim of [outer, dim, inner]: first extreme wins, NaN counts as extreme. */
export function argProgram(max: boolean, x: Binding, out: Binding): Program {
  const t = computeType(x.dtype);
  const better = max ? "v > best" : "v < best";
  const nan = t === "f32" ? "is_nan(v) || " : "";
  const stop = t === "f32" ? "if (is_nan(best)) { break; }" : "";
  return program({
    name: max ? "ArgMax" : "ArgMin",
    key: [],
    inputs: [x],
    outputs: [out],
    uniforms: ["n", "dim", "inner"].map((name) => ({ name, type: "u32" })),
    body: () =>
      `${linearMain(COLS_WG)}
  if (i >= u.n) { return; }
  let base = (i / u.inner) * u.dim * u.inner + i % u.inner;
  var best = ${load("in0", "base", x)};
  var at = 0u;
  for (var k = 1u; k < u.dim; k++) {
    ${stop}
    let v = ${load("in0", "base + k * u.inner", x)};
    if (${nan}${better}) { best = v; at = k; }
  }
  out0[i] = i32(at);
}
`,
  });
}
