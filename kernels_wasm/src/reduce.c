// Reductions (Sum, Mean, Max, Min, Prod) over the middle dim of [outer, n, inner], the layout
// core/ops/reduce_plan.ts gives for adjacent axes (other axes are transposed first), and
// ArgMax/ArgMin along one axis.
//
// float32 sums and products accumulate in double and round once, as the reference does; integers
// wrap in their own width, but int32 Mean sums in int64 as TensorFlow does; Max/Min let NaN win. A long row is cut into parts of fixed size whose
// partial results are combined in order by task_reduce_finish, so results never depend on the
// number of threads.
#include "common.h"
#include "dtypes.h"

typedef union {
  double d;
  float f;
  int64_t i;
  uint64_t u;
} Acc;

#define FOLD_CASES(T, SUM_T, SUM, MAXF, MINF)                                     \
  switch (op) {                                                                   \
    case RED_Sum:                                                                 \
    case RED_Mean: {                                                              \
      SUM_T s = 0;                                                                \
      for (int k = 0; k < n; k++) s += (SUM_T)x[(size_t)k * stride];             \
      a.SUM = s;                                                                  \
      break;                                                                      \
    }                                                                             \
    case RED_Prod: {                                                              \
      SUM_T p = 1;                                                                \
      for (int k = 0; k < n; k++) p *= (SUM_T)x[(size_t)k * stride];             \
      a.SUM = p;                                                                  \
      break;                                                                      \
    }                                                                             \
    case RED_Max: {                                                               \
      T m = x[0];                                                                 \
      for (int k = 1; k < n; k++) m = MAXF(m, x[(size_t)k * stride]);             \
      a.i = 0;                                                                    \
      memcpy(&a, &m, sizeof(T));                                                  \
      break;                                                                      \
    }                                                                             \
    default: {                                                                    \
      T m = x[0];                                                                 \
      for (int k = 1; k < n; k++) m = MINF(m, x[(size_t)k * stride]);             \
      a.i = 0;                                                                    \
      memcpy(&a, &m, sizeof(T));                                                  \
    }                                                                             \
  }

#define IMAX(a, b) ((a) > (b) ? (a) : (b))
#define IMIN(a, b) ((a) < (b) ? (a) : (b))

// float32 row sums: four double accumulators over promoted lanes (memory-bound either way).
static double sum_f32_contiguous(const float* x, int n) {
  v128_t s0 = wasm_f64x2_splat(0), s1 = s0, s2 = s0, s3 = s0;
  int k = 0;
  for (; k + 8 <= n; k += 8) {
    v128_t a = wasm_v128_load(x + k), b = wasm_v128_load(x + k + 4);
    s0 = wasm_f64x2_add(s0, wasm_f64x2_promote_low_f32x4(a));
    s1 = wasm_f64x2_add(s1, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(a, a, 2, 3, 0, 1)));
    s2 = wasm_f64x2_add(s2, wasm_f64x2_promote_low_f32x4(b));
    s3 = wasm_f64x2_add(s3, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(b, b, 2, 3, 0, 1)));
  }
  v128_t s = wasm_f64x2_add(wasm_f64x2_add(s0, s1), wasm_f64x2_add(s2, s3));
  double total = wasm_f64x2_extract_lane(s, 0) + wasm_f64x2_extract_lane(s, 1);
  for (; k < n; k++) total += x[k];
  return total;
}

// Folds n elements (n >= 1) spaced `stride` apart.
static Acc fold(int op, int dt, const void* p, int n, int stride) {
  Acc a = {0};
  if (dt == DT_FLOAT32) {
    const float* x = p;
    if ((op == RED_Sum || op == RED_Mean) && stride == 1) {
      a.d = sum_f32_contiguous(x, n);
      return a;
    }
    FOLD_CASES(float, double, d, __builtin_wasm_max_f32, __builtin_wasm_min_f32)
  } else if (dt == DT_INT32) {
    const int32_t* x = p;
    if (op == RED_Mean) {
      // TensorFlow sums int32 in int64 for Mean, so the mean never wraps.
      int64_t s = 0;
      for (int k = 0; k < n; k++) s += x[(size_t)k * stride];
      a.i = s;
      return a;
    }
    FOLD_CASES(int32_t, uint32_t, u, IMAX, IMIN)
  } else {
    const int64_t* x = p;
    FOLD_CASES(int64_t, uint64_t, u, IMAX, IMIN)
  }
  return a;
}

static Acc merge(int op, int dt, Acc a, Acc b) {
  Acc r = a;
  int f = dt == DT_FLOAT32, i32 = dt == DT_INT32;
  switch (op) {
    case RED_Sum:
    case RED_Mean:
      if (f) r.d = a.d + b.d;
      else r.u = a.u + b.u;
      break;
    case RED_Prod:
      if (f) r.d = a.d * b.d;
      else r.u = a.u * b.u;
      break;
    case RED_Max:
      if (f) r.f = __builtin_wasm_max_f32(a.f, b.f);
      else if (i32) r.i = (int32_t)a.u > (int32_t)b.u ? a.i : b.i;
      else r.i = a.i > b.i ? a.i : b.i;
      break;
    default:
      if (f) r.f = __builtin_wasm_min_f32(a.f, b.f);
      else if (i32) r.i = (int32_t)a.u < (int32_t)b.u ? a.i : b.i;
      else r.i = a.i < b.i ? a.i : b.i;
  }
  return r;
}

