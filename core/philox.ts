/**
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011), the
 * counter-based generator TensorFlow uses. Output block n depends only on (key, counter n), so any
 * device computes the same numbers for the same seed, in any order.
 */

const M0 = 0xd2511f53, M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9, W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two uint32s. */
function mulhi(a: number, b: number): number {
  const aLo = a & 0xffff, aHi = a >>> 16, bLo = b & 0xffff, bHi = b >>> 16;
  const lolo = aLo * bLo;
  const mid1 = aHi * bLo + (lolo >>> 16);
  const mid2 = aLo * bHi + (mid1 & 0xffff);
  return (aHi * bHi + (mid1 >>> 16) + (mid2 >>> 16)) >>> 0;
}

/** Ten Philox rounds on counter (c0..c3) with key (k0, k1); writes 4 uint32s to `out`. */
export function philox(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
) {
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi(M0, c0), lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1, c2), lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/** TensorFlow's Uint32ToFloat: 23 random mantissa bits → a float32 in [0, 1). */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
export function uint32ToUnitFloat(x: number): number {
  u32[0] = (127 << 23) | (x & 0x7fffff);
  return f32[0] - 1;
}

/** Box–Muller on two uint32s → two standard normals, as TensorFlow's BoxMullerFloat. */
export function boxMuller(x0: number, x1: number): [number, number] {
  const u1 = Math.max(uint32ToUnitFloat(x0), 1e-7);
  const v1 = 2 * Math.PI * uint32ToUnitFloat(x1);
  const r = Math.sqrt(-2 * Math.log(u1));
  return [Math.sin(v1) * r, Math.cos(v1) * r];
}
