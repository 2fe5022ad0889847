/**
 * Comparing a kernel's results with the reference, within its declared tolerance: the
 * equivalence suite, the fuzzer and the `compareWithReference` run option share this.
 */
import { type DType, isFloat } from "./dtype.ts";
import { FLOAT32_MAX, type Tolerance } from "./kernel.ts";
import { formatShape } from "./shape.ts";
import { numbers, type Tensor } from "./tensor.ts";

const EXACT: Tolerance = { reason: "exact" };

/** Distance in float32 units in the last place (sign-aware; 0 for equal values). */
export function ulpDistance(a: number, b: number): number {
  const buf = new Float32Array([a, b]);
  const [ia, ib] = new Int32Array(buf.buffer);
  const key = (i: number) => (i < 0 ? -(i & 0x7fffffff) : i);
  return Math.abs(key(ia) - key(ib));
}

/**
 * One unit in the last place of a bfloat16 (8 significant bits) or float16 (11) value at |r|;
 * subnormals share the smallest normal exponent's unit.
 */
export function ulp16(r: number, dtype: "bfloat16" | "float16"): number {
  const [fraction, minExponent] = dtype === "bfloat16" ? [7, -126] : [10, -14];
  const a = Math.abs(r);
  const exponent = a === 0 ? minExponent : Math.max(minExponent, Math.floor(Math.log2(a)));
  return 2 ** (exponent - fraction);
}

/** Why `actual` does not match `expected`, or undefined when it does. */
export function mismatch(
  actual: Tensor,
  expected: Tensor,
  tol: Tolerance = EXACT,
): string | undefined {
  if (actual.dtype !== expected.dtype) return `dtype ${actual.dtype}, expected ${expected.dtype}`;
  if (
    actual.shape.length !== expected.shape.length ||
    actual.shape.some((d, i) => d !== expected.shape[i])
  ) {
    return `shape ${formatShape(actual.shape)}, expected ${formatShape(expected.shape)}`;
  }
  if (actual.dtype === "string" || actual.dtype === "resource") {
    const i = (actual.data as string[]).findIndex((s, k) => s !== (expected.data as string[])[k]);
    return i < 0
      ? undefined
      : `element ${i}: ${(actual.data as string[])[i]}, expected ${(expected.data as string[])[i]}`;
  }
  if (actual.dtype === "int64") {
    // As BigInts: numbers() would round values past 2^53 and hide a wrong low bit.
    const a = actual.data as BigInt64Array, e = expected.data as BigInt64Array;
    const i = a.findIndex((v, k) => v !== e[k]);
    return i < 0 ? undefined : `element ${i}: ${a[i]}, expected ${e[i]}`;
  }
  const a = numbers(actual), e = numbers(expected);
  const float = isFloat(actual.dtype);
  for (let i = 0; i < a.length; i++) {
    const x = a[i], r = e[i];
    if (Object.is(x, r) || x === r) continue;
    if (Number.isNaN(x) && Number.isNaN(r)) continue;
    if (float && close(x, r, tol, actual.dtype)) continue;
    if (float && overflowAllowed(x, tol)) continue;
    return `element ${i}: ${x}, expected ${r} (tolerance ${
      JSON.stringify({ ...tol, reason: undefined })
    })`;
  }
  return undefined;
}

/**
 * A bound of float32's range or more says the kernel's float32 intermediates (a sum of products)
 * may overflow where the reference's float64 ones do not, as TensorFlow's float32 kernels do:
 * an overflowed result, ±Inf or the NaN of Inf - Inf, is within it.
 */
function overflowAllowed(x: number, tol: Tolerance): boolean {
  return !Number.isFinite(x) && (tol.atol ?? 0) >= FLOAT32_MAX;
}

function close(x: number, r: number, tol: Tolerance, dtype: DType): boolean {
  if (!Number.isFinite(x) || !Number.isFinite(r)) return false;
  const sixteen = dtype === "bfloat16" || dtype === "float16";
  const units = sixteen && tol.ulps16 ? tol.ulps16 * ulp16(r, dtype) : 0;
  if (Math.abs(x - r) <= (tol.atol ?? 0) + (tol.rtol ?? 0) * Math.abs(r) + units) return true;
  return tol.ulps !== undefined && ulpDistance(x, r) <= tol.ulps;
}
