// Direct window kernels over NHWC images: DepthwiseConv2dNative, MaxPool and AvgPool. Channels
// are innermost, so the SIMD lanes run along channels and every tap is a contiguous load.
// A task is one output row (b, oh).
#include "common.h"
#include "dtypes.h"
#include "window.h"
#include "epilogue.h"

// Output columns [ow0, ow1) whose taps along width all fall inside the image: the border columns
// check bounds per tap, the interior does not.
static void interior(const ConvGeom* g, int* ow0, int* ow1) {
  int span = (g->filter_w - 1) * g->dilation_w;
  *ow0 = MIN(g->out_w, (g->pad_left + g->stride_w - 1) / g->stride_w);
  int last = g->in_w - 1 - span + g->pad_left; // ow * stride_w <= last
  *ow1 = last < 0 ? *ow0 : MAX(*ow0, MIN(g->out_w, last / g->stride_w + 1));
}

#define MAX_TAPS 64

// Four pixels x 8 channels a pass with relaxed multiply-adds (conv_6x8.wat, written by
// kernels_wasm/gen_gemm_wat.ts): channels [k0, k1) as byte offsets, taps as byte offsets from
// base and filter addresses, the fused bias (0: none) and activation as depthwise_pixels applies
// them. Which outputs it computes depends on the geometry alone (interior pixels in fours from
// the first, 8-channel steps from channel 0), so results do not depend on the thread count.
__attribute__((import_module("conv"), import_name("sdw_4x8"))) void sdw_4x8(
    int n, const int32_t* offset_bytes, const float* const* filters, const float* base,
    int step_bytes, float* out, int ostep_bytes, int k0_bytes, int k1_bytes, const float* bias,
    int act);

// The taps of output row oh that fall inside the image vertically: their offsets (floats) from
// the window's top-left input pixel, their filter rows and their filter columns. Every pixel of
// the row shares them; border pixels drop those outside the image along the width.
static int row_taps(const ConvGeom* g, const float* f, int oh, int offsets[MAX_TAPS],
                    const float* filters[MAX_TAPS], int columns[MAX_TAPS]) {
  int n = 0, c = g->in_c;
  for (int fh = 0; fh < g->filter_h; fh++) {
    int ih = oh * g->stride_h - g->pad_top + fh * g->dilation_h;
    if (ih < 0 || ih >= g->in_h) continue;
    for (int fw = 0; fw < g->filter_w; fw++) {
      offsets[n] = (fh * g->dilation_h * g->in_w + fw * g->dilation_w) * c;
      columns[n] = fw;
      filters[n++] = f + (size_t)(fh * g->filter_w + fw) * c;
    }
  }
  return n;
}

#define MAC(acc, x, f) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(x, f))

// A finished output (a vector, or one float) with the fused epilogue of epilogue.h's
// fused_activation (-1: none): + bias, then the activation, rounded as epilogue_block does.
INLINE v128_t finish(v128_t v, const float* bias, int act) {
  return act < 0 ? v : fused_act4(wasm_f32x4_add(v, wasm_v128_load(bias)), act);
}
INLINE float finish1(float y, const float* bias, int act) {
  if (act < 0) return y;
  y += *bias;
  if (act != ACT_NONE) y = y > 0 || y != y ? y : 0;
  return act == ACT_RELU6 && y > 6 ? 6 : y;
}

