// Binary elementwise ops with broadcasting (task_binary).
//
// The TypeScript side collapses the broadcast into `outer` dims with per-input element strides
// (0 where an input is broadcast) and one contiguous inner dim, along which each input steps by
// 1 or 0. A row kernel handles the four (x step, y step) cases as separate loops so clang
// vectorizes each (-O3 -msimd128); the float cases that must match the float64 reference
// (FloorMod, SquaredDifference, Pow) compute in double, as the reference does; FloorDiv floors
// the float32 quotient, as TensorFlow does (1 / 0.33333334f is 3).
//
// args: out, x, y, op (BIN_*), dtype (DT_*), outer rank (<= MAX_OUTER), inner, x inner step,
// y inner step, chunk (elements per task), dims[MAX_OUTER], x strides[MAX_OUTER],
// y strides[MAX_OUTER]. Task t writes output elements [t * chunk, (t + 1) * chunk).
#include <math.h>
#include "dtypes.h"
#include "common.h"

#define MAX_OUTER 7

typedef void row_fn(void* out, const void* x, const void* y, int n, int sx, int sy);

#define ROW(NAME, TI, TO, EXPR)                                                              \
  static void NAME(void* o_, const void* x_, const void* y_, int n, int sx, int sy) {        \
    TO* restrict o = o_;                                                                    \
    const TI* restrict x = x_;                                                              \
    const TI* restrict y = y_;                                                              \
    if (sx && sy) {                                                                         \
      for (int i = 0; i < n; i++) {                                                         \
        TI a = x[i], b = y[i];                                                              \
        o[i] = (EXPR);                                                                      \
      }                                                                                     \
    } else if (sx) {                                                                        \
      TI b = y[0];                                                                          \
      for (int i = 0; i < n; i++) {                                                         \
        TI a = x[i];                                                                        \
        o[i] = (EXPR);                                                                      \
      }                                                                                     \
    } else if (sy) {                                                                        \
      TI a = x[0];                                                                          \
      for (int i = 0; i < n; i++) {                                                         \
        TI b = y[i];                                                                        \
        o[i] = (EXPR);                                                                      \
      }                                                                                     \
    } else {                                                                                \
      TI a = x[0], b = y[0];                                                                \
      TO v = (EXPR);                                                                        \
      for (int i = 0; i < n; i++) o[i] = v;                                                 \
    }                                                                                       \
  }

// ---- float32 ---------------------------------------------------------------------------------

static double floor_mod(double a, double b) {
  double r = fmod(a, b);
  return r != 0 && (r < 0) != (b < 0) ? r + b : r;
}

ROW(add_f32, float, float, a + b)
ROW(sub_f32, float, float, a - b)
ROW(mul_f32, float, float, a * b)
ROW(div_f32, float, float, a / b)
ROW(floordiv_f32, float, float, floorf(a / b))
ROW(floormod_f32, float, float, (float)floor_mod(a, b))
// wasm's min/max: NaN propagates and -0 < +0, as JavaScript's Math.min/max.
ROW(max_f32, float, float, __builtin_wasm_max_f32(a, b))
ROW(min_f32, float, float, __builtin_wasm_min_f32(a, b))
ROW(pow_f32, float, float, (float)pow(a, b))
ROW(sqdiff_f32, float, float, (float)(((double)a - b) * ((double)a - b)))
ROW(eq_f32, float, uint8_t, a == b)
ROW(ne_f32, float, uint8_t, a != b)
ROW(lt_f32, float, uint8_t, a < b)
ROW(le_f32, float, uint8_t, a <= b)
ROW(gt_f32, float, uint8_t, a > b)
ROW(ge_f32, float, uint8_t, a >= b)

// ---- integers --------------------------------------------------------------------------------
// Arithmetic wraps (unsigned in C); division by zero and negative exponents were refused before
// the task ran, and division by -1 is a negation, because MIN / -1 traps in wasm.

