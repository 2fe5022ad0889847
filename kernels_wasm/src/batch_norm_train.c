// FusedBatchNormV3's training statistics (task_batch_norm_stats; nn.c's task_batch_norm then
// normalizes) and FusedBatchNormGradV3 (task_batch_norm_grad), on [outer, C, inner] (NHWC: inner 1; NCHW: outer =
// N, inner = H·W). A task owns a block of channels: it sums dy and dy·x̂ per channel over every
// element in flat order, then writes its channels of dx. Everything is double, with the
// reference's expressions in the reference's order, rounded once per output: the results are the
// reference's bits, whatever the thread count.
//
// args: dy, x, scale, mean, variance, dx, scale_backprop, offset_backprop, outer, C, inner,
// channels per task (<= BN_BLOCK), is_training, epsilon (2 words, double).
#include <math.h>
#include "common.h"

#define BN_BLOCK 16

EXPORT("task_batch_norm_grad") void task_batch_norm_grad(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  const float* dy = PTR(const float, args, ARG0);
  const float* x = PTR(const float, args, ARG0 + 1);
  const float* scale = PTR(const float, args, ARG0 + 2);
  const float* mean = PTR(const float, args, ARG0 + 3);
  const float* var = PTR(const float, args, ARG0 + 4);
  float* dx = PTR(float, args, ARG0 + 5);
  float* dscale = PTR(float, args, ARG0 + 6);
  float* doffset = PTR(float, args, ARG0 + 7);
  int outer = args[ARG0 + 8], C = args[ARG0 + 9], inner = args[ARG0 + 10];
  int block = MIN(args[ARG0 + 11], BN_BLOCK), training = args[ARG0 + 12];
  double eps = words_f64(args + ARG0 + 13);
  double n = (double)outer * inner;
  FOR_EACH_TASK(t, args) {
    int c0 = t * block, c1 = MIN(C, c0 + block);
    double r[BN_BLOCK], s_dy[BN_BLOCK], s_dyx[BN_BLOCK];
    for (int c = c0; c < c1; c++) {
      r[c - c0] = 1 / sqrt((double)var[c] + eps);
      s_dy[c - c0] = 0;
      s_dyx[c - c0] = 0;
    }
    for (int o = 0; o < outer; o++) {
      for (int c = c0; c < c1; c++) {
        size_t at = ((size_t)o * C + c) * inner;
        double m = mean[c], rc = r[c - c0], a = s_dy[c - c0], b = s_dyx[c - c0];
        for (int i = 0; i < inner; i++) {
          double d = dy[at + i];
          a += d;
          b += d * ((double)x[at + i] - m) * rc;
        }
        s_dy[c - c0] = a;
        s_dyx[c - c0] = b;
      }
    }
    for (int c = c0; c < c1; c++) {
      dscale[c] = (float)s_dyx[c - c0];
      doffset[c] = (float)s_dy[c - c0];
    }
    for (int o = 0; o < outer; o++) {
      for (int c = c0; c < c1; c++) {
        size_t at = ((size_t)o * C + c) * inner;
        double m = mean[c], rc = r[c - c0], sc = scale[c];
        double mdy = s_dy[c - c0] / n, mdyx = s_dyx[c - c0] / n;
        for (int i = 0; i < inner; i++) {
          double d = dy[at + i];
          if (!training) {
            dx[at + i] = (float)(d * sc * rc);
          } else {
            double xhat = ((double)x[at + i] - m) * rc;
            dx[at + i] = (float)(sc * rc * (d - mdy - xhat * mdyx));
          }
        }
      }
    }
  }
}

// args: x, stats (double[2][C]: mean, biased variance), outer, C, inner, channels per task
// (<= BN_BLOCK). Per channel, in flat order and in double as the reference: m = Σx / n, then
// v = Σ(x - m)² / n (NaN for an empty batch, 0 / 0, as TensorFlow's).
EXPORT("task_batch_norm_stats") void task_batch_norm_stats(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  const float* x = PTR(const float, args, ARG0);
  double* stats = PTR(double, args, ARG0 + 1);
  int outer = args[ARG0 + 2], C = args[ARG0 + 3], inner = args[ARG0 + 4];
  int block = MIN(args[ARG0 + 5], BN_BLOCK);
  double n = (double)outer * inner;
  FOR_EACH_TASK(t, args) {
    int c0 = t * block, c1 = MIN(C, c0 + block);
    double m[BN_BLOCK], v[BN_BLOCK];
    for (int c = c0; c < c1; c++) m[c - c0] = v[c - c0] = 0;
    for (int o = 0; o < outer; o++) {
      for (int c = c0; c < c1; c++) {
        const float* xs = x + ((size_t)o * C + c) * inner;
        double s = m[c - c0];
        for (int i = 0; i < inner; i++) s += xs[i];
        m[c - c0] = s;
      }
    }
    for (int c = c0; c < c1; c++) m[c - c0] /= n;
    for (int o = 0; o < outer; o++) {
      for (int c = c0; c < c1; c++) {
        const float* xs = x + ((size_t)o * C + c) * inner;
        double s = v[c - c0], mc = m[c - c0];
        for (int i = 0; i < inner; i++) s += ((double)xs[i] - mc) * ((double)xs[i] - mc);
        v[c - c0] = s;
      }
    }
    for (int c = c0; c < c1; c++) {
      stats[c] = m[c - c0];
      stats[C + c] = v[c - c0] / n;
    }
  }
}
