/**
 * Building programs: the WGSL header every program shares (bindings in the device's fixed layout,
 * the uniform struct), loads and stores that convert between storage and compute types, the
 * rounding of results to 16-bit floats and 8-bit ints, and linear grids.
 *
 * Compute types: floats compute in f32 (float16 and bfloat16 round once, on store, as the
 * reference rounds its float64 result once); int32, int8, uint8, int64 and bool compute in i32.
 */
import type { DType } from "../core/dtype.ts";
import type { Program, UniformField } from "../devices/webgpu/program.ts";
import type { StorageType } from "../devices/webgpu/storage.ts";

/** A binding's storage type and, for outputs, the dtype whose rounding stores apply. */
export interface Binding {
  readonly type: StorageType;
  readonly dtype: DType;
  /** Bound as array<vec4<T>> (four elements per access). */
  readonly vec4?: boolean;
}

export interface ProgramSpec {
  readonly name: string;
  /** The key's parts after the name: storage types, dtypes, rank, layout choices (program.ts). */
  readonly key: readonly (string | number | boolean)[];
  readonly inputs: readonly Binding[];
  readonly outputs: readonly Binding[];
  readonly uniforms: readonly UniformField[];
  /** Helper functions and `main`, using in0.., out0.. and u. */
  readonly body: () => string;
}

/** A Program from its parts; the key is the name, the bindings' types and `spec.key`. */
export function program(spec: ProgramSpec): Program {
  const io = [...spec.inputs, ...spec.outputs].map((b) => `${b.type}${b.vec4 ? "x4" : ""}`);
  const outs = spec.outputs.map((b) => b.dtype);
  return {
    name: spec.name,
    key: [spec.name, io.join(","), outs.join(","), ...spec.key].join("|"),
    inputs: spec.inputs.length,
    outputs: spec.outputs.length,
    uniforms: spec.uniforms,
    source: () => header(spec) + spec.body(),
  };
}

function header(spec: ProgramSpec): string {
  const all = [...spec.inputs, ...spec.outputs];
  const lines: string[] = [];
  if (all.some((b) => b.type === "f16")) lines.push("enable f16;");
  all.forEach((b, i) => {
    const access = i < spec.inputs.length ? "read" : "read_write";
    const name = i < spec.inputs.length ? `in${i}` : `out${i - spec.inputs.length}`;
    const elem = b.vec4 ? `vec4<${b.type}>` : b.type;
    lines.push(`@group(0) @binding(${i}) var<storage, ${access}> ${name}: array<${elem}>;`);
  });
  const fields = spec.uniforms.length > 0
    ? spec.uniforms.map((f) => `  ${f.name}: ${f.type},`).join("\n")
    : "  unused: u32,";
  lines.push(`struct Uniforms {\n${fields}\n};`);
  lines.push(`@group(0) @binding(${all.length}) var<uniform> u: Uniforms;`);
  lines.push(ROUNDING);
  return lines.join("\n") + "\n";
}

/** The WGSL compute type of a dtype. */
export function computeType(dtype: DType): "f32" | "i32" {
  return dtype === "float32" || dtype === "float16" || dtype === "bfloat16" ? "f32" : "i32";
}

/** A load of element `index` of a binding, as its compute type (or vec4 of it). */
export function load(name: string, index: string, b: Binding): string {
  if (b.type !== "f16") return `${name}[${index}]`;
  return b.vec4 ? `vec4<f32>(${name}[${index}])` : `f32(${name}[${index}])`;
}

/** A statement storing `value` (the compute type) at `index`, rounded to the binding's dtype. */
export function store(name: string, index: string, value: string, b: Binding): string {
  if (b.type === "f16") return `${name}[${index}] = ${b.vec4 ? "vec4<f16>" : "f16"}(${value});`;
  return `${name}[${index}] = ${rounded(value, b.dtype)};`;
}

/** `value` rounded to what `dtype` can hold (identity for float32 and int32). */
export function rounded(value: string, dtype: DType): string {
  switch (dtype) {
    case "bfloat16":
      return `round_bf16(${value})`;
    case "float16":
      return `round_f16(${value})`;
    case "int8":
      return `wrap_i8(${value})`;
    case "uint8":
      return `wrap_u8(${value})`;
    case "bool":
      return `to_bool(${value})`;
    default:
      return value;
  }
}

/**
 * Round-to-nearest-even on the bits, as core/dtype.ts converts (quantizeToF16 leaves overflow
 * undefined). Unused functions cost nothing: the compiler drops them.
 */
const ROUNDING = `
const F32_INF = 0x7f800000u;
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > F32_INF; }
fn round_bf16(x: f32) -> f32 {
  let b = bitcast<u32>(x);
  if (is_nan(x)) { return x; }
  return bitcast<f32>((b + 0x7fffu + ((b >> 16u) & 1u)) & 0xffff0000u);
}
fn round_f16(x: f32) -> f32 {
  let a = abs(x);
  if (is_nan(x)) { return x; }
  if (a < 6.103515625e-5) { return round(x * 16777216.0) / 16777216.0; }
  let b = bitcast<u32>(x);
  let r = bitcast<f32>((b + 0xfffu + ((b >> 13u) & 1u)) & 0xffffe000u);
  if (abs(r) > 65504.0) { return bitcast<f32>(F32_INF | (b & 0x80000000u)); }
  return r;
}
fn wrap_i8(x: i32) -> i32 { return (x << 24u) >> 24u; }
fn wrap_u8(x: i32) -> i32 { return x & 255; }
fn to_bool(x: i32) -> i32 { return select(0, 1, x != 0); }
`;

/**
 * `max_nan(a, b)` for a compute type (or vec4 of it): max that propagates NaN, as TensorFlow's
 * MaxPool and the reference's Math.max. WGSL's max leaves NaN undefined and `x != x` may be
 * folded to false, so NaN is tested on the bits, per component.
 */
export function maxNanHelper(type: "f32" | "i32", vec4: boolean): string {
  const v = vec4 ? `vec4<${type}>` : type;
  if (type === "i32") return `fn max_nan(a: ${v}, b: ${v}) -> ${v} { return max(a, b); }`;
  const u = vec4 ? "vec4<u32>" : "u32";
  return `fn nan_of(x: ${v}) -> ${vec4 ? "vec4<bool>" : "bool"} {
  return (bitcast<${u}>(x) & ${u}(0x7fffffffu)) > ${u}(F32_INF);
}
fn max_nan(a: ${v}, b: ${v}) -> ${v} { return select(max(a, b), a + b, nan_of(a) | nan_of(b)); }`;
}

/** Workgroups for `n` invocations of `size` each: x up to `max`, the rest along y. */
export function linearGrid(n: number, size: number, max: number): [number, number] {
  const groups = Math.ceil(n / size);
  if (groups <= max) return [groups, 1];
  const y = Math.ceil(groups / max);
  return [Math.ceil(groups / y), y];
}

/** `main`'s signature and the flat invocation index `i` of a linear grid. */
export function linearMain(size: number): string {
  return `@compute @workgroup_size(${size})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * ${size}u;`;
}

/** u32 uniform fields named `${prefix}0..rank-1`. */
export function dimFields(prefix: string, rank: number, type: "u32" | "i32" = "u32") {
  return Array.from({ length: rank }, (_, d) => ({ name: `${prefix}${d}`, type }));
}
