// TopKV2 (core/ops/topk.ts): per row, the k entries ranking highest under a strict total order:
// larger value first, NaN above every number (two NaNs tie), ties to the lower index. That order
// is the reference's, so the result is exact. A row's indices are selected in its own slice of
// the index output, used as a heap whose root is the lowest-ranked entry kept (O(n log k)), then
// sorted in place by popping the root to the end; values are gathered last.
#include "dtypes.h"
#include "common.h"

// Whether entry a of the row ranks above entry b.
#define ABOVE_FLOAT(x, a, b)                                                      \
  ((x)[a] != (x)[a] ? ((x)[b] == (x)[b] || (a) < (b))                             \
                    : ((x)[b] != (x)[b] ? 0 : ((x)[a] != (x)[b] ? (x)[a] > (x)[b] : (a) < (b))))
#define ABOVE_INT(x, a, b) ((x)[a] != (x)[b] ? (x)[a] > (x)[b] : (a) < (b))

// The heap keeps the lowest-ranked entry at the root: every child ranks above its parent.
#define SIFT_DOWN(ABOVE, x, heap, start, count)                                   \
  do {                                                                            \
    int node_ = (start);                                                          \
    for (;;) {                                                                    \
      int low_ = node_, l_ = 2 * node_ + 1, r_ = l_ + 1;                          \
      if (l_ < (count) && ABOVE(x, heap[low_], heap[l_])) low_ = l_;              \
      if (r_ < (count) && ABOVE(x, heap[low_], heap[r_])) low_ = r_;              \
      if (low_ == node_) break;                                                   \
      int32_t t_ = heap[node_];                                                   \
      heap[node_] = heap[low_];                                                   \
      heap[low_] = t_;                                                            \
      node_ = low_;                                                               \
    }                                                                             \
  } while (0)

#define SELECT(T, ABOVE)                                                          \
  {                                                                               \
    const T* x = (const T*)row;                                                   \
    for (int i = 0; i < k; i++) heap[i] = i;                                      \
    for (int i = k / 2 - 1; i >= 0; i--) SIFT_DOWN(ABOVE, x, heap, i, k);         \
    for (int i = k; i < n; i++) {                                                 \
      if (ABOVE(x, i, heap[0])) {                                                 \
        heap[0] = i;                                                              \
        SIFT_DOWN(ABOVE, x, heap, 0, k);                                          \
      }                                                                           \
    }                                                                             \
    for (int end = k - 1; end > 0; end--) {                                       \
      int32_t t = heap[0];                                                        \
      heap[0] = heap[end];                                                        \
      heap[end] = t;                                                              \
      SIFT_DOWN(ABOVE, x, heap, 0, end);                                          \
    }                                                                             \
    T* v = (T*)values + (size_t)r * k;                                            \
    for (int i = 0; i < k; i++) v[i] = x[heap[i]];                                \
  }

// args: x, values, indices (int32), dtype (float32, int32, int64), n (row length), k.
// Task t is row t.
EXPORT("task_top_k") void task_top_k(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  const uint8_t* x = PTR(const uint8_t, args, ARG0);
  uint8_t* values = PTR(uint8_t, args, ARG0 + 1);
  int32_t* indices = PTR(int32_t, args, ARG0 + 2);
  int dt = args[ARG0 + 3], n = args[ARG0 + 4], k = args[ARG0 + 5], size = DTYPE_SIZE[dt];
  FOR_EACH_TASK(r, args) {
    const uint8_t* row = x + (size_t)r * n * size;
    int32_t* heap = indices + (size_t)r * k;
    switch (dt) {
      case DT_FLOAT32: SELECT(float, ABOVE_FLOAT) break;
      case DT_INT64: SELECT(int64_t, ABOVE_INT) break;
      default: SELECT(int32_t, ABOVE_INT) break;
    }
  }
}
