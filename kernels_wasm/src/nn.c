// Softmax, LogSoftmax, FusedBatchNormV3 (inference) and the softmax cross entropies, float32.
//
// Softmax runs the SIMD exp (simd_math.h) and sums in double; LogSoftmax, batch norm and the
// cross entropies evaluate the reference's (TensorFlow's) formulas in double and round once, which makes them
// agree with it to the last bit but for rare ties (their tolerances say so).
#include <math.h>
#include "common.h"
#include "simd_math.h"

// The row's max with pmax (one instruction; wasm's max takes several in V8). pmax drops NaNs,
// but a NaN in the row still makes its sum, and so every output, NaN, as the reference's.
static float row_max(const float* x, int n) {
  v128_t m0 = wasm_f32x4_splat(-__builtin_inff()), m1 = m0;
  int k = 0;
  for (; k + 8 <= n; k += 8) {
    m0 = wasm_f32x4_pmax(m0, wasm_v128_load(x + k));
    m1 = wasm_f32x4_pmax(m1, wasm_v128_load(x + k + 4));
  }
  for (; k + 4 <= n; k += 4) m0 = wasm_f32x4_pmax(m0, wasm_v128_load(x + k));
  m0 = wasm_f32x4_pmax(m0, m1);
  float m = fmaxf(fmaxf(wasm_f32x4_extract_lane(m0, 0), wasm_f32x4_extract_lane(m0, 1)),
                  fmaxf(wasm_f32x4_extract_lane(m0, 2), wasm_f32x4_extract_lane(m0, 3)));
  for (; k < n; k++) m = fmaxf(m, x[k]);
  return m;
}

