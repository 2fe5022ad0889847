/**
 * The register-panel GEMM (gemm.ts's "panel" strategy, for CPU adapters). A workgroup of 8 to 64
 * invocations (enough to cover N, a multiple of lavapipe's 8 SIMD lanes) shares RM = 32 rows of
 * C; invocation i computes 4Q columns of them (Q vec4s per row). Per k it loads RM values of A
 * at addresses every lane shares and Q vec4s of B at its own columns, then does RM·Q vec4
 * multiply-adds. Lavapipe (Mesa 22.3) loads each lane's value separately even at a shared
 * address, so the panel is as large as pays: Q = 4 (512 multiply-adds per 48 loads; spilled
 * accumulators cost less than loads), fewer for narrow products where lanes past N would idle
 * (conv/conv_panel.ts measured the same trade-off). No workgroup memory: on a CPU it is ordinary
 * memory, and lavapipe runs a lane-divergent workgroup load as a scalar loop just like a global
 * one.
 */
import type { Program } from "../../devices/webgpu/program.ts";
import { type Binding, load, program, store } from "../wgsl.ts";
import { GEMM_UNIFORMS, type GemmSpec } from "./gemm.ts";

const RM = 32;

/** Vec4 column groups per invocation for n columns (n < 0: unknown). */
function panelQ(n: number): number {
  return n < 0 || n >= 64 ? 4 : n <= 32 ? 1 : 2;
}

/** Invocations per workgroup for n columns (n < 0: unknown). */
export function panelLanes(n: number): number {
  if (n < 0) return 64;
  let lanes = 8;
  while (lanes < 64 && lanes * 4 * panelQ(n) < n) lanes *= 2;
  return lanes;
}

export function panelGrid(m: number, n: number, batch: number): [number, number, number] {
  return [Math.ceil(n / (4 * panelQ(n) * panelLanes(n))), Math.ceil(m / RM), batch];
}

export function panelGemm(spec: GemmSpec): Program {
  const b: Binding = spec.bRows4 ? { ...spec.inputs[1], vec4: true } : spec.inputs[1];
  const out: Binding = { ...spec.out, vec4: spec.cRows4 };
  return program({
    name: `${spec.name}.panel`,
    key: [...spec.key, spec.type, spec.bRows4, spec.cRows4, panelLanes(spec.n), panelQ(spec.n), RM],
    inputs: [spec.inputs[0], b, ...spec.inputs.slice(2)],
    outputs: [out],
    uniforms: [...GEMM_UNIFORMS, ...spec.uniforms],
    // With vec4 B the scalar loadB would index a vec4 array: it is left out.
    body: () => (spec.bRows4 ? withoutLoadB(spec.loaders) : spec.loaders) + panelMain(spec, b, out),
  });
}

function withoutLoadB(loaders: string): string {
  return loaders.replace(/fn loadB\([\s\S]*?\n}\n?/, "");
}

function panelMain(spec: GemmSpec, b: Binding, out: Binding): string {
  const t = spec.type;
  const WG = panelLanes(spec.n);
  const Q = panelQ(spec.n), COLS = 4 * Q;
  const rows = Array.from({ length: RM }, (_, r) => r);
  const qs = Array.from({ length: Q }, (_, j) => j);
  const loadB = (j: number) =>
    spec.bRows4
      ? load("in1", `kb + c${j}`, b)
      : `vec4<${t}>(${[0, 1, 2, 3].map((l) => `loadB(bBase, k, col + ${4 * j + l}u)`).join(", ")})`;
  return `
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let batch = wid.z;
  let row0 = wid.y * ${RM}u;
  let col = (wid.x * ${WG}u + lid.x) * ${COLS}u;
  let aBase = baseA(batch);
  let bBase = baseB(batch);
  // Clamped so every lane reads in bounds; stores check the real column.
${qs.map((j) => `  let c${j} = (bBase + min(col + ${4 * j}u, max(u.N, 4u) - 4u)) / 4u;`).join("\n")}
${qs.map((j) => `  var acc${j}: array<vec4<${t}>, ${RM}>;`).join("\n")}
  for (var k = 0u; k < u.K; k++) {
    let kb = k * (u.N / 4u);
${qs.map((j) => `    let b${j} = ${loadB(j)};`).join("\n")}
${
    rows.map((r) =>
      `    { let a = loadA(aBase, row0 + ${r}u, k); ${
        qs.map((j) => `acc${j}[${r}] += a * b${j};`).join(" ")
      } }`
    ).join("\n")
  }
  }
${rows.map((r) => storeRow(r, Q, out)).join("\n")}
}
`;
}

function storeRow(r: number, Q: number, out: Binding): string {
  const lines = [
    `  if (row0 + ${r}u < u.M) {`,
    `    let base = (batch * u.M + row0 + ${r}u) * u.N;`,
  ];
  for (let j = 0; j < Q; j++) {
    if (out.vec4) {
      lines.push(
        `    if (col + ${4 * j}u < u.N) { ${
          store("out0", `(base + col + ${4 * j}u) / 4u`, `acc${j}[${r}]`, out)
        } }`,
      );
      continue;
    }
    ["x", "y", "z", "w"].forEach((c, l) => {
      const at = `col + ${4 * j + l}u`;
      lines.push(
        `    if (${at} < u.N) { ${store("out0", `base + ${at}`, `acc${j}[${r}].${c}`, out)} }`,
      );
    });
  }
  lines.push("  }");
  return lines.join("\n");
}
