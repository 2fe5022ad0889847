// Index-driven movement: GatherV2, SelectV2 and OneHot. Elements are moved as bytes of their
// size, so every dtype is served by one loop per element size. Indices were checked on the
// TypeScript side before the task runs (an out-of-range index is an error, never a read).
#include "dtypes.h"
#include "common.h"

// Reads index i of an int32 (size 4) or int64 (size 8) tensor.
INLINE int64_t index_at(const uint8_t* p, int size, int64_t i) {
  return size == 8 ? ((const int64_t*)p)[i] : ((const int32_t*)p)[i];
}

// args: out, params, indices, index size (4/8), element size, batch, outer, axis dim, count,
// inner, rows per task. The output is [batch, outer, count, inner]; row (b, o, j) copies
// params[b, o, indices[b, j], :]. Task t copies rows [t * rows, (t + 1) * rows).
EXPORT("task_gather") void task_gather(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  uint8_t* out = PTR(uint8_t, args, ARG0);
  const uint8_t* params = PTR(const uint8_t, args, ARG0 + 1);
  const uint8_t* indices = PTR(const uint8_t, args, ARG0 + 2);
  int isize = args[ARG0 + 3], size = args[ARG0 + 4], outer = args[ARG0 + 6];
  int axis_dim = args[ARG0 + 7], count = args[ARG0 + 8], inner = args[ARG0 + 9];
  int chunk_rows = args[ARG0 + 10];
  int64_t rows = (int64_t)args[ARG0 + 5] * outer * count;
  size_t row_bytes = (size_t)inner * size;
  FOR_EACH_TASK(t, args) {
    int64_t r = (int64_t)t * chunk_rows, end = MIN(rows, r + chunk_rows);
    for (; r < end; r++) {
      int64_t j = r % count, bo = r / count, b = bo / outer;
      int64_t i = index_at(indices, isize, b * count + j);
      memcpy(out + (size_t)r * row_bytes, params + (size_t)(bo * axis_dim + i) * row_bytes, row_bytes);
    }
  }
}

#define MAX_OUTER 7

#define SELECT_ROW(T)                                                         \
  {                                                                           \
    T* o = (T*)out;                                                           \
    const T* a = (const T*)t;                                                 \
    const T* b = (const T*)e;                                                 \
    for (int k = 0; k < n; k++) o[k] = c[k * sc] ? a[k * st] : b[k * se];     \
  }

static void select_row(uint8_t* out, const uint8_t* c, const uint8_t* t, const uint8_t* e, int n,
                       int sc, int st, int se, int size) {
  switch (size) {
    case 1: SELECT_ROW(uint8_t) break;
    case 2: SELECT_ROW(uint16_t) break;
    case 4: SELECT_ROW(uint32_t) break;
    default: SELECT_ROW(uint64_t) break;
  }
}

// args: out, condition, t, e, element size, outer rank (<= MAX_OUTER), inner, inner steps of
// c, t, e (0 or 1), rows per task, dims[MAX_OUTER], strides of c, t, e [MAX_OUTER] each.
// Like task_binary with three inputs: the TypeScript side plans the broadcast.
EXPORT("task_select") void task_select(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  uint8_t* out = PTR(uint8_t, args, ARG0);
  const uint8_t* src[3] = {PTR(const uint8_t, args, ARG0 + 1), PTR(const uint8_t, args, ARG0 + 2),
                           PTR(const uint8_t, args, ARG0 + 3)};
  int size = args[ARG0 + 4], rank = args[ARG0 + 5], inner = args[ARG0 + 6];
  const word* steps = args + ARG0 + 7;
  int chunk_rows = args[ARG0 + 10];
  const word* dims = args + ARG0 + 11;
  const word* strides[3] = {dims + MAX_OUTER, dims + 2 * MAX_OUTER, dims + 3 * MAX_OUTER};
  int64_t rows = 1;
  for (int d = 0; d < rank; d++) rows *= dims[d];
  int sizes[3] = {1, size, size};
  FOR_EACH_TASK(t, args) {
    int64_t r = (int64_t)t * chunk_rows, end = MIN(rows, r + chunk_rows), rest = r;
    int idx[MAX_OUTER];
    size_t off[3] = {0, 0, 0};
    for (int d = rank - 1; d >= 0; d--) {
      idx[d] = (int)(rest % dims[d]);
      rest /= dims[d];
      for (int k = 0; k < 3; k++) off[k] += (size_t)idx[d] * strides[k][d];
    }
    for (; r < end; r++) {
      select_row(out + (size_t)r * inner * size, src[0] + off[0], src[1] + off[1] * sizes[1],
                 src[2] + off[2] * sizes[2], inner, steps[0], steps[1], steps[2], size);
      for (int d = rank - 1; d >= 0; d--) {
        for (int k = 0; k < 3; k++) off[k] += strides[k][d];
        if (++idx[d] < dims[d]) break;
        for (int k = 0; k < 3; k++) off[k] -= (size_t)strides[k][d] * dims[d];
        idx[d] = 0;
      }
    }
  }
}

