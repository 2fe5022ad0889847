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
import { GEMM_UNIFORMS } from "../matmul/gemm.ts";
import { type Binding, load, program, store } from "../wgsl.ts";
import {
  applyEpilogue,
  type Epilogue,
  epilogueBindings,
  epilogueKey,
  epilogueLoads,
  epilogueUniforms,
} from "../nn/epilogue.ts";

/** The panel's shape: pixels per workgroup and vec4 column groups per invocation. */
export interface ConvPanel {
  readonly rm: number;
  readonly q: number;
}

export const CONV_PANEL: ConvPanel = { rm: 32, q: 4 };

/**
 * The panel for an m×n output (n < 0: unknown). Lavapipe (Mesa 22.3) loads every lane's value
 * separately even where all lanes share the address, so each invocation pays for its RM values
 * of A and 4Q of B per k and the panel should be as large as the registers allow: RM·4Q = 512
 * multiply-adds per 44 loads at 32×4 (spilled accumulators cost less than loads). Narrow outputs
 * take fewer columns per invocation, since a workgroup has at least 8 invocations (the SIMD
 * width) and those past n idle. Measured on mobilenet_v2's 1×1 convolutions (CPU time, lavapipe):
 * 32×4 1.2× 16×2 for n ≥ 88, 32×1 1.2-1.3× for n ≤ 32, 32×2 1.1× at n = 48.
 */
export function convPanelFor(m: number, n: number): ConvPanel {
  const rm = m >= 0 && m <= 16 ? 16 : 32;
  if (n < 0 || n >= 64) return { rm, q: 4 };
  return { rm, q: n <= 32 ? 1 : 2 };
}

/**
 * Invocations per workgroup: one SIMD vector's worth (lavapipe's 8 lanes). Wider workgroups
 * measured no faster, idled lanes past narrow outputs, and made the lane count a part of the
 * program key (one more program to compile per width; llvmpipe's GL compile of a 32×4 panel
 * takes about a second).
 */
export const CONV_PANEL_LANES = 8;

export function convPanelGrid(m: number, n: number, p: ConvPanel = CONV_PANEL): [number, number] {
  return [Math.ceil(n / (4 * p.q * CONV_PANEL_LANES)), Math.ceil(m / p.rm)];
}

export function panelConvProgram(
  uniforms: Program["uniforms"],
  x: Binding,
  f: Binding,
  out: Binding,
  bRows4: boolean,
  cRows4: boolean,
  p: ConvPanel = CONV_PANEL,
  /** A fused op's bias or norm and activation, applied before the stores (nn/epilogue.ts). */
  epilogue?: Epilogue,
): Program {
  const b: Binding = bRows4 ? { ...f, vec4: true } : f;
  const o: Binding = { ...out, vec4: cRows4 };
  const WG = CONV_PANEL_LANES;
  const RM = p.rm, COLS = 4 * p.q;
  const rows = Array.from({ length: RM }, (_, r) => r);
  const qs = Array.from({ length: p.q }, (_, j) => j);
  const acc = (j: number, r: number) => `acc${j}[${r}]`;
  const loadB = (j: number) =>
    bRows4 ? load("in1", `kb + c${j}`, b) : `vec4<f32>(${
      [0, 1, 2, 3].map((l) => {
        const at = `col + ${4 * j + l}u`;
        return `select(0.0, ${load("in1", `k * u.N + min(${at}, u.N - 1u)`, b)}, ${at} < u.N)`;
      }).join(", ")
    })`;
  // The epilogue's vectors, per column group (vec4 with vec4 stores, else per column).
  const vectorLoads = qs.map((j) =>
    o.vec4
      ? `  ${epilogueLoads(epilogue, `${j}`, `c${j}`, 2, true)}`
      : [0, 1, 2, 3].map((l) =>
        `  ${epilogueLoads(epilogue, `${j}_${l}`, `min(col + ${4 * j + l}u, u.N - 1u)`, 2, false)}`
      ).join("\n")
  ).join("\n");
  const storeRow = (r: number) => {
    const lines = [`  if (row0 + ${r}u < u.M) {`, `    let base = (row0 + ${r}u) * u.N;`];
    for (const j of qs) {
      if (o.vec4) {
        const value = applyEpilogue(epilogue, acc(j, r), `${j}`, true);
        lines.push(
          `    if (col + ${4 * j}u < u.N) { ${
            store("out0", `(base + col + ${4 * j}u) / 4u`, value, o)
          } }`,
        );
        continue;
      }
      ["x", "y", "z", "w"].forEach((c, l) => {
        const at = `col + ${4 * j + l}u`;
        const value = applyEpilogue(epilogue, `${acc(j, r)}.${c}`, `${j}_${l}`, false);
        lines.push(`    if (${at} < u.N) { ${store("out0", `base + ${at}`, value, o)} }`);
      });
    }
    lines.push("  }");
    return lines.join("\n");
  };
  const accs = qs.map((j) => `  var acc${j}: array<vec4<f32>, ${RM}>;`).join("\n");
  return program({
    name: "Conv2D.panel",
    key: [bRows4, cRows4, WG, RM, p.q, epilogueKey(epilogue)],
    inputs: [x, b, ...epilogueBindings(epilogue, o.vec4 === true)],
    outputs: [o],
    uniforms: [...GEMM_UNIFORMS, ...uniforms, ...epilogueUniforms(epilogue)],
    body: () =>
      `${epilogue?.fn.wgsl ?? ""}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let row0 = wid.y * ${RM}u;
  let col = (wid.x * ${WG}u + lid.x) * ${COLS}u;
  // Clamped so every lane reads in bounds; stores check the real column.
${qs.map((j) => `  let c${j} = min(col + ${4 * j}u, max(u.N, 4u) - 4u) / 4u;`).join("\n")}
${accs}
  // Each pixel's window origin: the first pixel decomposed with divisions, the next ones by
  // stepping the column with a carry (rows past M get ok = false below).
  var ow = row0 % max(u.OW, 1u);
  var oh = row0 / max(u.OW, 1u) % max(u.OH, 1u);
  var img = row0 / max(u.OW * u.OH, 1u) * u.H;
${
        rows.map((r) =>
          `  let live${r} = row0 + ${r}u < u.M;
  let ih${r} = i32(oh * u.sh) - u.padTop;
  let iw${r} = i32(ow * u.sw) - u.padLeft;
  let img${r} = img;${
            r === RM - 1 ? "" : `
  ow += 1u;
  if (ow == u.OW) { ow = 0u; oh += 1u; if (oh == u.OH) { oh = 0u; img += u.H; } }`
          }`
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
      let ok${r} = live${r} && y${r} >= 0 && y${r} < i32(u.H) && x${r} >= 0 && x${r} < i32(u.W);
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
            qs.map((j) => `${acc(j, r)} += a * b${j};`).join(" ")
          } }`
        ).join("\n")
      }
      }
    }
  }
${vectorLoads}
${rows.map(storeRow).join("\n")}
}
`,
  });
}