#define INT_OPS(S, T, U)                                                                    \
  static T scalar_pow_##S(T a, T b) {                                                              \
    if (b < 0) return a == 1 ? 1 : a == -1 ? ((b & 1) ? -1 : 1) : 0;                        \
    U r = 1, base = (U)a;                                                                   \
    for (; b; b >>= 1, base *= base)                                                        \
      if (b & 1) r *= base;                                                                 \
    return (T)r;                                                                            \
  }                                                                                         \
  static T scalar_div_##S(T a, T b) { return b == -1 ? (T)(0 - (U)a) : a / b; }                     \
  static T scalar_floordiv_##S(T a, T b) {                                                         \
    if (b == -1) return (T)(0 - (U)a);                                                      \
    T q = a / b;                                                                            \
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;                                \
  }                                                                                         \
  static T scalar_floormod_##S(T a, T b) {                                                         \
    if (b == -1) return 0;                                                                  \
    T r = a % b;                                                                            \
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;                                    \
  }                                                                                         \
  ROW(add_##S, T, T, (T)((U)a + (U)b))                                                      \
  ROW(sub_##S, T, T, (T)((U)a - (U)b))                                                      \
  ROW(mul_##S, T, T, (T)((U)a * (U)b))                                                      \
  ROW(realdiv_##S, T, T, scalar_div_##S(a, b))                                                     \
  ROW(floordiv_##S, T, T, scalar_floordiv_##S(a, b))                                               \
  ROW(floormod_##S, T, T, scalar_floormod_##S(a, b))                                               \
  ROW(max_##S, T, T, a > b ? a : b)                                                         \
  ROW(min_##S, T, T, a < b ? a : b)                                                         \
  ROW(pow_##S, T, T, scalar_pow_##S(a, b))                                                         \
  ROW(sqdiff_##S, T, T, (T)(((U)a - (U)b) * ((U)a - (U)b)))                                 \
  ROW(eq_##S, T, uint8_t, a == b)                                                           \
  ROW(ne_##S, T, uint8_t, a != b)                                                           \
  ROW(lt_##S, T, uint8_t, a < b)                                                            \
  ROW(le_##S, T, uint8_t, a <= b)                                                           \
  ROW(gt_##S, T, uint8_t, a > b)                                                            \
  ROW(ge_##S, T, uint8_t, a >= b)

INT_OPS(i32, int32_t, uint32_t)
INT_OPS(i64, int64_t, uint64_t)

ROW(eq_b, uint8_t, uint8_t, a == b)
ROW(ne_b, uint8_t, uint8_t, a != b)
ROW(and_b, uint8_t, uint8_t, a & b)
ROW(or_b, uint8_t, uint8_t, a | b)

#define ARITH(S, DIV)                                                                        \
  [BIN_AddV2] = add_##S, [BIN_Sub] = sub_##S, [BIN_Mul] = mul_##S, [BIN_RealDiv] = DIV,     \
  [BIN_FloorDiv] = floordiv_##S, [BIN_FloorMod] = floormod_##S, [BIN_Maximum] = max_##S,    \
  [BIN_Minimum] = min_##S, [BIN_Pow] = pow_##S, [BIN_SquaredDifference] = sqdiff_##S,       \
  [BIN_Equal] = eq_##S, [BIN_NotEqual] = ne_##S, [BIN_Less] = lt_##S,                       \
  [BIN_LessEqual] = le_##S, [BIN_Greater] = gt_##S, [BIN_GreaterEqual] = ge_##S

static row_fn* const ROWS[DT_COUNT][BIN_COUNT] = {
    [DT_FLOAT32] = {ARITH(f32, div_f32)},
    [DT_INT32] = {ARITH(i32, realdiv_i32)},
    [DT_INT64] = {ARITH(i64, realdiv_i64)},
    [DT_BOOL] = {[BIN_Equal] = eq_b, [BIN_NotEqual] = ne_b, [BIN_LogicalAnd] = and_b,
                 [BIN_LogicalOr] = or_b},
};


INLINE int is_comparison(int op) { return op >= BIN_Equal && op <= BIN_GreaterEqual; }

EXPORT("task_binary") void task_binary(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  uint8_t* out = PTR(uint8_t, args, ARG0);
  const uint8_t* x = PTR(const uint8_t, args, ARG0 + 1);
  const uint8_t* y = PTR(const uint8_t, args, ARG0 + 2);
  int op = args[ARG0 + 3], dt = args[ARG0 + 4], rank = args[ARG0 + 5], inner = args[ARG0 + 6];
  int isx = args[ARG0 + 7], isy = args[ARG0 + 8], size = args[ARG0 + 9];
  const word* dims = args + ARG0 + 10;
  const word* xs = dims + MAX_OUTER;
  const word* ys = xs + MAX_OUTER;
  row_fn* row = ROWS[dt][op];
  int in_size = DTYPE_SIZE[dt], out_size = is_comparison(op) ? 1 : in_size;
  int64_t total = (int64_t)inner;
  for (int d = 0; d < rank; d++) total *= dims[d];
  FOR_EACH_TASK(t, args) {
    int64_t e = (int64_t)t * size, end = MIN(total, e + size);
    int64_t r = e / inner;
    int col = (int)(e % inner), idx[MAX_OUTER];
    size_t xo = 0, yo = 0;
    for (int d = rank - 1; d >= 0; d--) {
      idx[d] = (int)(r % dims[d]);
      r /= dims[d];
      xo += (size_t)idx[d] * xs[d];
      yo += (size_t)idx[d] * ys[d];
    }
    while (e < end) {
      int len = (int)MIN((int64_t)(inner - col), end - e);
      row(out + (size_t)e * out_size, x + (xo + (size_t)col * isx) * in_size,
          y + (yo + (size_t)col * isy) * in_size, len, isx, isy);
      e += len;
      col = 0;
      // Next row: an odometer over the outer dims, moving the input offsets along.
      for (int d = rank - 1; d >= 0; d--) {
        xo += xs[d];
        yo += ys[d];
        if (++idx[d] < dims[d]) break;
        xo -= (size_t)xs[d] * dims[d];
        yo -= (size_t)ys[d] * dims[d];
        idx[d] = 0;
      }
    }
  }
}
