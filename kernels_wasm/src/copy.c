// Strided copies: the data movement behind Transpose, Slice, StridedSlice, ConcatV2, Pack,
// Unpack, Pad and Tile. The TypeScript side (kernels_wasm/kernels/movement.ts) describes each as
// one loop nest: the element at coordinates c of `dims` goes from src[Σ c·src_stride] to
// dst[Σ c·dst_stride]. Strides may be 0 (Tile repeats) or negative (reversed slices); dims that
// stay contiguous in both are merged first, so the inner dim is often a plain memcpy.
//
// args: dst, src, element size (1, 2, 4 or 8), rank (1..MAX_RANK), rows per task,
// dims[MAX_RANK], dst strides[MAX_RANK], src strides[MAX_RANK] (elements). Task t copies
// rows [t * rows, (t + 1) * rows) of the outer dims (all but the last).
#include "common.h"

#define MAX_RANK 8

#define COPY_ROW(T)                                                               \
  {                                                                               \
    T* o = (T*)d;                                                                 \
    const T* i = (const T*)s;                                                     \
    for (int k = 0; k < n; k++) o[(ptrdiff_t)k * ds] = i[(ptrdiff_t)k * ss];      \
  }

static void copy_row(uint8_t* d, const uint8_t* s, int n, int ds, int ss, int size) {
  if (ds == 1 && ss == 1) {
    memcpy(d, s, (size_t)n * size);
    return;
  }
  switch (size) {
    case 1: COPY_ROW(uint8_t) break;
    case 2: COPY_ROW(uint16_t) break;
    case 4: COPY_ROW(uint32_t) break;
    default: COPY_ROW(uint64_t) break;
  }
}

EXPORT("task_strided_copy") void task_strided_copy(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  uint8_t* dst = PTR(uint8_t, args, ARG0);
  const uint8_t* src = PTR(const uint8_t, args, ARG0 + 1);
  int size = args[ARG0 + 2], rank = args[ARG0 + 3], chunk_rows = args[ARG0 + 4];
  const word* dims = args + ARG0 + 5;
  const word* dstr = dims + MAX_RANK;
  const word* sstr = dstr + MAX_RANK;
  int outer = rank - 1, inner = dims[outer];
  int64_t rows = 1;
  for (int d = 0; d < outer; d++) rows *= dims[d];
  FOR_EACH_TASK(t, args) {
    int64_t r = (int64_t)t * chunk_rows, end = MIN(rows, r + chunk_rows);
    int idx[MAX_RANK];
    ptrdiff_t doff = 0, soff = 0;
    int64_t rest = r;
    for (int d = outer - 1; d >= 0; d--) {
      idx[d] = (int)(rest % dims[d]);
      rest /= dims[d];
      doff += (ptrdiff_t)idx[d] * dstr[d];
      soff += (ptrdiff_t)idx[d] * sstr[d];
    }
    for (; r < end; r++) {
      copy_row(dst + doff * size, src + soff * size, inner, dstr[outer], sstr[outer], size);
      for (int d = outer - 1; d >= 0; d--) {
        doff += dstr[d];
        soff += sstr[d];
        if (++idx[d] < dims[d]) break;
        doff -= (ptrdiff_t)dstr[d] * dims[d];
        soff -= (ptrdiff_t)sstr[d] * dims[d];
        idx[d] = 0;
      }
    }
  }
}
