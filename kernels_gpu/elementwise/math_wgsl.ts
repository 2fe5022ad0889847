/**
 * WGSL versions of functions WGSL lacks or defines too loosely for TensorFlow's results:
 * log1p and expm1 keep their precision near 0 (series there: WGSL's log is accurate only in
 * absolute terms near 1, so Kahan's tricks lose digits), tanh does not overflow for
 * large |x| (WGSL derives it from sinh/cosh), erf is a series near 0 and Abramowitz-Stegun
 * 7.1.26 beyond (|error| < 1.5e-7), and pow follows C's rules (negative bases, 1 and -1, ±0 and
 * ±Inf). exp, sin and cos are written out because WGSL bounds them too loosely (exp to 3 + 2|x|
 * ULPs, sin and cos to 2^-11 absolute and only on [-π, π]); fmod is exact.
 *
 * NaN is tested on the bits (is_nan): WGSL lets a compiler assume no NaN, so comparisons with NaN
 * and `x != x` may go either way.
 */
/** A quiet NaN, written as bits so no compiler folds it away. */
export const NAN = "bitcast<f32>(0x7fc00000u)";

/**
 * e^x as Cephes' expf: x = n ln2 + r with ln2 in two parts (n C1 is exact: C1 has 9 significant
 * bits and |n| <= 150), a degree-6 polynomial on |r| <= ln2/2 (relative error 4.2e-9), then
 * 2^n in two factors so that 2^n itself never overflows. Measured against float64 exp over
 * [-101, 89]: at most 1 float32 ULP. Results below 2^-126 are built on the bits (a subnormal
 * from arithmetic may be flushed to 0), rounding the scaled significand to an integer.
 */
export const EXP = `
fn exp_(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  if (x > 88.72283935546875) { return bitcast<f32>(F32_INF); }
  if (x < -103.97208404541015625) { return 0.0; }
  let n = round(x * 1.4426950408889634);
  let r = (x - n * 0.693359375) - n * -2.12194440e-4;
  var p = 1.9875691500e-4;
  p = p * r + 1.3981999507e-3;
  p = p * r + 8.3334519073e-3;
  p = p * r + 4.1665795894e-2;
  p = p * r + 1.6666665459e-1;
  p = p * r + 5.0000001201e-1;
  let y = p * (r * r) + r + 1.0;
  let k = i32(n);
  // Two factors of 2^(k/2) (k >> 1 floors: an arithmetic shift, defined on every backend).
  if (k >= -125) { return ldexp(ldexp(y, k >> 1u), k - (k >> 1u)); }
  // y 2^k < 2^-125: the subnormal's integer significand is y 2^(k + 149), below 2^24.
  return bitcast<f32>(u32(round(ldexp(y, k + 149))));
}`;

/**
 * log(x) and log1p(x). WGSL bounds log only absolutely (2^-21) on [0.5, 2], where log(x) is
 * log1p(x - 1) (x - 1 is exact there) by a series; elsewhere WGSL's log is within 3 ULPs. A
 * subnormal x is its significand times 2^-149 (llvmpipe's log read it as 2^-127 times a
 * fraction: log(1e-40) gave -88.02, not -92.10); zero, negative, infinite and NaN arguments are
 * decided on the bits.
 */
