/**
 * RandomUniform, RandomStandardNormal and TruncatedNormal: stateful, counter-based (Philox) and
 * seeded. Element i of a call reads Philox blocks fixed by (seed, seed2, the call's first counter, i),
 * so every device that follows this file draws the same numbers.
 */
import { type DType, FLOAT_DTYPES } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { defineOp, type HostContext } from "../op.ts";
import { boxMuller, philox, uint32ToUnitFloat } from "../philox.ts";
import type { Shape } from "../shape.ts";
import { intList, Tensor } from "../tensor.ts";
import { arbShape } from "../testing/arbitrary.ts";
import { apply, type BuildOptions, type TensorLike } from "./build.ts";
import { add, mul } from "./binary.ts";
import { requireRank, unknownShape } from "./infer_util.ts";

type RandomAttrs = { dtype: DType; seed: number; seed2: number; T: DType };

/** How many Philox blocks a call of each op reserves, and how element i is made from them. */
export const RANDOM_SCHEMES = {
  /** Block floor(i/4), lane i%4, mapped to [0, 1). */
  RandomUniform: { blocks: (n: number) => Math.ceil(n / 4) },
  /** Block floor(i/4); lanes (2p, 2p+1) with p = floor(i/2)%2 → Box–Muller pair; i even takes sin. */
  RandomStandardNormal: { blocks: (n: number) => Math.ceil(n / 4) },
  /** Block i with retry r in counter word 2: Box–Muller on lanes 0,1; first |z| ≤ 2 wins. */
  TruncatedNormal: { blocks: (n: number) => n },
} as const;

/** The Philox key for a call: the seeds, or fresh random ones when both are 0 (as TensorFlow). */
export function philoxKey(seed: number, seed2: number): [number, number] {
  if (seed === 0 && seed2 === 0) {
    const r = crypto.getRandomValues(new Uint32Array(2));
    return [r[0], r[1]];
  }
  return [seed >>> 0, seed2 >>> 0];
}

/** Fills `out` with element values of a random op call whose first counter block is `start`. */
export function randomValues(
  op: keyof typeof RANDOM_SCHEMES,
  key: [number, number],
  start: number,
  out: Float64Array,
) {
  const block = new Uint32Array(4);
  const n = out.length;
  if (op === "TruncatedNormal") {
    for (let i = 0; i < n; i++) {
      for (let retry = 0;; retry++) {
        philox(start + i, 0, retry, 0, key[0], key[1], block);
        const [z0, z1] = boxMuller(block[0], block[1]);
        if (Math.abs(z0) <= 2) {
          out[i] = z0;
          break;
        }
        if (Math.abs(z1) <= 2) {
          out[i] = z1;
          break;
        }
      }
    }
    return;
  }
  for (let b = 0; b * 4 < n; b++) {
    philox(start + b, 0, 0, 0, key[0], key[1], block);
    if (op === "RandomUniform") {
      for (let l = 0; l < 4 && b * 4 + l < n; l++) out[b * 4 + l] = uint32ToUnitFloat(block[l]);
    } else {
      for (let p = 0; p < 2; p++) {
        const [z0, z1] = boxMuller(block[2 * p], block[2 * p + 1]);
        if (b * 4 + 2 * p < n) out[b * 4 + 2 * p] = z0;
        if (b * 4 + 2 * p + 1 < n) out[b * 4 + 2 * p + 1] = z1;
      }
    }
  }
}

function defineRandom(name: keyof typeof RANDOM_SCHEMES) {
  return defineOp<RandomAttrs>({
    name,
    inputs: [{ name: "shape", type: "T" }],
    outputs: [{ name: "output", type: "dtype" }],
    attrs: {
      dtype: { kind: "type", allowed: FLOAT_DTYPES },
      seed: { kind: "int", default: 0 },
      seed2: { kind: "int", default: 0 },
      T: { kind: "type", allowed: ["int32", "int64"] },
    },
    stateful: true,
    infer: ([shape], { dtype }) => {
      if (shape.value) return [{ dtype, shape: checkedShape(intList(shape.value)) }];
      const rank = requireRank(shape, 1, 1, "shape");
      const len = rank === null ? -1 : shape.shape![0];
      return [{ dtype, shape: len < 0 ? null : unknownShape(len) }];
    },
    reference: ([shapeT], attrs, ctx) => [sample(name, checkedShape(intList(shapeT)), attrs, ctx)],
    arbitrary: (fc, dtype) =>
      fc.tuple(arbShape(fc, { maxRank: 3 }), fc.integer({ min: 1, max: 1000 }), fc.nat())
        .map(([shape, seed, seed2]) => ({
          inputs: [Tensor.fromNumbers("int32", [shape.length], shape)],
          attrs: { dtype, seed, seed2 },
        })),
  });
}

function checkedShape(dims: number[]): Shape {
  if (dims.some((d) => d < 0)) {
    throw new EdgeflowError(`shape ${JSON.stringify(dims)} has a negative dim`);
  }
  return dims;
}

function sample(
  name: keyof typeof RANDOM_SCHEMES,
  shape: Shape,
  attrs: RandomAttrs,
  ctx: HostContext,
): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const start = ctx.randomCounter(RANDOM_SCHEMES[name].blocks(n));
  const values = new Float64Array(n);
  randomValues(name, philoxKey(attrs.seed, attrs.seed2), start, values);
  return Tensor.fromNumbers(attrs.dtype, shape, values);
}

export const RandomUniform = defineRandom("RandomUniform");
export const RandomStandardNormal = defineRandom("RandomStandardNormal");
export const TruncatedNormal = defineRandom("TruncatedNormal");

export interface RandomOptions extends BuildOptions {
  dtype?: DType;
  seed?: number;
}

/** TensorFlow's op-seed rule: an explicit seed, else the graph seed with a per-op counter. */
function seeds(shape: TensorLike, options: RandomOptions): { seed: number; seed2: number } {
  const graph = options.graph ?? (shape as Output).graph;
  const graphSeed = graph?.seed;
  if (options.seed !== undefined) return { seed: graphSeed ?? 87654321, seed2: options.seed };
  if (graphSeed !== undefined) return { seed: graphSeed, seed2: graph!.nodes.length };
  return { seed: 0, seed2: 0 };
}

function build(op: typeof RandomUniform, shape: TensorLike, options: RandomOptions): Output {
  const { dtype = "float32", seed: _, ...rest } = options;
  return apply(op, [shape], { ...rest, dtype, ...seeds(shape, options) }).outputs[0];
}

export function randomUniform(
  shape: TensorLike,
  options: RandomOptions & { minval?: number; maxval?: number } = {},
): Output {
  const { minval = 0, maxval = 1, ...rest } = options;
  const u = build(RandomUniform, shape, rest);
  return minval === 0 && maxval === 1 ? u : add(mul(u, maxval - minval), minval);
}
export function randomNormal(
  shape: TensorLike,
  options: RandomOptions & { mean?: number; stddev?: number } = {},
) {
  const { mean = 0, stddev = 1, ...rest } = options;
  const z = build(RandomStandardNormal, shape, rest);
  return mean === 0 && stddev === 1 ? z : add(mul(z, stddev), mean);
}
export function truncatedNormal(
  shape: TensorLike,
  options: RandomOptions & { mean?: number; stddev?: number } = {},
) {
  const { mean = 0, stddev = 1, ...rest } = options;
  const z = build(TruncatedNormal, shape, rest);
  return mean === 0 && stddev === 1 ? z : add(mul(z, stddev), mean);
}