// P adjacent output pixels (P = 1, 2 or 4, a constant once inlined) of multiplier 1, channels
// [c0, c1): pixel q's tap t reads x at base + q * step + offsets[t]; out[q * c + k] = Σ_t x f,
// summed from 0 in tap order. Each filter vector loaded serves the P pixels (P = 4: eight
// accumulators and two filter vectors fit x86's sixteen vector registers; its 8-channel steps
// run in sdw_4x8 with relaxed multiply-adds). Which pixels and channels take which path depends
// on the geometry alone (channel blocks start at multiples of 8), so results do not depend on
// how a row is cut or on the thread count.
INLINE void depthwise_pixels(int P, const float* base, int step, int n, const int* offsets,
                             const float* const* filters, float* out, int c, int c0, int c1,
                             const float* bias, int act, const int32_t* offset_bytes) {
  int k = c0;
  if (P == 4 && n > 0 && c1 - c0 >= 8) {
    int k8 = c0 + (c1 - c0) / 8 * 8;
    sdw_4x8(n, offset_bytes, filters, base, step * 4, out, c * 4, c0 * 4, k8 * 4,
            act >= 0 ? bias : 0, act > 0 ? act : 0);
    k = k8;
  }
  for (; k + 8 <= c1; k += 8) {
    v128_t lo[4], hi[4];
    for (int q = 0; q < P; q++) lo[q] = hi[q] = wasm_f32x4_splat(0);
    for (int t = 0; t < n; t++) {
      const float *x = base + offsets[t] + k, *fp = filters[t] + k;
      v128_t f0 = wasm_v128_load(fp), f1 = wasm_v128_load(fp + 4);
      for (int q = 0; q < P; q++) {
        MAC(lo[q], wasm_v128_load(x + q * step), f0);
        MAC(hi[q], wasm_v128_load(x + q * step + 4), f1);
      }
    }
    for (int q = 0; q < P; q++) {
      wasm_v128_store(out + q * c + k, finish(lo[q], bias + k, act));
      wasm_v128_store(out + q * c + k + 4, finish(hi[q], bias + k + 4, act));
    }
  }
  if (k + 4 <= c1) {
    v128_t acc[4];
    for (int q = 0; q < P; q++) acc[q] = wasm_f32x4_splat(0);
    for (int t = 0; t < n; t++) {
      v128_t f0 = wasm_v128_load(filters[t] + k);
      for (int q = 0; q < P; q++) MAC(acc[q], wasm_v128_load(base + offsets[t] + k + q * step), f0);
    }
    for (int q = 0; q < P; q++) wasm_v128_store(out + q * c + k, finish(acc[q], bias + k, act));
    k += 4;
  }
  for (; k < c1; k++) {
    for (int q = 0; q < P; q++) {
      float a = 0;
      for (int t = 0; t < n; t++) a += base[offsets[t] + q * step + k] * filters[t][k];
      out[q * c + k] = finish1(a, bias + k, act);
    }
  }
}

// Output row oh (multiplier 1), channels [c0, c1): the interior pixels [ow0, ow1) four, two or
// one at a time with the row's taps; each border pixel with those of its taps inside the image
// along the width (padding taps are skipped, see skipsPaddedTaps), also in SIMD: with 7 or 14
// pixels a row, the two border pixels are a sixth to a third of the work.
// The fused epilogue (bias, act >= 0) is applied as each output is stored.
static void depthwise_row(const ConvGeom* g, const float* image, float* row, int oh, int ow0,
                          int ow1, int n, const int* offsets, const float* const* filters,
                          const int* columns, int c0, int c1, const float* bias, int act) {
  int c = g->in_c, step = g->stride_w * c;
  const float* top = image + ((ptrdiff_t)(oh * g->stride_h - g->pad_top) * g->in_w - g->pad_left) * c;
  int32_t bytes[MAX_TAPS];
  for (int t = 0; t < n; t++) bytes[t] = offsets[t] * 4;
  for (int ow = 0; ow < g->out_w;) {
    const float* base = top + (ptrdiff_t)ow * step;
    float* o = row + (size_t)ow * c;
    if (ow >= ow0 && ow < ow1) {
      if (ow + 4 <= ow1) {
        depthwise_pixels(4, base, step, n, offsets, filters, o, c, c0, c1, bias, act, bytes);
        ow += 4;
      } else if (ow + 2 <= ow1) {
        depthwise_pixels(2, base, step, n, offsets, filters, o, c, c0, c1, bias, act, 0);
        ow += 2;
      } else {
        depthwise_pixels(1, base, step, n, offsets, filters, o, c, c0, c1, bias, act, 0);
        ow++;
      }
      continue;
    }
    int iw0 = ow * g->stride_w - g->pad_left, m = 0;
    int inside[MAX_TAPS];
    const float* taps[MAX_TAPS];
    for (int t = 0; t < n; t++) {
      int iw = iw0 + columns[t] * g->dilation_w;
      if (iw < 0 || iw >= g->in_w) continue;
      inside[m] = offsets[t];
      taps[m++] = filters[t];
    }
    depthwise_pixels(1, base, step, m, inside, taps, o, c, c0, c1, bias, act, 0);
    ow++;
  }
}

