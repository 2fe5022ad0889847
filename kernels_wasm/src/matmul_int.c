// Integer MatMul/BatchMatMulV2: a plain loop per output row. Integer products wrap as
// TensorFlow's do; nothing hot multiplies integer matrices, so no packing.
//
// args: a, b, c, m, n, k, rsa, csa, rsb, csb, a batch stride, b batch stride, a_index, b_index
// (int32[batch] tables or 0). Task t is row t % m of batch t / m.
#include "common.h"

#define IMATMUL(NAME, T, U)                                                                \
  EXPORT(#NAME) void NAME(word* args, int tid, int nt) {                                  \
    (void)tid;                                                                            \
    (void)nt;                                                                             \
    const T* a = PTR(const T, args, ARG0);                                                \
    const T* b = PTR(const T, args, ARG0 + 1);                                            \
    T* c = PTR(T, args, ARG0 + 2);                                                        \
    int m = args[ARG0 + 3], n = args[ARG0 + 4], k = args[ARG0 + 5];                      \
    int rsa = args[ARG0 + 6], csa = args[ARG0 + 7], rsb = args[ARG0 + 8], csb = args[ARG0 + 9]; \
    int as = args[ARG0 + 10], bs = args[ARG0 + 11];                                       \
    const int32_t* ai = PTR(const int32_t, args, ARG0 + 12);                              \
    const int32_t* bi = PTR(const int32_t, args, ARG0 + 13);                              \
    FOR_EACH_TASK(t, args) {                                                              \
      int batch = t / m, i = t % m;                                                       \
      const T* x = a + (size_t)(ai ? ai[batch] : 0) * as + (size_t)i * rsa;               \
      const T* y = b + (size_t)(bi ? bi[batch] : 0) * bs;                                 \
      T* out = c + ((size_t)batch * m + i) * n;                                           \
      for (int j = 0; j < n; j++) {                                                       \
        /* unsigned arithmetic: wraps instead of overflowing (undefined in C) */          \
        U acc = 0;                                                                        \
        for (int p = 0; p < k; p++) acc += (U)x[(size_t)p * csa] * (U)y[(size_t)p * rsb + (size_t)j * csb]; \
        out[j] = (T)acc;                                                                  \
      }                                                                                   \
    }                                                                                     \
  }

IMATMUL(task_imatmul_i32, int32_t, uint32_t)
IMATMUL(task_imatmul_i64, int64_t, uint64_t)
