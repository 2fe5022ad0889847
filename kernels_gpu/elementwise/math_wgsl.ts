/**
 * WGSL versions of functions WGSL lacks or defines too loosely for TensorFlow's results:
 * log1p and expm1 keep their precision near 0 (series there: WGSL's log is accurate only in
 * absolute terms near 1, so Kahan's tricks lose digits), tanh does not overflow for
 * large |x| (WGSL derives it from sinh/cosh), erf is a series near 0 and Abramowitz-Stegun
 * 7.1.26 beyond (|error| < 1.5e-7), and pow follows C's rules (negative bases, 1 and -1).
 */
export const LOG1P = `
fn log1p_(x: f32) -> f32 {
  if (x < -0.5 || x > 1.0) { return log(1.0 + x); }
  // log(1 + x) = 2 atanh(s), s = x / (2 + x), |s| <= 1/3: 2 (s + s^3/3 + s^5/5 + ...)
  let s = x / (2.0 + x);
  let s2 = s * s;
  var sum = 0.0;
  for (var k = 21; k >= 3; k -= 2) { sum = (sum + 1.0 / f32(k)) * s2; }
  return 2.0 * s * (1.0 + sum);
}`;

export const EXPM1 = `
fn expm1_(x: f32) -> f32 {
  if (abs(x) > 0.5) { return exp(x) - 1.0; }
  // x + x^2/2! + ... + x^11/11!, Horner from the top term (|error| < 1e-11 for |x| <= 0.5)
  var sum = 0.0;
  for (var k = 11; k >= 1; k--) { sum = (sum + 1.0) * x / f32(k); }
  return sum;
}`;

export const TANH = `
fn tanh_(x: f32) -> f32 {
  let a = abs(x);
  if (a < 0.0004) { return x; }
  let e = exp(-2.0 * a);
  let t = select((1.0 - e) / (1.0 + e), -expm1_(-2.0 * a) / (2.0 + expm1_(-2.0 * a)), a < 0.5);
  return select(t, -t, x < 0.0);
}` + EXPM1;

export const ERF = `
fn erf_(x: f32) -> f32 {
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
  let r = 1.0 - poly * exp(-a * a);
  return select(r, -r, x < 0.0);
}`;

/**
 * x^y for floats with C's rules: pow(1, y) = 1 and pow(x, ±0) = 1 even for NaN, pow(-1, ±Inf)
 * = 1, and negative bases (integral exponents keep a sign, others NaN).
 */
export const POW = `
fn pow_(x: f32, y: f32) -> f32 {
  if (y == 0.0 || x == 1.0) { return 1.0; }
  if (x == -1.0 && (bitcast<u32>(y) & 0x7fffffffu) == F32_INF) { return 1.0; }
  if (x == 0.0) { return select(0.0, bitcast<f32>(F32_INF), y < 0.0); }
  if (x > 0.0) { return pow(x, y); }
  if (is_nan(x) || is_nan(y)) { return x + y; }
  if (y != floor(y)) { return bitcast<f32>(0x7fc00000u); }
  let m = pow(-x, y);
  let odd = abs(y) < 16777216.0 && (i32(abs(y)) & 1) == 1;
  return select(m, -m, odd);
}`;
