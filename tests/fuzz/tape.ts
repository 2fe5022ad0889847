// A tape of drawn integers that the graph builder reads its choices from. fast-check draws the
// integers (so it can shrink them toward 0: the first op, the first input, the smallest value);
// the builder interprets them against the graph built so far, which an arbitrary cannot see.
import type { DType } from "../../core/dtype.ts";

export class Tape {
  private i = 0;
  constructor(private readonly knobs: readonly number[]) {}

  /** An integer in [0, n); 0 when the tape is empty. */
  int(n: number): number {
    if (n <= 0 || this.knobs.length === 0) return 0;
    return this.knobs[this.i++ % this.knobs.length] % n;
  }
  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  /** True with probability about 1/n; false for knobs of 0, so shrinking leads to the plain case. */
  oneIn(n: number): boolean {
    return this.int(n) === n - 1;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  /** A raw knob, for values that use its full range. */
  raw(): number {
    if (this.knobs.length === 0) return 0;
    return this.knobs[this.i++ % this.knobs.length];
  }
}

// Values tensors are filled with: special values often, small ordinary numbers otherwise.
const FLOAT_SPECIALS = [
  0,
  -0,
  1,
  -1,
  0.5,
  -2.5,
  3,
  NaN,
  Infinity,
  -Infinity,
  1e-8,
  1e17,
  -1e17,
  1e30,
  3.4e38,
  -3.4e38,
  65504,
  1e-40,
  0.1,
  0.33333334,
  2.5,
  -0.5,
];
const INT_SPECIALS = [
  0,
  1,
  -1,
  2,
  -7,
  3,
  5,
  127,
  -128,
  255,
  256,
  2147483647,
  -2147483648,
  65536,
  46341,
  -5,
  100,
];
const INT64_SPECIALS = [
  0n,
  1n,
  -1n,
  7n,
  -7n,
  2n ** 53n + 1n,
  2n ** 53n,
  2n ** 62n,
  -(2n ** 63n),
  2n ** 63n - 1n,
  2147483648n,
  -3n,
];

/** One element value of a dtype (a number, or a bigint for int64). */
export function valueOf(dtype: DType, k: number): number | bigint | string {
  const special = k % 4 === 0;
  const j = Math.floor(k / 4);
  switch (dtype) {
    case "float32":
    case "bfloat16":
    case "float16":
      return special ? FLOAT_SPECIALS[j % FLOAT_SPECIALS.length] : ((j % 2001) - 1000) / 100;
    case "int64":
      return special ? INT64_SPECIALS[j % INT64_SPECIALS.length] : BigInt((j % 21) - 10);
    case "bool":
      return k % 2;
    case "string":
      return ["", "a", "abc", "é", "0"][k % 5];
    default:
      return special ? INT_SPECIALS[j % INT_SPECIALS.length] : (j % 21) - 10;
  }
}