// Writes the result for a group of `count` elements (count may be 0: the op's identity).
static void finish(int op, int dt, Acc a, int64_t count, void* out) {
  if (count == 0) {
    int max = op == RED_Max;
    if (dt == DT_FLOAT32) {
      *(float*)out = op == RED_Prod ? 1.f : op == RED_Mean ? __builtin_nanf("") : op == RED_Sum ? 0.f
                     : max ? -__builtin_inff() : __builtin_inff();
    } else if (dt == DT_INT32) {
      *(int32_t*)out = op == RED_Prod ? 1 : op == RED_Max ? INT32_MIN : op == RED_Min ? INT32_MAX : 0;
    } else {
      *(int64_t*)out = op == RED_Prod ? 1 : op == RED_Max ? INT64_MIN : op == RED_Min ? INT64_MAX : 0;
    }
    return;
  }
  if (dt == DT_FLOAT32) {
    *(float*)out = op == RED_Max || op == RED_Min ? a.f : (float)(op == RED_Mean ? a.d / (double)count : a.d);
  } else if (dt == DT_INT32) {
    // Sum wraps to 32 bits; Mean divides the int64 sum (truncating) and fits int32.
    *(int32_t*)out = op == RED_Mean ? (int32_t)(a.i / count) : (int32_t)(uint32_t)a.u;
  } else {
    *(int64_t*)out = op == RED_Mean ? a.i / count : a.i;
  }
}

// args: x, out, op, dtype, outer, n, inner, part (elements per part of a row, when inner == 1;
// columns per task otherwise), parts per row, partials (Acc[outer * parts], when parts > 1).
// inner == 1: task t folds part t % parts of row t / parts. inner > 1: task t folds columns
// [c * part, (c + 1) * part) of outer row o, t = o * column_tasks + c.
EXPORT("task_reduce") void task_reduce(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  const uint8_t* x = PTR(const uint8_t, args, ARG0);
  uint8_t* out = PTR(uint8_t, args, ARG0 + 1);
  int op = args[ARG0 + 2], dt = args[ARG0 + 3], n = args[ARG0 + 5], inner = args[ARG0 + 6];
  int part = args[ARG0 + 7], parts = args[ARG0 + 8], size = DTYPE_SIZE[dt];
  Acc* partials = PTR(Acc, args, ARG0 + 9);
  FOR_EACH_TASK(t, args) {
    if (inner == 1) {
      int o = t / parts, p = t % parts, begin = p * part, len = MIN(n, begin + part) - begin;
      Acc a = {0};
      if (len > 0) a = fold(op, dt, x + ((size_t)o * n + begin) * size, len, 1);
      if (parts > 1) partials[t] = a;
      else finish(op, dt, a, len, out + (size_t)o * size);
      continue;
    }
    int column_tasks = (inner + part - 1) / part, o = t / column_tasks;
    int i0 = t % column_tasks * part, i1 = MIN(inner, i0 + part);
    for (int i = i0; i < i1; i++) {
      Acc a = {0};
      if (n > 0) a = fold(op, dt, x + ((size_t)o * n * inner + i) * size, n, inner);
      finish(op, dt, a, n, out + ((size_t)o * inner + i) * size);
    }
  }
}

// args as task_reduce; task t combines the parts of row t, in order.
EXPORT("task_reduce_finish") void task_reduce_finish(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  uint8_t* out = PTR(uint8_t, args, ARG0 + 1);
  int op = args[ARG0 + 2], dt = args[ARG0 + 3], n = args[ARG0 + 5], parts = args[ARG0 + 8];
  const Acc* partials = PTR(const Acc, args, ARG0 + 9);
  FOR_EACH_TASK(o, args) {
    Acc a = partials[(size_t)o * parts];
    for (int p = 1; p < parts; p++) a = merge(op, dt, a, partials[(size_t)o * parts + p]);
    finish(op, dt, a, n, out + (size_t)o * DTYPE_SIZE[dt]);
  }
}

#define ARG_SCAN(T, GREATER)                                                   \
  {                                                                            \
    const T* x = (const T*)p;                                                  \
    T best = x[0];                                                             \
    for (int k = 1; k < dim && !(best != best); k++) {                         \
      T v = x[(size_t)k * inner];                                              \
      if (v != v || (sign > 0 ? GREATER(v, best) : GREATER(best, v))) {        \
        best = v;                                                              \
        at = k;                                                                \
      }                                                                        \
    }                                                                          \
  }
#define GT(a, b) ((a) > (b))

// args: x, out, dtype (float32, int32, int64, bool), sign (1 ArgMax, -1 ArgMin), outer, dim,
// inner, output is int64 (1) or int32 (0). Task t is outer row t. The first extreme wins; a NaN
// is the extreme.
EXPORT("task_arg_reduce") void task_arg_reduce(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  const uint8_t* x = PTR(const uint8_t, args, ARG0);
  uint8_t* out = PTR(uint8_t, args, ARG0 + 1);
  int dt = args[ARG0 + 2], sign = args[ARG0 + 3], dim = args[ARG0 + 5], inner = args[ARG0 + 6];
  int wide = args[ARG0 + 7], size = DTYPE_SIZE[dt];
  FOR_EACH_TASK(o, args) {
    for (int i = 0; i < inner; i++) {
      const uint8_t* p = x + ((size_t)o * dim * inner + i) * size;
      int at = 0;
      switch (dt) {
        case DT_FLOAT32: ARG_SCAN(float, GT) break;
        case DT_INT32: ARG_SCAN(int32_t, GT) break;
        case DT_INT64: ARG_SCAN(int64_t, GT) break;
        default: ARG_SCAN(uint8_t, GT) break;
      }
      size_t j = (size_t)o * inner + i;
      if (wide) ((int64_t*)out)[j] = at;
      else ((int32_t*)out)[j] = at;
    }
  }
}
