// float32x4 exp, log, tanh and sigmoid: Cephes-style range reduction and polynomials, a few ULPs
// from the correctly rounded result (the kernels using them state their tolerance). Softmax, the
// cross entropies and the activations need them fast; scalar libm calls cost ~10x more.
#pragma once
#include "common.h"

#define F4(x) wasm_f32x4_splat(x)

// Constants live in memory, not in the code: V8 does not hoist v128.const out of loops and
// materialises each one with several instructions per use. Kernels load them once, before their
// loop (exp_constants), into locals that V8 keeps in registers or spills cheaply. The array is
// not const so that clang cannot fold its values back into v128.const.
extern float simd_math_constants[];
extern int32_t simd_math_integers[];

typedef struct {
  v128_t lo, hi, log2e, rounder, ln2_hi, ln2_lo, p0, p1, p2, p3, p4, p5, one, magic, bias;
} ExpConstants;

INLINE ExpConstants exp_constants(void) {
  const float* c = simd_math_constants;
  ExpConstants k = {
      F4(c[0]), F4(c[1]), F4(c[2]), F4(c[3]), F4(c[4]), F4(c[5]), F4(c[6]), F4(c[7]),
      F4(c[8]), F4(c[9]), F4(c[10]), F4(c[11]), F4(c[12]),
      wasm_i32x4_splat(simd_math_integers[0]), wasm_i32x4_splat(simd_math_integers[1]),
  };
  return k;
}

// exp(x): x = n·ln2 + r, |r| <= ln2/2, a degree-6 polynomial (Cephes), times 2^n. Adding
// 1.5·2^23 rounds x·log2(e) to the integer n, which then sits in the low mantissa bits, cheaper
// than f32x4.nearest and i32x4.trunc_sat (several x64 instructions each in V8).
INLINE v128_t exp_f32x4(v128_t x, const ExpConstants* k) {
  // Past the clamps exp over- or underflows anyway; pmin/pmax are single instructions that
  // return their first operand when it is NaN, so NaN passes.
  x = wasm_f32x4_pmin(wasm_f32x4_pmax(x, k->lo), k->hi);
  v128_t t = wasm_f32x4_add(wasm_f32x4_mul(x, k->log2e), k->rounder);
  v128_t n = wasm_f32x4_sub(t, k->rounder);
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, k->ln2_hi));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, k->ln2_lo));
  v128_t p = wasm_f32x4_add(wasm_f32x4_mul(k->p0, r), k->p1);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), k->p2);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), k->p3);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), k->p4);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), k->p5);
  p = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(p, r), r), wasm_f32x4_add(r, k->one));
  // 2^n as two factors (n in [-151, 128]) so that subnormal results round once.
  v128_t i = wasm_i32x4_sub(t, k->magic);
  v128_t half = wasm_i32x4_shr(i, 1);
  v128_t first = wasm_i32x4_shl(wasm_i32x4_add(half, k->bias), 23);
  v128_t second = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_sub(i, half), k->bias), 23);
  return wasm_f32x4_mul(wasm_f32x4_mul(p, first), second);
}

// exp(x) for x <= 0, the softmax case: XNNPACK's "rr2-p5" scheme, a degree-5 polynomial with
// the exponent built by one shift (the magic bias carries the exponent bias). Results below the
// smallest normal float (x < -87.34) flush to 0, which saves the two-factor scaling exp_f32x4
// needs for subnormals; within 2 ULPs elsewhere (tests/wasm_math_test.ts).
typedef struct {
  v128_t log2e, magic, minus_ln2_hi, minus_ln2_lo, c5, c4, c3, c2, c1, cutoff;
} ExpNegConstants;

INLINE ExpNegConstants exp_neg_constants(void) {
  const float* c = simd_math_constants + 13;
  ExpNegConstants k = {F4(c[0]), F4(c[1]), F4(c[2]), F4(c[3]), F4(c[4]),
                       F4(c[5]), F4(c[6]), F4(c[7]), F4(c[8]), F4(c[9])};
  return k;
}

INLINE v128_t exp_neg_f32x4(v128_t x, const ExpNegConstants* k) {
  v128_t n = wasm_f32x4_add(wasm_f32x4_mul(x, k->log2e), k->magic);
  v128_t s = wasm_i32x4_shl(n, 23); // 2^n: n + 127 sits in the low bits of the biased sum
  n = wasm_f32x4_sub(n, k->magic);
  v128_t t = wasm_f32x4_add(wasm_f32x4_mul(n, k->minus_ln2_hi), x);
  t = wasm_f32x4_add(wasm_f32x4_mul(n, k->minus_ln2_lo), t);
  v128_t p = wasm_f32x4_add(wasm_f32x4_mul(k->c5, t), k->c4);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), k->c3);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), k->c2);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), k->c1);
  t = wasm_f32x4_mul(t, s);
  v128_t f = wasm_f32x4_add(wasm_f32x4_mul(t, p), s);
  return wasm_v128_andnot(f, wasm_f32x4_lt(x, k->cutoff));
}

