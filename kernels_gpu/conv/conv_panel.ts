/**
 * Conv2D for CPU adapters (the GEMM's "panel" strategy, matmul/gemm_panel.ts): the same register
 * panel (RM output pixels per workgroup, 8 output channels per invocation, B = the HWIO filter
 * read as vec4 rows), but the im2col indexing is hoisted out of the inner loop. The generic GEMM
 * loader decomposed every (pixel, tap) pair with six integer divisions per load, which lavapipe
 * runs as a scalar division per SIMD lane: on mobilenet's 1×1 convolutions they cost far more than
 * the multiply-adds. Here each of the RM pixels is decomposed once per invocation, each filter tap
 * (fh, fw) computes the RM input offsets once, and the innermost loop walks the input channels
 * with one add per load. The A loads stay lane-uniform (every invocation of a workgroup shares the
 * RM pixels), so lavapipe loads each once and broadcasts it.
 */
import type { Program } from "../../devices/webgpu/program.ts";
import { PANEL_COLS, PANEL_Q, PANEL_RM, panelLanes, panelStoreRow } from "../matmul/gemm_panel.ts";
import { GEMM_UNIFORMS } from "../matmul/gemm.ts";
import { type Binding, load, program } from "../wgsl.ts";

export function panelConvProgram(
  uniforms: Program["uniforms"],
  x: Binding,
  f: Binding,
  out: Binding,
  bRows4: boolean,
  cRows4: boolean,
  n: number,
): Program {
  const b: Binding = bRows4 ? { ...f, vec4: true } : f;
  const o: Binding = { ...out, vec4: cRows4 };
  const WG = panelLanes(n);
  const rows = Array.from({ length: PANEL_RM }, (_, r) => r);
  const qs = Array.from({ length: PANEL_Q }, (_, j) => j);
  const loadB = (j: number) =>
    bRows4 ? load("in1", `kb + c${j}`, b) : `vec4<f32>(${
      [0, 1, 2, 3].map((l) => {
        const at = `col + ${4 * j + l}u`;
        return `select(0.0, ${load("in1", `k * u.N + min(${at}, u.N - 1u)`, b)}, ${at} < u.N)`;
      }).join(", ")
    })`;
  return program({
    name: "Conv2D.panel",
    key: [bRows4, cRows4, WG, PANEL_RM, PANEL_Q],
    inputs: [x, b],
    outputs: [o],
    uniforms: [...GEMM_UNIFORMS, ...uniforms],
    body: () => `
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let batch = 0u;
  let row0 = wid.y * ${PANEL_RM}u;
  let col = (wid.x * ${WG}u + lid.x) * ${PANEL_COLS}u;
  // Clamped so every lane reads in bounds; stores check the real column.
${qs.map((j) => `  let c${j} = min(col + ${4 * j}u, max(u.N, 4u) - 4u) / 4u;`).join("\n")}
${qs.map((j) => `  var acc${j}: array<vec4<f32>, ${PANEL_RM}>;`).join("\n")}
  // Each pixel's window origin (rows past M repeat the last one; their stores are skipped).
${
      rows.map((r) =>
        `  let m${r} = min(row0 + ${r}u, max(u.M, 1u) - 1u);
  let ih${r} = i32((m${r} / u.OW) % u.OH * u.sh) - u.padTop;
  let iw${r} = i32(m${r} % u.OW * u.sw) - u.padLeft;
  let img${r} = m${r} / (u.OW * u.OH) * u.H;`
      ).join("\n")
    }
  let FH = u.K / max(u.FW * u.C, 1u);
  for (var fh = 0u; fh < FH; fh++) {
    for (var fw = 0u; fw < u.FW; fw++) {
      let dy = i32(fh * u.dh);
      let dx = i32(fw * u.dw);
${
      rows.map((r) =>
        `      let y${r} = ih${r} + dy; let x${r} = iw${r} + dx;
      let ok${r} = y${r} >= 0 && y${r} < i32(u.H) && x${r} >= 0 && x${r} < i32(u.W);
      let at${r} = select(0u, ((img${r} + u32(y${r})) * u.W + u32(x${r})) * u.C, ok${r});`
      ).join("\n")
    }
      let k0 = (fh * u.FW + fw) * u.C;
      for (var c = 0u; c < u.C; c++) {
        let k = k0 + c;
        let kb = k * (u.N / 4u);
${qs.map((j) => `        let b${j} = ${loadB(j)};`).join("\n")}
${
      rows.map((r) =>
        `        { let a = select(0.0, ${load("in0", `at${r} + c`, x)}, ok${r}); ${
          qs.map((j) => `acc${j}[${r}] += a * b${j};`).join(" ")
        } }`
      ).join("\n")
    }
      }
    }
  }
${rows.map((r) => panelStoreRow(r, o)).join("\n")}
}
`,
  });
}
