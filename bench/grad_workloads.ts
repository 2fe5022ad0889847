/**
 * The workloads of bench/grad.ts: the gradient ops of the digits CNN (issue 11: conv 3x3 16 SAME,
 * conv 3x3 32 SAME, max pool 2, batch 64 of 8x8 images) and one larger convolution, in
 * TensorFlow's layout (NHWC). Every engine builds the same problem from these descriptions.
 */
import { values } from "./wasm_workloads.ts";

export type GradKind = "filter" | "input" | "maxpool";

export interface GradWorkload {
  name: string;
  kind: GradKind;
  /** x [batch, h, w, c]; the 3x3 filter [3, 3, c, out]; stride 1, SAME: dy [batch, h, w, out]. */
  batch: number;
  h: number;
  c: number;
  out: number;
  /** FLOPs of one run (the backward convolutions' multiply-adds as 2; 0 for the pool). */
  flops: number;
}

function conv(kind: "filter" | "input", batch: number, h: number, c: number, out: number) {
  const op = kind === "filter" ? "Conv2DBackpropFilter" : "Conv2DBackpropInput";
  return {
    name: `${op} ${batch}x${h}x${h}x${c} 3x3x${c}x${out} SAME`,
    kind,
    batch,
    h,
    c,
    out,
    flops: 2 * batch * h * h * 9 * c * out,
  };
}

const ALL: readonly GradWorkload[] = [
  conv("filter", 64, 8, 16, 32),
  conv("input", 64, 8, 16, 32),
  conv("filter", 64, 8, 1, 16),
  conv("filter", 1, 56, 64, 64),
  conv("input", 1, 56, 64, 64),
  {
    name: "MaxPoolGrad 64x8x8x32 2x2 s2",
    kind: "maxpool",
    batch: 64,
    h: 8,
    c: 32,
    out: 32,
    flops: 0,
  },
];

/** The workloads to run: all, or those whose name contains BENCH_FILTER. */
export const GRAD_WORKLOADS: readonly GradWorkload[] = ALL.filter((w) =>
  w.name.includes(Deno.env.get("BENCH_FILTER") ?? "")
);

export const findGrad = (name: string) => GRAD_WORKLOADS.find((w) => w.name === name);

/** The operands of a workload as [shape, values] pairs: x or dy first as each op takes them. */
export function operands(w: GradWorkload) {
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const t = (shape: number[], seed: number) => ({ shape, data: values(size(shape), seed) });
  const x = t([w.batch, w.h, w.h, w.c], 1);
  const f = t([3, 3, w.c, w.out], 2);
  const half = Math.ceil(w.h / 2);
  const dy = t(w.kind === "maxpool" ? [w.batch, half, half, w.c] : [w.batch, w.h, w.h, w.out], 3);
  return { x, f, dy };
}