// Sum of a float32x4's lanes, in double.
INLINE double lanes_sum(v128_t v) {
  return ((double)wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
         ((double)wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

// y = exp(x - m) for the row (m its max, so x - m <= 0); returns the sum of y. Lanes sum in
// float32 for 64 vectors at a time, then in double: the error stays that of 64 float32 adds
// however long the row.
static double exp_shifted(const float* x, float* y, int n, float m) {
  v128_t mv = wasm_f32x4_splat(m), acc = wasm_f32x4_splat(0);
  ExpNegConstants c = exp_neg_constants();
  double sum = 0;
  int k = 0, block = 0;
  for (; k + 4 <= n; k += 4) {
    v128_t e = exp_neg_f32x4(wasm_f32x4_sub(wasm_v128_load(x + k), mv), &c);
    wasm_v128_store(y + k, e);
    acc = wasm_f32x4_add(acc, e);
    if (++block == 64) {
      sum += lanes_sum(acc);
      acc = wasm_f32x4_splat(0);
      block = 0;
    }
  }
  sum += lanes_sum(acc);
  if (k < n) {
    float t[4] = {0, 0, 0, 0};
    for (int j = k; j < n; j++) t[j - k] = x[j] - m;
    wasm_v128_store(t, exp_neg_f32x4(wasm_v128_load(t), &c));
    for (int j = k; j < n; j++) sum += y[j] = t[j - k];
  }
  return sum;
}

// One row, as TensorFlow: shifted = x - max, softmax = exp(shifted) / sum(exp(shifted)),
// log = shifted - log(sum), so huge logits keep their precision. A row whose max is not finite
// (+Inf, or all -Inf) has a NaN sum, so the whole row is NaN, as in TensorFlow and the reference.
static void softmax_row(const float* x, float* y, int n, int take_log) {
  float m = row_max(x, n);
  if (!isfinite(m)) {
    for (int k = 0; k < n; k++) y[k] = __builtin_nanf("");
    return;
  }
  double sum = exp_shifted(x, y, n, m);
  if (take_log) {
    double log_sum = log(sum);
    for (int k = 0; k < n; k++) y[k] = (float)(((double)x[k] - m) - log_sum);
    return;
  }
  // One reciprocal per row: a multiply per element instead of a division (one more rounding).
  float inv = (float)(1.0 / sum);
  v128_t s = wasm_f32x4_splat(inv);
  int k = 0;
  for (; k + 4 <= n; k += 4) wasm_v128_store(y + k, wasm_f32x4_mul(wasm_v128_load(y + k), s));
  for (; k < n; k++) y[k] *= inv;
}

// args: x, y, rows, n (row length), rows per task, log (0 Softmax, 1 LogSoftmax).
EXPORT("task_softmax") void task_softmax(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  const float* x = PTR(const float, args, ARG0);
  float* y = PTR(float, args, ARG0 + 1);
  int rows = args[ARG0 + 2], n = args[ARG0 + 3], chunk_rows = args[ARG0 + 4];
  int take_log = args[ARG0 + 5];
  FOR_EACH_TASK(t, args) {
    int r0, r1;
    chunk(t, chunk_rows, rows, &r0, &r1);
    for (int r = r0; r < r1; r++) softmax_row(x + (size_t)r * n, y + (size_t)r * n, n, take_log);
  }
}

// args: x, y, params (double[4][C]: mean, sqrt(variance + epsilon), scale, offset), C, inner
// (1 for NHWC; H*W for NCHW), total elements, elements per task.
// y = ((x - mean) / sqrt(variance + epsilon)) * scale + offset, in double as the reference.
EXPORT("task_batch_norm") void task_batch_norm(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  const float* x = PTR(const float, args, ARG0);
  float* y = PTR(float, args, ARG0 + 1);
  const double* p = PTR(const double, args, ARG0 + 2);
  int c = args[ARG0 + 3], inner = args[ARG0 + 4], n = args[ARG0 + 5], size = args[ARG0 + 6];
  const double *mean = p, *root = p + c, *scale = p + 2 * c, *offset = p + 3 * c;
  FOR_EACH_TASK(t, args) {
    int begin, end;
    chunk(t, size, n, &begin, &end);
    for (int i = begin; i < end; i++) {
      int ch = i / inner % c;
      y[i] = (float)(((x[i] - mean[ch]) / root[ch]) * scale[ch] + offset[ch]);
    }
  }
}

// A row's max and sum(exp(f - max)), read with stride `cs`, in double as the reference. fmax
// skips NaNs, but a NaN (or +Inf, whose shifted value is Inf - Inf) makes the sum NaN, and so
// the row's loss and backprop, as in TensorFlow.
static double shifted_sum(const float* f, int n, int cs, double* max) {
  double m = -INFINITY, s = 0;
  for (int j = 0; j < n; j++) m = fmax(m, f[(size_t)j * cs]);
  for (int j = 0; j < n; j++) s += exp(f[(size_t)j * cs] - m);
  *max = m;
  return s;
}

// args: features, labels, loss, backprop, batch, classes, feature row/column strides, label
// row/column strides (0 where broadcast), sparse (labels are class indices), label size (4/8).
// Task t is row t.
EXPORT("task_xent") void task_xent(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  const float* f = PTR(const float, args, ARG0);
  const uint8_t* labels = PTR(const uint8_t, args, ARG0 + 1);
  float* loss = PTR(float, args, ARG0 + 2);
  float* backprop = PTR(float, args, ARG0 + 3);
  int classes = args[ARG0 + 5], frs = args[ARG0 + 6], fcs = args[ARG0 + 7];
  int lrs = args[ARG0 + 8], lcs = args[ARG0 + 9], sparse = args[ARG0 + 10];
  int lsize = args[ARG0 + 11];
  FOR_EACH_TASK(b, args) {
    const float* row = f + (size_t)b * frs;
    double m, sum = shifted_sum(row, classes, fcs, &m), log_sum = log(sum), total = 0;
    int64_t hot = -1;
    if (sparse) hot = lsize == 8 ? ((const int64_t*)labels)[b] : ((const int32_t*)labels)[b];
    for (int j = 0; j < classes; j++) {
      double shifted = row[(size_t)j * fcs] - m;
      double label = sparse ? (j == hot) : ((const float*)labels)[(size_t)b * lrs + (size_t)j * lcs];
      if (sparse) {
        if (j == hot) total = log_sum - shifted;
      } else {
        total += label * (log_sum - shifted);
      }
      backprop[(size_t)b * classes + j] = (float)(exp(shifted) / sum - label);
    }
    loss[b] = (float)total;
  }
}