export const LOG = `
fn log1p_series(x: f32) -> f32 {
  // log(1 + x) = 2 atanh(s), s = x / (2 + x), |s| <= 1/3 for x in [-0.5, 1]:
  // 2 (s + s^3/3 + s^5/5 + ...); below 2^-24, log1p(x) rounds to x (s = x/2 would underflow).
  if (abs(x) < 5.9604644775390625e-8) { return x; }
  let s = x / (2.0 + x);
  let s2 = s * s;
  var sum = 0.0;
  for (var k = 21; k >= 3; k -= 2) { sum = (sum + 1.0 / f32(k)) * s2; }
  return 2.0 * s * (1.0 + sum);
}
fn log_(x: f32) -> f32 {
  let b = bitcast<u32>(x);
  if ((b & 0x7fffffffu) == 0u) { return -bitcast<f32>(F32_INF); }
  // Negative (sign bit set), NaN, +Inf.
  if (b >= F32_INF) { return select(${NAN}, x, b == F32_INF); }
  // Subnormal: log(b) - 149 ln 2, the constant in two parts.
  if (b < 0x800000u) { return (log(f32(b)) - 103.2789306640625) + 7.606306553498143e-7; }
  if (x >= 0.5 && x <= 2.0) { return log1p_series(x - 1.0); }
  return log(x);
}
fn log1p_(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  if (x < -0.5 || x > 1.0) { return log_(1.0 + x); }
  return log1p_series(x);
}`;

export const EXPM1 = `
fn expm1_(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  if (abs(x) > 0.5) { return exp_(x) - 1.0; }
  // x + x^2/2! + ... + x^11/11!, Horner from the top term (|error| < 1e-11 for |x| <= 0.5)
  var sum = 0.0;
  for (var k = 11; k >= 1; k--) { sum = (sum + 1.0) * x / f32(k); }
  return sum;
}` + EXP;

export const TANH = `
fn tanh_(x: f32) -> f32 {
  let a = abs(x);
  if (a < 0.0004) { return x; }
  let e = exp_(-2.0 * a);
  let t = select((1.0 - e) / (1.0 + e), -expm1_(-2.0 * a) / (2.0 + expm1_(-2.0 * a)), a < 0.5);
  return select(t, -t, x < 0.0);
}` + EXPM1;

export const ERF = `
fn erf_(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  let a = abs(x);
  if (a < 1.0) {
    // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let x2 = x * x;
    var term = x;
    var sum = x;
    for (var n = 1; n < 12; n++) {
      term = term * (-x2) / f32(n);
      sum = sum + term / f32(2 * n + 1);
    }
    return 1.1283791670955126 * sum;
  }
  if (a >= 4.0) { return sign(x); }
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 +
    t * 1.061405429))));
  let r = 1.0 - poly * exp_(-a * a);
  return select(r, -r, x < 0.0);
}` + EXP;

/**
 * sin and cos on an argument reduced exactly: x 2/π mod 4 from x's 24-bit significand times a
 * 96-bit window of 2/π's bits (Payne-Hanek, in u32 limbs), so |x| up to float32's maximum keeps
 * full precision. The quadrant is the integer part, the fraction (62 bits) times π/2 is r with
 * |r| <= π/4, where Cephes' sinf/cosf polynomials hold (relative error below 1 ULP). Measured
 * against float64 sin and cos of exactly reduced arguments: at most 2 float32 ULPs.
 */
