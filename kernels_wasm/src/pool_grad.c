// MaxPoolGrad and AvgPoolGrad over NHWC images (kernels_wasm/kernels/grad.ts). Windows of
// neighbouring outputs may overlap, so a task owns whole images along height and width: task t =
// (batch element, block of `cb` channels), which it zeroes and then adds each output's gradient
// into, outputs in row-major order. Channels never mix, so any block size gives the same bits.
#include "common.h"
#include "window.h"

// Zeroes channels [k0, k1) of every pixel of an image of `pixels` pixels with c channels.
static void zero_channels(float* image, int pixels, int c, int k0, int k1) {
  if (k0 == 0 && k1 == c) {
    memset(image, 0, (size_t)pixels * c * 4);
    return;
  }
  for (int p = 0; p < pixels; p++) memset(image + (size_t)p * c + k0, 0, (size_t)(k1 - k0) * 4);
}

// args: x, grad, dx, cb, ConvGeom. Each output's gradient goes to the first maximum of its window in
// row-major order, as TensorFlow's CPU kernel picks it: a later tap wins only when strictly
// greater, so a NaN that comes first keeps the gradient and a later NaN never takes it.
EXPORT("task_max_pool_grad") void task_max_pool_grad(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  const float* x = PTR(const float, args, ARG0);
  const float* grad = PTR(const float, args, ARG0 + 1);
  float* dx = PTR(float, args, ARG0 + 2);
  int cb = args[ARG0 + 3];
  const ConvGeom* g = (const ConvGeom*)(args + ARG0 + 4);
  int c = g->in_c, blocks = (c + cb - 1) / cb;
  size_t image = (size_t)g->in_h * g->in_w * c;
  FOR_EACH_TASK(t, args) {
    int b = t / blocks, k0 = t % blocks * cb, k1 = MIN(c, k0 + cb);
    const float* xi = x + b * image;
    float* di = dx + b * image;
    zero_channels(di, g->in_h * g->in_w, c, k0, k1);
    const float* gi = grad + (size_t)b * g->out_h * g->out_w * c;
    for (int oh = 0; oh < g->out_h; oh++) {
      int h0 = oh * g->stride_h - g->pad_top;
      int fh0 = MAX(0, -h0), fh1 = MIN(g->filter_h, g->in_h - h0);
      for (int ow = 0; ow < g->out_w; ow++, gi += c) {
        int w0 = ow * g->stride_w - g->pad_left;
        int fw0 = MAX(0, -w0), fw1 = MIN(g->filter_w, g->in_w - w0);
        if (fh0 >= fh1 || fw0 >= fw1) continue;
        // Four channels at a time: the best value and its tap's offset per lane, replaced only
        // where a later tap is strictly greater (f32x4.gt is false for NaN either side).
        size_t first = ((size_t)(h0 + fh0) * g->in_w + (w0 + fw0)) * c;
        int k = k0;
        for (; k + 4 <= k1; k += 4) {
          v128_t best = wasm_v128_load(xi + first + k);
          v128_t at = wasm_i32x4_splat((int32_t)first);
          for (int fh = fh0; fh < fh1; fh++) {
            for (int fw = fw0; fw < fw1; fw++) {
              size_t i = ((size_t)(h0 + fh) * g->in_w + (w0 + fw)) * c;
              v128_t v = wasm_v128_load(xi + i + k);
              v128_t gt = wasm_f32x4_gt(v, best);
              best = wasm_v128_bitselect(v, best, gt);
              at = wasm_v128_bitselect(wasm_i32x4_splat((int32_t)i), at, gt);
            }
          }
          di[(size_t)wasm_i32x4_extract_lane(at, 0) + k] += gi[k];
          di[(size_t)wasm_i32x4_extract_lane(at, 1) + k + 1] += gi[k + 1];
          di[(size_t)wasm_i32x4_extract_lane(at, 2) + k + 2] += gi[k + 2];
          di[(size_t)wasm_i32x4_extract_lane(at, 3) + k + 3] += gi[k + 3];
        }
        for (; k < k1; k++) {
          size_t best = first + k;
          for (int fh = fh0; fh < fh1; fh++) {
            for (int fw = fw0; fw < fw1; fw++) {
              size_t i = ((size_t)(h0 + fh) * g->in_w + (w0 + fw)) * c + k;
              if (xi[i] > xi[best]) best = i;
            }
          }
          di[best] += gi[k];
        }
      }
    }
  }
}

// args: grad, dx, cb, ConvGeom. Each output's gradient, divided by the count of its window's real
// elements, is added to each of them.
EXPORT("task_avg_pool_grad") void task_avg_pool_grad(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  const float* grad = PTR(const float, args, ARG0);
  float* dx = PTR(float, args, ARG0 + 1);
  int cb = args[ARG0 + 2];
  const ConvGeom* g = (const ConvGeom*)(args + ARG0 + 3);
  int c = g->in_c, blocks = (c + cb - 1) / cb;
  size_t image = (size_t)g->in_h * g->in_w * c;
  FOR_EACH_TASK(t, args) {
    int b = t / blocks, k0 = t % blocks * cb, k1 = MIN(c, k0 + cb);
    float* di = dx + b * image;
    zero_channels(di, g->in_h * g->in_w, c, k0, k1);
    const float* gi = grad + (size_t)b * g->out_h * g->out_w * c;
    for (int oh = 0; oh < g->out_h; oh++) {
      int h0 = oh * g->stride_h - g->pad_top;
      int fh0 = MAX(0, -h0), fh1 = MIN(g->filter_h, g->in_h - h0);
      for (int ow = 0; ow < g->out_w; ow++, gi += c) {
        int w0 = ow * g->stride_w - g->pad_left;
        int fw0 = MAX(0, -w0), fw1 = MIN(g->filter_w, g->in_w - w0);
        if (fh0 >= fh1 || fw0 >= fw1) continue;
        float count = (float)((fh1 - fh0) * (fw1 - fw0));
        for (int fh = fh0; fh < fh1; fh++) {
          for (int fw = fw0; fw < fw1; fw++) {
            float* d = di + ((size_t)(h0 + fh) * g->in_w + (w0 + fw)) * c;
            for (int k = k0; k < k1; k++) d[k] += gi[k] / count;
          }
        }
      }
    }
  }
}
