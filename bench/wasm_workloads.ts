/**
 * The workloads of bench/wasm.ts (issue 3), described once for every engine: shapes in
 * TensorFlow's layout (NHWC); engines that want NCHW (onnxruntime) transpose their own inputs.
 */

export type Kind =
  | "matmul"
  | "conv"
  | "depthwise"
  | "add"
  | "relu"
  | "softmax"
  | "sum"
  | "mlp"
  | "dispatch";

export interface Workload {
  name: string;
  kind: Kind;
  /** FLOPs of one run: for GFLOP/s and the roofline's arithmetic intensity. */
  flops: number;
  /**
   * Bytes one run must move at least (compulsory traffic: every input read once, every output
   * written once, float32): the roofline's memory side. Intermediates that need not leave
   * registers or cache (the dispatch chain's sums, the MLP's hidden layer) are not counted.
   */
  bytes: number;
  /** Kind-specific sizes. */
  n?: number;
  /** conv/depthwise: input [1, h, w, c], filter [k, k, c, out], stride, SAME padding. */
  conv?: { h: number; w: number; c: number; k: number; out: number; stride: number };
  /** dispatch: ops in the chain (one-element AddV2s). */
  chain?: number;
}

const matmul = (n: number): Workload => ({
  name: `MatMul ${n}x${n}x${n}`,
  kind: "matmul",
  n,
  flops: 2 * n ** 3,
  bytes: 4 * 3 * n * n,
});

/** SAME output size, as TensorFlow computes it. */
export function sameOut(size: number, stride: number): number {
  return Math.ceil(size / stride);
}

function conv(h: number, c: number, out: number, stride: number): Workload {
  const o = sameOut(h, stride);
  return {
    name: `Conv2D 1x${h}x${h}x${c} 3x3x${c}x${out} s${stride} SAME`,
    kind: "conv",
    conv: { h, w: h, c, k: 3, out, stride },
    flops: 2 * o * o * out * 9 * c,
    bytes: 4 * (h * h * c + 9 * c * out + o * o * out),
  };
}

const ALL: readonly Workload[] = [
  matmul(64),
  matmul(256),
  matmul(512),
  matmul(1024),
  conv(56, 64, 64, 1),
  conv(224, 3, 32, 2),
  {
    name: "DepthwiseConv2dNative 1x112x112x32 3x3",
    kind: "depthwise",
    conv: { h: 112, w: 112, c: 32, k: 3, out: 32, stride: 1 },
    flops: 2 * 112 * 112 * 32 * 9,
    bytes: 4 * (2 * 112 * 112 * 32 + 9 * 32),
  },
  { name: "AddV2 1M", kind: "add", n: 1 << 20, flops: 1 << 20, bytes: 4 * 3 * (1 << 20) },
  { name: "Relu 1M", kind: "relu", n: 1 << 20, flops: 1 << 20, bytes: 4 * 2 * (1 << 20) },
  // Per element: max, subtract, exp, sum, divide, with exp counted as one FLOP; an exp costs far
  // more, so the compute roof is optimistic here.
  { name: "Softmax 1000x1000", kind: "softmax", n: 1000, flops: 5e6, bytes: 4 * 2e6 },
  { name: "Sum 1M", kind: "sum", n: 1 << 20, flops: 1 << 20, bytes: 4 * ((1 << 20) + 1) },
  {
    name: "MLP 784-256-10 batch 128",
    kind: "mlp",
    n: 128,
    // Two MatMuls; BiasAdd and Relu add 0.1% more FLOPs and are left out of the rate.
    flops: 2 * 128 * (784 * 256 + 256 * 10),
    bytes: 4 * (128 * 784 + 784 * 256 + 256 + 256 * 10 + 10 + 128 * 10),
  },
  // The chain's FLOPs and its compulsory bytes (two inputs, one output): its share of the roof
  // says how far per-op overhead is from the arithmetic.
  {
    name: "dispatch: 1000 one-element AddV2",
    kind: "dispatch",
    chain: 1000,
    flops: 1000,
    bytes: 4 * 3,
  },
];

/** The workloads to run: all, or those whose name contains BENCH_FILTER. */
export const WORKLOADS: readonly Workload[] = ALL.filter((w) =>
  w.name.includes(Deno.env.get("BENCH_FILTER") ?? "")
);

/** Deterministic values in [-1, 1) for inputs and weights. */
export function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}
