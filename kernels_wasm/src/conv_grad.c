// The backward convolutions (Conv2DBackpropInput/Filter and the depthwise pair) over NHWC images.
//
// Conv2D's gradients are GEMMs around the same im2col matrix the forward pass multiplies
// (kernels_wasm/kernels/conv_grad.ts launches them): the filter's gradient is im2col(x)^T · dy,
// packed from the image by gemm_pack.c; the input's is, for strides other than 1, dcol = dy ·
// filter^T followed by task_col2im, which gathers each input pixel's taps from dcol. Gathering
// (rather than scattering) gives each task its own output rows, so tasks never race and the
// order of every sum is fixed by the geometry alone, whatever the thread count.
//
// The depthwise pair is direct: few products per output, channels innermost.
#include "common.h"
#include "window.h"

// The output positions (o) whose window reads input position i at tap f: i = o * s - pad + f * d.
INLINE int tap_source(int i, int f, int s, int pad, int d, int n_out) {
  int num = i + pad - f * d;
  if (num < 0 || num % s != 0) return -1;
  int o = num / s;
  return o < n_out ? o : -1;
}

// args: col, dx, ConvGeom. Task t = input row (b, ih): dx[b, ih, iw, :] = Σ over the taps that
// read it of dcol[(b, oh, ow), (fh, fw, :)], taps in row-major order.
EXPORT("task_col2im") void task_col2im(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  const float* col = PTR(const float, args, ARG0);
  float* dx = PTR(float, args, ARG0 + 1);
  const ConvGeom* g = (const ConvGeom*)(args + ARG0 + 2);
  int c = g->in_c, k = g->filter_h * g->filter_w * c;
  FOR_EACH_TASK(t, args) {
    int b = t / g->in_h, ih = t % g->in_h;
    float* row = dx + (size_t)t * g->in_w * c;
    memset(row, 0, (size_t)g->in_w * c * 4);
    for (int fh = 0; fh < g->filter_h; fh++) {
      int oh = tap_source(ih, fh, g->stride_h, g->pad_top, g->dilation_h, g->out_h);
      if (oh < 0) continue;
      const float* orow = col + ((size_t)b * g->out_h + oh) * g->out_w * k;
      for (int iw = 0; iw < g->in_w; iw++) {
        float* o = row + (size_t)iw * c;
        for (int fw = 0; fw < g->filter_w; fw++) {
          int ow = tap_source(iw, fw, g->stride_w, g->pad_left, g->dilation_w, g->out_w);
          if (ow < 0) continue;
          const float* src = orow + (size_t)ow * k + (size_t)(fh * g->filter_w + fw) * c;
          for (int j = 0; j < c; j++) o[j] += src[j];
        }
      }
    }
  }
}

// args: dy, filter, dx, multiplier, ConvGeom (in_c input channels, in_c * multiplier out).
// Task t = input row (b, ih): dx[b, ih, iw, c] = Σ taps, m of dy[b, oh, ow, c * M + m] ·
// filter[fh, fw, c, m].
EXPORT("task_depthwise_grad_input") void task_depthwise_grad_input(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  const float* dy = PTR(const float, args, ARG0);
  const float* f = PTR(const float, args, ARG0 + 1);
  float* dx = PTR(float, args, ARG0 + 2);
  int mult = args[ARG0 + 3];
  const ConvGeom* g = (const ConvGeom*)(args + ARG0 + 4);
  int c = g->in_c, oc = c * mult;
  FOR_EACH_TASK(t, args) {
    int b = t / g->in_h, ih = t % g->in_h;
    float* row = dx + (size_t)t * g->in_w * c;
    memset(row, 0, (size_t)g->in_w * c * 4);
    for (int fh = 0; fh < g->filter_h; fh++) {
      int oh = tap_source(ih, fh, g->stride_h, g->pad_top, g->dilation_h, g->out_h);
      if (oh < 0) continue;
      const float* drow = dy + ((size_t)b * g->out_h + oh) * g->out_w * oc;
      for (int iw = 0; iw < g->in_w; iw++) {
        float* o = row + (size_t)iw * c;
        for (int fw = 0; fw < g->filter_w; fw++) {
          int ow = tap_source(iw, fw, g->stride_w, g->pad_left, g->dilation_w, g->out_w);
          if (ow < 0) continue;
          const float* d = drow + (size_t)ow * oc;
          const float* fp = f + (size_t)(fh * g->filter_w + fw) * oc;
          if (mult == 1) {
            for (int j = 0; j < c; j++) o[j] += d[j] * fp[j];
          } else {
            for (int j = 0; j < c; j++) {
              float s = 0;
              for (int m = 0; m < mult; m++) s += d[j * mult + m] * fp[j * mult + m];
              o[j] += s;
            }
          }
        }
      }
    }
  }
}

