/**
 * The row-cached window program, for windows with a horizontal stride of 1 or 2 and unit
 * dilation (3×3 depthwise convolutions, most pools): an invocation computes P neighbouring
 * output columns of one channel (or vec4 of channels), and per window row it loads the
 * (P - 1)·SW + FW input columns they share once, instead of FW per column. FW and SW are
 * unrolled, so they are part of the key.
 */
import type { Program } from "../../devices/webgpu/program.ts";
import {
  type Binding,
  computeType,
  linearMain,
  load,
  maxNanHelper,
  program,
  store,
} from "../wgsl.ts";
import type { RowShape, WindowOp } from "./window.ts";
import {
  applyEpilogue,
  type Epilogue,
  epilogueBindings,
  epilogueKey,
  epilogueLoads,
  epilogueUniforms,
} from "../nn/epilogue.ts";

/** Output columns per invocation. */
export const ROW_P = 8;
/** Widest window the row variant unrolls. */
export const ROW_MAX_FW = 7;

/** A window program's inputs: x, then for a depthwise convolution its filter and epilogue's. */
export function windowInputs(
  op: WindowOp,
  ins: Binding[],
  vec4: boolean,
  epilogue?: Epilogue,
): Binding[] {
  const x = { ...ins[0], vec4 };
  return op === "depthwise" ? [x, { ...ins[1], vec4 }, ...epilogueBindings(epilogue, vec4)] : [x];
}

/** The accumulators' start: -inf for a max (the lowest int32 for int pools), else 0. */
export function windowInit(op: WindowOp, t: string): string {
  return op === "max" ? (t === "f32" ? "neg_inf()" : "-2147483647 - 1") : "0";
}

export function rowWindowProgram(
  op: WindowOp,
  ins: Binding[],
  out: Binding,
  vec4: boolean,
  { fw, sw }: RowShape,
  uniforms: Program["uniforms"],
  wg: number,
  epilogue?: Epilogue,
): Program {
  const t = computeType(out.dtype);
  const v = vec4 ? `vec4<${t}>` : t;
  const bindings = windowInputs(op, ins, vec4, epilogue);
  const x = bindings[0];
  const cv = vec4 ? "4u" : "1u";
  const cols = (ROW_P - 1) * sw + fw;
  const ps = Array.from({ length: ROW_P }, (_, p) => p);
  const init = windowInit(op, t);
  const lines: string[] = [];
  for (let c = 0; c < cols; c++) {
    lines.push(
      `    let ok${c} = iw0 + ${c} >= 0 && iw0 + ${c} < i32(u.W);`,
      `    let x${c} = select(${v}(0), ${
        load("in0", `((row + u32(clamp(iw0 + ${c}, 0, i32(u.W) - 1))) * u.C + ic) / ${cv}`, x)
      }, ok${c});`,
    );
  }
  for (let f = 0; f < fw; f++) {
    if (op === "depthwise") {
      lines.push(
        `    let f${f} = ${
          load("in1", `(((fh * u.FW + ${f}u) * u.C + ic) * u.M + oc % u.M) / ${cv}`, bindings[1])
        };`,
      );
    }
    for (const p of ps) {
      const c = p * sw + f;
      // Padding taps are skipped, not multiplied as 0: 0 · Inf would be NaN.
      if (op === "depthwise") lines.push(`    if (ok${c}) { acc${p} += x${c} * f${f}; }`);
      else if (op === "max") {
        lines.push(
          `    if (ok${c}) { acc${p} = max_nan(acc${p}, x${c}); }`,
        );
      } else lines.push(`    if (ok${c}) { acc${p} += x${c}; count${p} += 1.0; }`);
    }
  }
  const result = (p: number) =>
    op === "avg" ? `acc${p} / count${p}` : applyEpilogue(epilogue, `acc${p}`, "e", vec4);
  return program({
    name: `window.row.${op}`,
    key: [vec4, fw, sw, ROW_P, wg, epilogueKey(epilogue)],
    inputs: bindings,
    outputs: [{ ...out, vec4 }],
    uniforms: [...uniforms, ...epilogueUniforms(epilogue)],
    body: () =>
      `${epilogue?.fn.wgsl ?? ""}
fn neg_inf() -> f32 { return bitcast<f32>(0xff800000u); }
${maxNanHelper(t, vec4)}
${linearMain(wg)}
  if (i >= u.n) { return; }
  let groups = u.OC / ${cv};
  let blocks = (u.OW + ${ROW_P - 1}u) / ${ROW_P}u;
  let oc = (i % groups) * ${cv};
  var rest = i / groups;
  let ow0 = (rest % blocks) * ${ROW_P}u;
  rest = rest / blocks;
  let oh = rest % u.OH;
  let b = rest / u.OH;
  let ic = oc / u.M;
  let iw0 = i32(ow0 * ${sw}u) - u.padLeft;
${ps.map((p) => `  var acc${p} = ${v}(${init});\n  var count${p} = 0.0;`).join("\n")}
  for (var fh = 0u; fh < u.FH; fh++) {
    let ih = i32(oh * u.sh + fh * u.dh) - u.padTop;
    if (ih < 0 || ih >= i32(u.H)) { continue; }
    let row = (b * u.H + u32(ih)) * u.W;
${lines.join("\n")}
  }
  let base = ((b * u.OH + oh) * u.OW + ow0) * groups + oc / ${cv};
  ${epilogueLoads(epilogue, "e", `oc / ${cv}`, 2, vec4)}
${
        ps.map((p) =>
          `  if (ow0 + ${p}u < u.OW) { ${
            store("out0", `base + ${p}u * groups`, result(p), { ...out, vec4 })
          } }`
        ).join("\n")
      }
}
`,
  });
}