export const SIN_COS = `
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
  // (lo, hi) of the 64-bit product, from 16-bit halves (every partial sum fits in u32).
  let lo0 = (a & 0xffffu) * (b & 0xffffu);
  let mid = (a >> 16u) * (b & 0xffffu) + (lo0 >> 16u);
  let mid2 = (a & 0xffffu) * (b >> 16u) + (mid & 0xffffu);
  let hi = (a >> 16u) * (b >> 16u) + (mid >> 16u) + (mid2 >> 16u);
  return vec2<u32>((mid2 << 16u) | (lo0 & 0xffffu), hi);
}
fn two_over_pi_bits(t: array<u32, 9>, w: u32, s: u32) -> u32 {
  // 32 bits of the table starting s bits into word w (a shift by 32 would be a shift by 0).
  if (s == 0u) { return t[w]; }
  return (t[w] << s) | (t[w + 1u] >> (32u - s));
}
// The quadrant n (x 2/π rounded to the nearest integer, mod 4) and r = x - n π/2, for
// π/4 < x < Inf.
fn reduce_pio2(x: f32) -> vec2<f32> {
  // 2/π's bits after one zero word: word 0 holds weights 2^31..2^0, word 1 2^-1..2^-32.
  let t = array<u32, 9>(0u, 0xa2f9836eu, 0x4e441529u, 0xfc2757d1u, 0xf534ddc0u, 0xdb629599u,
    0x3c439041u, 0xfe5163abu, 0xdebbc561u);
  let b = bitcast<u32>(x);
  let e = i32((b >> 23u) & 255u) - 150;
  let m = (b & 0x7fffffu) | 0x800000u;
  // x = m 2^e. Bits of 2/π worth 2^2 and more, times m 2^e, are multiples of 4: the window
  // starts at the bit worth 2^(1-e), table position 30 + e (e >= -24 here).
  let q = u32(30 + e);
  let w = q >> 5u;
  let s = q & 31u;
  let p0 = mul_wide(m, two_over_pi_bits(t, w, s));
  let p1 = mul_wide(m, two_over_pi_bits(t, w + 1u, s));
  let p2 = mul_wide(m, two_over_pi_bits(t, w + 2u, s));
  // Limbs of the product: c1 at weight 2^-32 of the window, c2 at 2^0 (its top 2 bits are the
  // quadrant, 2^1 and 2^0 of x 2/π; carries past it are multiples of 4).
  let c1 = p1.x + p2.y;
  let c2 = p0.x + p1.y + select(0u, 1u, c1 < p1.x);
  var n = c2 >> 30u;
  var hi = c2 & 0x3fffffffu;
  var lo = c1;
  var sign = 1.0;
  if ((hi & 0x20000000u) != 0u) {
    // Fraction >= 1/2: round the quadrant up and take 1 - fraction, negated.
    n = n + 1u;
    hi = 0x40000000u - hi - select(0u, 1u, lo != 0u);
    lo = 0u - lo;
    sign = -1.0;
  }
  // The fraction hi:lo / 2^62, normalized to 32 bits before the one rounding to f32.
  var f: f32;
  if (hi != 0u) {
    let z = countLeadingZeros(hi);
    f = ldexp(f32((hi << z) | (lo >> (32u - z))), -30 - i32(z));
  } else {
    let z = countLeadingZeros(lo);
    f = ldexp(f32(lo << (z & 31u)), -62 - i32(z));
  }
  // π/2 in two parts: f32(π/2) and the rest.
  let r = f * 1.5707963705062866 + f * -4.371139000186243e-8;
  return vec2<f32>(f32(n & 3u), sign * r);
}
fn sin_poly(x: f32) -> f32 {
  let z = x * x;
  return x + ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * x;
}
fn cos_poly(x: f32) -> f32 {
  let z = x * x;
  return (1.0 - 0.5 * z) +
    ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z;
}
// sin (cosine = false) or cos of x: quadrant 0..3 of |x| picks sin r, cos r, -sin r or -cos r.
fn sin_cos_(x: f32, cosine: bool) -> f32 {
  let a = abs(x);
  if ((bitcast<u32>(x) & 0x7fffffffu) >= F32_INF) { return ${NAN}; }
  var n = 0u;
  var r = a;
  if (a > 0.78539816339744831) {
    let nr = reduce_pio2(a);
    n = u32(nr.x);
    r = nr.y;
  }
  if (cosine) { n = n + 1u; }
  var v = select(sin_poly(r), cos_poly(r), (n & 1u) == 1u);
  if ((n & 2u) != 0u) { v = -v; }
  // sin is odd (cos(x) = sin(|x| + π/2) is even).
  return select(v, -v, !cosine && (bitcast<u32>(x) & 0x80000000u) != 0u);
}`;

/**
 * C's fmod, exact: |x| mod |y| on the integer significands, eight exponent steps at a time
 * ((r << 8) % my stays below 2^32; at most 32 steps for float32's exponent range), built back on
 * the bits (subnormals included) with x's sign. x - y trunc(x / y) is off once the quotient
 * passes 2^24. NaN for NaN operands, infinite x or y = 0; x for infinite y.
 */