// Any multiplier: output channel oc reads input channel oc / m; filter [fh, fw, c * m + j].
static void depthwise_pixel_general(const ConvGeom* g, const float* x, const float* f, float* out,
                                    int oh, int ow, int m) {
  int oc_total = g->in_c * m;
  for (int oc = 0; oc < oc_total; oc++) out[oc] = 0;
  for (int fh = 0; fh < g->filter_h; fh++) {
    int ih = oh * g->stride_h - g->pad_top + fh * g->dilation_h;
    if (ih < 0 || ih >= g->in_h) continue;
    for (int fw = 0; fw < g->filter_w; fw++) {
      int iw = ow * g->stride_w - g->pad_left + fw * g->dilation_w;
      if (iw < 0 || iw >= g->in_w) continue;
      const float* xp = x + ((size_t)ih * g->in_w + iw) * g->in_c;
      const float* fp = f + (size_t)(fh * g->filter_w + fw) * oc_total;
      for (int oc = 0; oc < oc_total; oc++) out[oc] += xp[oc / m] * fp[oc];
    }
  }
}

// args: x, filter, out, multiplier, ConvGeom (14 words), Epilogue (3 words; params 0 for none),
// channels per task. Task t is output row (t / blocks) / out_h, (t / blocks) % out_h, channels
// [(t % blocks) * cb, + cb) of it (blocks = ceil(channels / cb); a multiplier other than 1
// takes whole rows); a fused op's epilogue is applied as outputs are stored (bias and Relu or
// Relu6) or runs on each block finished.
EXPORT("task_depthwise") void task_depthwise(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  const float* x = PTR(const float, args, ARG0);
  const float* f = PTR(const float, args, ARG0 + 1);
  float* out = PTR(float, args, ARG0 + 2);
  int m = args[ARG0 + 3];
  const ConvGeom* g = (const ConvGeom*)(args + ARG0 + 4);
  const Epilogue* epi = (const Epilogue*)(args + ARG0 + 4 + 14);
  int ow0, ow1, oc = g->in_c * m;
  int fast = m == 1 && g->filter_h * g->filter_w <= MAX_TAPS;
  int cb = fast ? args[ARG0 + 4 + 14 + 3] : oc, blocks = oc == 0 ? 1 : (oc + cb - 1) / cb;
  int act = fused_activation(epi);
  interior(g, &ow0, &ow1);
  FOR_EACH_TASK(t, args) {
    int r = t / blocks, c0 = t % blocks * cb, c1 = MIN(oc, c0 + cb);
    int b = r / g->out_h, oh = r % g->out_h;
    const float* image = x + (size_t)b * g->in_h * g->in_w * g->in_c;
    float* row = out + (size_t)r * g->out_w * oc;
    if (fast) {
      int offsets[MAX_TAPS], columns[MAX_TAPS];
      const float* filters[MAX_TAPS];
      int n = row_taps(g, f, oh, offsets, filters, columns);
      depthwise_row(g, image, row, oh, ow0, ow1, n, offsets, filters, columns, c0, c1,
                    epi->params, act);
    } else {
      for (int ow = 0; ow < g->out_w; ow++) {
        depthwise_pixel_general(g, image, f, row + (size_t)ow * oc, oh, ow, m);
      }
    }
    if (epi->params && (!fast || act < 0)) {
      epilogue_block(row, oc, g->out_w, c0, c1, epi->params, oc, epi->act, epi->norm);
    }
  }
}

