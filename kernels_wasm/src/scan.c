// Cumsum and Cumprod along one axis (task_scan), TensorFlow's `exclusive` and `reverse` included.
// float32 accumulates in double and rounds once per output, as the float64 reference does (the
// same order, so the same bits); int32 and int64 wrap, as TensorFlow's integer scans.
//
// args: x, out, op (0 sum, 1 product), dtype (DT_*), outer, n (the axis), inner, exclusive,
// reverse, columns per task. The tensor is [outer, n, inner]; task t scans the columns
// [c0, c0 + columns) of outer index t / blocks (blocks = ceil(inner / columns)), walking the axis
// row by row so that each step reads `columns` contiguous elements.
#include "common.h"
#include "dtypes.h"

#define SCAN_COLUMNS 256

#define SCAN(T, ACC, ONE, STEP)                                                        \
  {                                                                                    \
    const T* xs = (const T*)x;                                                         \
    T* os = (T*)out;                                                                   \
    ACC acc[SCAN_COLUMNS];                                                             \
    for (int i = 0; i < len; i++) acc[i] = ONE;                                        \
    for (int j = 0; j < n; j++) {                                                      \
      int k = reverse ? n - 1 - j : j;                                                 \
      size_t row = ((size_t)o * n + k) * inner + c0;                                   \
      for (int i = 0; i < len; i++) {                                                  \
        ACC v = (ACC)xs[row + i];                                                      \
        if (exclusive) os[row + i] = (T)acc[i];                                        \
        acc[i] = STEP;                                                                 \
        if (!exclusive) os[row + i] = (T)acc[i];                                       \
      }                                                                                \
    }                                                                                  \
  }

EXPORT("task_scan") void task_scan(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  const uint8_t* x = PTR(const uint8_t, args, ARG0);
  uint8_t* out = PTR(uint8_t, args, ARG0 + 1);
  int prod = args[ARG0 + 2], dt = args[ARG0 + 3], n = args[ARG0 + 5];
  int inner = args[ARG0 + 6], exclusive = args[ARG0 + 7], reverse = args[ARG0 + 8];
  int columns = MIN(args[ARG0 + 9], SCAN_COLUMNS), blocks = (inner + columns - 1) / columns;
  FOR_EACH_TASK(t, args) {
    int o = t / blocks, c0 = t % blocks * columns, len = MIN(columns, inner - c0);
    if (dt == DT_FLOAT32) {
      if (prod) SCAN(float, double, 1.0, acc[i] * v)
      else SCAN(float, double, 0.0, acc[i] + v)
    } else if (dt == DT_INT32) {
      if (prod) SCAN(uint32_t, uint32_t, 1u, acc[i] * v)
      else SCAN(uint32_t, uint32_t, 0u, acc[i] + v)
    } else {
      if (prod) SCAN(uint64_t, uint64_t, 1u, acc[i] * v)
      else SCAN(uint64_t, uint64_t, 0u, acc[i] + v)
    }
  }
}