// Index i of an indices tensor of dtype code dt (uint8, int8, int32 or int64).
INLINE int64_t any_index(const uint8_t* p, int dt, int64_t i) {
  switch (dt) {
    case DT_UINT8: return p[i];
    case DT_INT8: return ((const int8_t*)p)[i];
    case DT_INT32: return ((const int32_t*)p)[i];
    default: return ((const int64_t*)p)[i];
  }
}

// args: out, indices, indices dtype, element size, outer, depth, inner, on value (2 words),
// off value (2 words). out[o, d, i] = indices[o, i] == d ? on : off. Task t is outer row t.
EXPORT("task_one_hot") void task_one_hot(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  uint8_t* out = PTR(uint8_t, args, ARG0);
  const uint8_t* indices = PTR(const uint8_t, args, ARG0 + 1);
  int dt = args[ARG0 + 2], size = args[ARG0 + 3];
  int depth = args[ARG0 + 5], inner = args[ARG0 + 6];
  const uint8_t* on = (const uint8_t*)(args + ARG0 + 7);
  const uint8_t* off = (const uint8_t*)(args + ARG0 + 9);
  FOR_EACH_TASK(o, args) {
    uint8_t* row = out + (size_t)o * depth * inner * size;
    for (int d = 0; d < depth; d++) {
      for (int i = 0; i < inner; i++) {
        int hot = any_index(indices, dt, (int64_t)o * inner + i) == d;
        memcpy(row + ((size_t)d * inner + i) * size, hot ? on : off, size);
      }
    }
  }
}

// args: out (zeroed by the caller), updates, rows (int32[count]: each update row's output row),
// count, inner, int (0 float32, 1 int32), columns per task. ScatterNd: update row r is added to
// output row rows[r], rows in index order, each sum rounded to the dtype (int32 wraps), as
// TensorFlow's CPU kernel adds. Tasks split the columns, so every element keeps that order.
EXPORT("task_scatter_add") void task_scatter_add(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  uint8_t* out = PTR(uint8_t, args, ARG0);
  const uint8_t* updates = PTR(const uint8_t, args, ARG0 + 1);
  const int32_t* rows = PTR(const int32_t, args, ARG0 + 2);
  int count = args[ARG0 + 3], inner = args[ARG0 + 4], is_int = args[ARG0 + 5];
  int columns = args[ARG0 + 6];
  FOR_EACH_TASK(t, args) {
    int c0 = t * columns, c1 = MIN(inner, c0 + columns);
    for (int r = 0; r < count; r++) {
      size_t to = (size_t)rows[r] * inner, from = (size_t)r * inner;
      if (is_int) {
        uint32_t* o = (uint32_t*)out + to;
        const uint32_t* u = (const uint32_t*)updates + from;
        for (int c = c0; c < c1; c++) o[c] += u[c];
      } else {
        float* o = (float*)out + to;
        const float* u = (const float*)updates + from;
        for (int c = c0; c < c1; c++) o[c] += u[c];
      }
    }
  }
}