// args: x, dy, df, multiplier, ConvGeom. Task t = filter tap (fh, fw): df[fh, fw, c, m] = Σ over
// every window (b, oh, ow in order) whose tap reads inside the image of x[.., c] · dy[.., c * M + m].
EXPORT("task_depthwise_grad_filter") void task_depthwise_grad_filter(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  const float* x = PTR(const float, args, ARG0);
  const float* dy = PTR(const float, args, ARG0 + 1);
  float* df = PTR(float, args, ARG0 + 2);
  int mult = args[ARG0 + 3];
  const ConvGeom* g = (const ConvGeom*)(args + ARG0 + 4);
  int c = g->in_c, oc = c * mult;
  FOR_EACH_TASK(t, args) {
    int fh = t / g->filter_w, fw = t % g->filter_w;
    float* acc = df + (size_t)t * oc; // this task's own filter row
    memset(acc, 0, (size_t)oc * 4);
    for (int b = 0; b < g->batch; b++) {
      for (int oh = 0; oh < g->out_h; oh++) {
        int ih = oh * g->stride_h - g->pad_top + fh * g->dilation_h;
        if (ih < 0 || ih >= g->in_h) continue;
        const float* xrow = x + ((size_t)b * g->in_h + ih) * g->in_w * c;
        const float* drow = dy + ((size_t)b * g->out_h + oh) * g->out_w * oc;
        for (int ow = 0; ow < g->out_w; ow++) {
          int iw = ow * g->stride_w - g->pad_left + fw * g->dilation_w;
          if (iw < 0 || iw >= g->in_w) continue;
          const float* xp = xrow + (size_t)iw * c;
          const float* d = drow + (size_t)ow * oc;
          if (mult == 1) {
            for (int j = 0; j < oc; j++) acc[j] += xp[j] * d[j];
          } else {
            for (int j = 0; j < oc; j++) acc[j] += xp[j / mult] * d[j];
          }
        }
      }
    }
  }
}

// args: x, dy, df, out_c, ConvGeom. Conv2DBackpropFilter for few input channels (an image's
// first layer), where im2col rows are a few floats per tap and packing them would cost more than
// the products: task t = filter tap (fh, fw), which owns df[fh, fw, :, :] and adds x[.., c] ·
// dy[.., :] over every window (b, oh, ow in order) whose tap reads inside the image. The output
// channels run along the SIMD lanes.
EXPORT("task_conv_grad_filter_direct") void task_conv_grad_filter_direct(word* args, int tid,
                                                                         int nt) {
  (void)tid;
  (void)nt;
  const float* x = PTR(const float, args, ARG0);
  const float* dy = PTR(const float, args, ARG0 + 1);
  float* df = PTR(float, args, ARG0 + 2);
  int oc = args[ARG0 + 3];
  const ConvGeom* g = (const ConvGeom*)(args + ARG0 + 4);
  int c = g->in_c;
  FOR_EACH_TASK(t, args) {
    int fh = t / g->filter_w, fw = t % g->filter_w;
    float* acc = df + (size_t)t * c * oc;
    memset(acc, 0, (size_t)c * oc * 4);
    for (int b = 0; b < g->batch; b++) {
      for (int oh = 0; oh < g->out_h; oh++) {
        int ih = oh * g->stride_h - g->pad_top + fh * g->dilation_h;
        if (ih < 0 || ih >= g->in_h) continue;
        const float* xrow = x + ((size_t)b * g->in_h + ih) * g->in_w * c;
        const float* drow = dy + ((size_t)b * g->out_h + oh) * g->out_w * oc;
        for (int ow = 0; ow < g->out_w; ow++) {
          int iw = ow * g->stride_w - g->pad_left + fw * g->dilation_w;
          if (iw < 0 || iw >= g->in_w) continue;
          const float* xp = xrow + (size_t)iw * c;
          const float* d = drow + (size_t)ow * oc;
          for (int ci = 0; ci < c; ci++) {
            float* a = acc + (size_t)ci * oc;
            v128_t xv = wasm_f32x4_splat(xp[ci]);
            int o = 0;
            for (; o + 4 <= oc; o += 4) {
              v128_t s = wasm_f32x4_add(wasm_v128_load(a + o),
                                        wasm_f32x4_mul(xv, wasm_v128_load(d + o)));
              wasm_v128_store(a + o, s);
            }
            for (; o < oc; o++) a[o] += xp[ci] * d[o];
          }
        }
      }
    }
  }
}
