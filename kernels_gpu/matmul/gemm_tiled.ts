/**
 * The workgroup-memory GEMM (gemm.ts's "tiled" strategy, for GPUs). A workgroup of 8×8
 * invocations computes a 32×32 tile of C; each invocation keeps 4 rows of vec4 accumulators.
 * K is walked in steps of 16: each step stages a 32×16 slice of A and a 16×32 slice of B in
 * workgroup memory (loaded so neighbouring invocations read neighbouring addresses), then every
 * invocation reads a vec4 of B and 4 values of A per k from there. Two barriers per step.
 */
import type { Program } from "../../devices/webgpu/program.ts";
import { type Binding, program, store } from "../wgsl.ts";
import { GEMM_UNIFORMS, type GemmSpec } from "./gemm.ts";

const WX = 8, WY = 8, RM = 4, TK = 16;
const TM = WY * RM, TN = WX * 4;

export function tiledGrid(m: number, n: number, batch: number): [number, number, number] {
  return [Math.ceil(n / TN), Math.ceil(m / TM), batch];
}

export function tiledGemm(spec: GemmSpec): Program {
  return program({
    name: `${spec.name}.tiled`,
    key: [...spec.key, spec.type],
    inputs: spec.inputs,
    outputs: [spec.out],
    uniforms: [...GEMM_UNIFORMS, ...spec.uniforms],
    body: () => spec.loaders + tiledMain(spec.out, spec.type),
  });
}

function tiledMain(out: Binding, type: "f32" | "i32"): string {
  const rows = Array.from({ length: RM }, (_, r) => r);
  const storeRow = (r: number) => {
    const lanes = ["x", "y", "z", "w"].map((c, j) =>
      `    if (col + ${j}u < u.N) { ${store("out0", `base + col + ${j}u`, `acc[${r}].${c}`, out)} }`
    );
    return `  if (row0 + ${r}u < u.M) {
    let base = (batch * u.M + row0 + ${r}u) * u.N;
${lanes.join("\n")}
  }`;
  };
  return `
const TM = ${TM}u;
const TN = ${TN}u;
const TK = ${TK}u;
var<workgroup> As: array<${type}, ${TM * TK}>;
var<workgroup> Bs: array<vec4<${type}>, ${(TN / 4) * TK}>;

@compute @workgroup_size(${WX}, ${WY}, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let batch = wid.z;
  let tid = lid.y * ${WX}u + lid.x;
  let tileRow = wid.y * TM;
  let tileCol = wid.x * TN;
  let aBase = baseA(batch);
  let bBase = baseB(batch);
  var acc: array<vec4<${type}>, ${RM}>;
  for (var k0 = 0u; k0 < u.K; k0 += TK) {
    for (var e = tid; e < TM * TK; e += ${WX * WY}u) {
      let m = e / TK;
      let k = e % TK;
      As[k * TM + m] = loadA(aBase, tileRow + m, k0 + k);
    }
    for (var e = tid; e < TK * (TN / 4u); e += ${WX * WY}u) {
      let k = k0 + e / (TN / 4u);
      let n = tileCol + (e % (TN / 4u)) * 4u;
      Bs[e] = vec4<${type}>(loadB(bBase, k, n), loadB(bBase, k, n + 1u),
        loadB(bBase, k, n + 2u), loadB(bBase, k, n + 3u));
    }
    workgroupBarrier();
    for (var k = 0u; k < TK; k++) {
      let b = Bs[k * (TN / 4u) + lid.x];
      let a = k * TM + lid.y * ${RM}u;
${rows.map((r) => `      acc[${r}] += As[a + ${r}u] * b;`).join("\n")}
    }
    workgroupBarrier();
  }
  let row0 = tileRow + lid.y * ${RM}u;
  let col = tileCol + lid.x * 4u;
${rows.map(storeRow).join("\n")}
}
`;
}