// A window with no element (an empty input dim) gives the type's lowest value, as TensorFlow's
// max pooling starts from lowest().
#define MAX_POOL_SCALAR(T, LOWEST)                                                           \
  {                                                                                          \
    const T* xp = (const T*)x;                                                               \
    T* op = (T*)o;                                                                           \
    for (int k = 0; k < c; k++) {                                                            \
      T best = LOWEST;                                                                       \
      for (int fh = fh0; fh < fh1; fh++)                                                     \
        for (int fw = fw0; fw < fw1; fw++) {                                                 \
          T v = xp[((size_t)(h0 + fh) * g->in_w + (w0 + fw)) * c + k];                       \
          if (v > best) best = v;                                                            \
        }                                                                                    \
      op[k] = best;                                                                          \
    }                                                                                        \
  }

// args: x, out, dtype, average (0 max, 1 average), ConvGeom (14 words; filter = ksize).
// Padding taps are skipped: MaxPool ignores them, AvgPool divides by the real taps only.
EXPORT("task_pool") void task_pool(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  const uint8_t* in = PTR(const uint8_t, args, ARG0);
  uint8_t* out = PTR(uint8_t, args, ARG0 + 1);
  int dt = args[ARG0 + 2], average = args[ARG0 + 3];
  const ConvGeom* g = (const ConvGeom*)(args + ARG0 + 4);
  int c = g->in_c, size = DTYPE_SIZE[dt];
  FOR_EACH_TASK(t, args) {
    int b = t / g->out_h, oh = t % g->out_h;
    const uint8_t* x = in + (size_t)b * g->in_h * g->in_w * c * size;
    int h0 = oh * g->stride_h - g->pad_top;
    int fh0 = MAX(0, -h0), fh1 = MIN(g->filter_h, g->in_h - h0);
    for (int ow = 0; ow < g->out_w; ow++) {
      int w0 = ow * g->stride_w - g->pad_left;
      int fw0 = MAX(0, -w0), fw1 = MIN(g->filter_w, g->in_w - w0);
      uint8_t* o = out + ((size_t)t * g->out_w + ow) * c * size;
      if (average) {
        const float* xp = (const float*)x;
        double count = (double)(fh1 - fh0) * (fw1 - fw0);
        for (int k = 0; k < c; k++) {
          double s = 0;
          for (int fh = fh0; fh < fh1; fh++)
            for (int fw = fw0; fw < fw1; fw++) s += xp[((size_t)(h0 + fh) * g->in_w + (w0 + fw)) * c + k];
          ((float*)o)[k] = (float)(s / count);
        }
      } else if (dt == DT_FLOAT32) {
        const float* xp = (const float*)x;
        int k = 0;
        for (; k + 4 <= c; k += 4) {
          v128_t m = wasm_f32x4_splat(-__builtin_inff());
          for (int fh = fh0; fh < fh1; fh++)
            for (int fw = fw0; fw < fw1; fw++)
              m = wasm_f32x4_max(m, wasm_v128_load(xp + ((size_t)(h0 + fh) * g->in_w + (w0 + fw)) * c + k));
          wasm_v128_store((float*)o + k, m);
        }
        for (; k < c; k++) {
          float m = -__builtin_inff();
          for (int fh = fh0; fh < fh1; fh++)
            for (int fw = fw0; fw < fw1; fw++)
              m = __builtin_wasm_max_f32(m, xp[((size_t)(h0 + fh) * g->in_w + (w0 + fw)) * c + k]);
          ((float*)o)[k] = m;
        }
      } else if (dt == DT_INT32) {
        MAX_POOL_SCALAR(int32_t, INT32_MIN)
      } else {
        MAX_POOL_SCALAR(int64_t, INT64_MIN)
      }
    }
  }
}
