// Unary elementwise ops (task_unary) on contiguous buffers.
//
// exp, log, tanh and sigmoid use the SIMD approximations of simd_math.h; the rarer
// transcendental functions (erf, sin, log1p, expm1...) call libm in double and round once, as the
// float64 reference does; the rest are exact and vectorized by clang.
//
// args: out, x, op (UN_*), dtype (DT_*), n, chunk (elements per task), alpha (2 words, double;
// LeakyRelu). Task t covers elements [t * chunk, (t + 1) * chunk).
#include <math.h>
#include "dtypes.h"
#include "common.h"
#include "simd_math.h"

typedef void map_fn(void* out, const void* x, int n, double alpha);

#define MAP(NAME, T, EXPR)                                          \
  static void NAME(void* o_, const void* x_, int n, double alpha) { \
    (void)alpha;                                                    \
    T* restrict o = o_;                                             \
    const T* restrict x = x_;                                       \
    for (int i = 0; i < n; i++) {                                   \
      T a = x[i];                                                   \
      o[i] = (EXPR);                                                \
    }                                                               \
  }

// Four lanes at a time through a float32x4 function, the tail through the same function.
#define MAP_SIMD(NAME, F)                                           \
  static void NAME(void* o_, const void* x_, int n, double alpha) { \
    (void)alpha;                                                    \
    float* o = o_;                                                  \
    const float* x = x_;                                            \
    ExpConstants k = exp_constants();                               \
    int i = 0;                                                      \
    for (; i + 4 <= n; i += 4) wasm_v128_store(o + i, F(wasm_v128_load(x + i), &k)); \
    if (i < n) {                                                    \
      float t[4] = {0, 0, 0, 0};                                    \
      for (int j = i; j < n; j++) t[j - i] = x[j];                  \
      v128_t r = F(wasm_v128_load(t), &k);                          \
      wasm_v128_store(t, r);                                        \
      for (int j = i; j < n; j++) o[j] = t[j - i];                  \
    }                                                               \
  }

#define SELU_SCALE 1.0507009873554804934193349852946
#define SELU_ALPHA 1.6732632423543772848170429916717

static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

MAP(neg_f32, float, -a)
MAP(abs_f32, float, fabsf(a))
// Sign(NaN) is 0, as TensorFlow documents.
MAP(sign_f32, float, a > 0 ? 1.f : a < 0 ? -1.f : 0.f)
MAP_SIMD(exp_f32, exp_f32x4)
MAP_SIMD(log_f32, log_f32x4)
MAP(log1p_f32, float, (float)log1p(a))
MAP(sqrt_f32, float, sqrtf(a))
MAP(rsqrt_f32, float, (float)(1.0 / sqrt(a)))
MAP(square_f32, float, a * a)
MAP(reciprocal_f32, float, 1.f / a)
MAP_SIMD(tanh_f32, tanh_f32x4)
MAP_SIMD(sigmoid_f32, sigmoid_f32x4)
// Relu(NaN) is NaN: TensorFlow's max(x, 0) propagates NaN.
MAP(relu_f32, float, a <= 0 ? 0.f : a)
MAP(relu6_f32, float, __builtin_wasm_min_f32(__builtin_wasm_max_f32(a, 0.f), 6.f))
MAP(elu_f32, float, a > 0 ? a : (float)expm1(a))
MAP(selu_f32, float, (float)(a > 0 ? SELU_SCALE * a : SELU_SCALE * SELU_ALPHA * expm1(a)))
MAP(softplus_f32, float, (float)softplus(a))
MAP(erf_f32, float, (float)erf(a))
MAP(floor_f32, float, floorf(a))
MAP(ceil_f32, float, ceilf(a))
MAP(round_f32, float, __builtin_rintf(a))
MAP(sin_f32, float, (float)sin(a))
MAP(cos_f32, float, (float)cos(a))
MAP(leaky_f32, float, a < 0 ? (float)(alpha * a) : a)

#define INT_MAPS(S, T, U)                                            \
  MAP(neg_##S, T, (T)(0 - (U)a))                                     \
  MAP(abs_##S, T, a < 0 ? (T)(0 - (U)a) : a)                         \
  MAP(sign_##S, T, (T)((a > 0) - (a < 0)))                           \
  MAP(square_##S, T, (T)((U)a * (U)a))                               \
  MAP(relu_##S, T, a > 0 ? a : 0)                                    \
  MAP(relu6_##S, T, a < 0 ? 0 : a > 6 ? 6 : a)                       \
  MAP(round_##S, T, a)

INT_MAPS(i32, int32_t, uint32_t)
INT_MAPS(i64, int64_t, uint64_t)
MAP(not_b, uint8_t, (uint8_t)!a)

#define INT_TABLE(S)                                                                    \
  [UN_Neg] = neg_##S, [UN_Abs] = abs_##S, [UN_Sign] = sign_##S, [UN_Square] = square_##S, \
  [UN_Relu] = relu_##S, [UN_Relu6] = relu6_##S, [UN_Round] = round_##S

static map_fn* const MAPS[DT_COUNT][UN_COUNT] = {
    [DT_FLOAT32] =
        {
            [UN_Neg] = neg_f32,         [UN_Abs] = abs_f32,         [UN_Sign] = sign_f32,
            [UN_Exp] = exp_f32,         [UN_Log] = log_f32,         [UN_Log1p] = log1p_f32,
            [UN_Sqrt] = sqrt_f32,       [UN_Rsqrt] = rsqrt_f32,     [UN_Square] = square_f32,
            [UN_Reciprocal] = reciprocal_f32, [UN_Tanh] = tanh_f32, [UN_Sigmoid] = sigmoid_f32,
            [UN_Relu] = relu_f32,       [UN_Relu6] = relu6_f32,     [UN_Elu] = elu_f32,
            [UN_Selu] = selu_f32,       [UN_Softplus] = softplus_f32, [UN_Erf] = erf_f32,
            [UN_Floor] = floor_f32,     [UN_Ceil] = ceil_f32,       [UN_Round] = round_f32,
            [UN_Sin] = sin_f32,         [UN_Cos] = cos_f32,         [UN_LeakyRelu] = leaky_f32,
        },
    [DT_INT32] = {INT_TABLE(i32)},
    [DT_INT64] = {INT_TABLE(i64)},
    [DT_BOOL] = {[UN_LogicalNot] = not_b},
};


EXPORT("task_unary") void task_unary(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  uint8_t* out = PTR(uint8_t, args, ARG0);
  const uint8_t* x = PTR(const uint8_t, args, ARG0 + 1);
  int op = args[ARG0 + 2], dt = args[ARG0 + 3], n = args[ARG0 + 4], size = args[ARG0 + 5];
  double alpha = words_f64(args + ARG0 + 6);
  map_fn* f = MAPS[dt][op];
  int bytes = DTYPE_SIZE[dt];
  FOR_EACH_TASK(t, args) {
    int begin, end;
    chunk(t, size, n, &begin, &end);
    f(out + (size_t)begin * bytes, x + (size_t)begin * bytes, end - begin, alpha);
  }
}