INLINE v128_t log_f32x4(v128_t x, const ExpConstants* k) {
  (void)k;
  // Subnormals: scale into the normal range first.
  v128_t tiny = wasm_f32x4_lt(x, F4(1.17549435e-38f));
  v128_t xs = wasm_v128_bitselect(wasm_f32x4_mul(x, F4(16777216.f)), x, tiny);
  v128_t bits = xs;
  v128_t e = wasm_i32x4_sub(wasm_u32x4_shr(bits, 23), wasm_i32x4_splat(126));
  e = wasm_i32x4_sub(e, wasm_v128_and(tiny, wasm_i32x4_splat(24)));
  // m in [0.5, 1)
  v128_t m = wasm_v128_or(wasm_v128_and(bits, wasm_i32x4_splat(0x007fffff)), wasm_i32x4_splat(0x3f000000));
  v128_t ef = wasm_f32x4_convert_i32x4(e);
  v128_t small = wasm_f32x4_lt(m, F4(0.707106781186547524f));
  ef = wasm_f32x4_sub(ef, wasm_v128_and(small, F4(1.f)));
  m = wasm_f32x4_sub(wasm_f32x4_add(m, wasm_v128_and(small, m)), F4(1.f));
  v128_t z = wasm_f32x4_mul(m, m);
  v128_t y = F4(7.0376836292e-2f);
  y = wasm_f32x4_add(wasm_f32x4_mul(y, m), F4(-1.1514610310e-1f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, m), F4(1.1676998740e-1f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, m), F4(-1.2420140846e-1f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, m), F4(1.4249322787e-1f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, m), F4(-1.6668057665e-1f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, m), F4(2.0000714765e-1f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, m), F4(-2.4999993993e-1f));
  y = wasm_f32x4_add(wasm_f32x4_mul(y, m), F4(3.3333331174e-1f));
  y = wasm_f32x4_mul(wasm_f32x4_mul(y, m), z);
  y = wasm_f32x4_add(y, wasm_f32x4_mul(ef, F4(-2.12194440e-4f)));
  y = wasm_f32x4_sub(y, wasm_f32x4_mul(z, F4(0.5f)));
  v128_t r = wasm_f32x4_add(wasm_f32x4_add(m, y), wasm_f32x4_mul(ef, F4(0.693359375f)));
  // log(0) = -inf, log(x < 0) = NaN, log(inf) = inf, log(NaN) = NaN.
  r = wasm_v128_bitselect(F4(-__builtin_inff()), r, wasm_f32x4_eq(x, F4(0.f)));
  r = wasm_v128_bitselect(F4(__builtin_nanf("")), r, wasm_f32x4_lt(x, F4(0.f)));
  r = wasm_v128_bitselect(x, r, wasm_f32x4_eq(x, F4(__builtin_inff())));
  return wasm_v128_bitselect(x, r, wasm_f32x4_ne(x, x));
}

// 1 / (1 + e^-x), from e = exp(-|x|) so neither branch overflows: 1/(1+e) or e/(1+e).
INLINE v128_t sigmoid_f32x4(v128_t x, const ExpConstants* k) {
  v128_t e = exp_f32x4(wasm_f32x4_neg(wasm_f32x4_abs(x)), k);
  v128_t d = wasm_f32x4_add(F4(1.f), e);
  v128_t pos = wasm_f32x4_div(F4(1.f), d), neg = wasm_f32x4_div(e, d);
  return wasm_v128_bitselect(neg, pos, wasm_f32x4_lt(x, F4(0.f)));
}

// tanh: an odd polynomial near 0 (where 1 - 2/(e^2x + 1) would cancel), that formula elsewhere.
INLINE v128_t tanh_f32x4(v128_t x, const ExpConstants* k) {
  v128_t a = wasm_f32x4_pmin(wasm_f32x4_abs(x), F4(9.f));
  v128_t e = exp_f32x4(wasm_f32x4_add(a, a), k);
  v128_t big = wasm_f32x4_sub(F4(1.f), wasm_f32x4_div(F4(2.f), wasm_f32x4_add(e, F4(1.f))));
  big = wasm_v128_or(big, wasm_v128_and(x, wasm_i32x4_splat((int)0x80000000))); // sign of x
  v128_t z = wasm_f32x4_mul(x, x);
  v128_t p = F4(-5.70498872745e-3f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, z), F4(2.06390887954e-2f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, z), F4(-5.37397155531e-2f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, z), F4(1.33314422036e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, z), F4(-3.33332819422e-1f));
  v128_t small = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(p, z), x), x);
  v128_t r = wasm_v128_bitselect(small, big, wasm_f32x4_lt(wasm_f32x4_abs(x), F4(0.625f)));
  return wasm_v128_bitselect(x, r, wasm_f32x4_ne(x, x)); // NaN stays NaN
}