export const FMOD = `
fn significand(b: u32) -> u32 {
  let e = (b >> 23u) & 255u;
  return select(b & 0x7fffffu, (b & 0x7fffffu) | 0x800000u, e != 0u);
}
fn fmod_(x: f32, y: f32) -> f32 {
  let bx = bitcast<u32>(x) & 0x7fffffffu;
  let by = bitcast<u32>(y) & 0x7fffffffu;
  if (bx >= F32_INF || by > F32_INF || by == 0u) { return ${NAN}; }
  if (bx < by) { return x; }
  // Values: significand 2^(max(e, 1) - 150).
  let ey = max((by >> 23u) & 255u, 1u);
  let my = significand(by);
  var d = max((bx >> 23u) & 255u, 1u) - ey;
  var r = significand(bx) % my;
  for (var step = 0; step < 32 && d > 0u && r != 0u; step++) {
    let k = min(d, 8u);
    r = (r << k) % my;
    d = d - k;
  }
  var bits = 0u;
  if (r != 0u) {
    // Normalize r to 24 bits; below exponent 1 it stays a subnormal significand.
    let z = countLeadingZeros(r) - 8u;
    if (ey > z) {
      bits = ((ey - z) << 23u) | ((r << z) & 0x7fffffu);
    } else {
      bits = r << (ey - 1u);
    }
  }
  return bitcast<f32>(bits | (bitcast<u32>(x) & 0x80000000u));
}`;

/**
 * x^y for floats with C's rules: pow(1, y) = 1 and pow(x, ±0) = 1 even for NaN, pow(-1, ±Inf)
 * = 1, ±0 and ±Inf bases keep the sign for odd integral exponents, |x| < 1 or > 1 to ±Inf go to
 * 0 or Inf, and negative bases (integral exponents keep a sign, others NaN). Special values are
 * decided on the bits; WGSL's pow (exp2(y log2(x))) only sees finite x > 0.
 */
export const POW = `
fn odd_integer(y: f32) -> bool {
  let a = abs(y);
  return a < 16777216.0 && floor(a) == a && (i32(a) & 1) == 1;
}
fn pow_(x: f32, y: f32) -> f32 {
  let bx = bitcast<u32>(x);
  let ax = bx & 0x7fffffffu;
  let ay = bitcast<u32>(y) & 0x7fffffffu;
  let neg_y = (bitcast<u32>(y) & 0x80000000u) != 0u;
  if (ay == 0u || bx == 0x3f800000u) { return 1.0; }
  if (ax > F32_INF || ay > F32_INF) { return ${NAN}; }
  let x_sign = bx & 0x80000000u;
  if (ay == F32_INF) {
    if (ax == 0x3f800000u) { return 1.0; }
    return select(0.0, bitcast<f32>(F32_INF), (ax > 0x3f800000u) != neg_y);
  }
  // y is finite and nonzero from here; the sign of an odd integral power is x's.
  let sign = select(0u, x_sign, odd_integer(y));
  if (ax == 0u || ax == F32_INF) {
    // 0^y is 0 for y > 0 and Inf for y < 0; Inf^y the reverse.
    let big = (ax == 0u) == neg_y;
    return bitcast<f32>(select(0u, F32_INF, big) | sign);
  }
  if (x_sign == 0u) { return pow_positive(x, y); }
  if (floor(y) != y) { return ${NAN}; }
  return bitcast<f32>(bitcast<u32>(pow_positive(-x, y)) | sign);
}
// A subnormal base takes log2 of x·2^64 (normal) less 64: a backend's log2 may flush it or lose
// its bits (lavapipe gave 3e38 for (1e-40)^-1.0067, which overflows; fuzzer seed 1631150288).
fn pow_positive(x: f32, y: f32) -> f32 {
  if (bitcast<u32>(x) < 0x00800000u) {
    return exp2(y * (log2(x * 18446744073709551616.0) - 64.0));
  }
  return pow(x, y);
}`;
