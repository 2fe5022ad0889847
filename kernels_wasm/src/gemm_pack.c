// Packing for the float32 GEMM: A into MR-row panels (from a matrix or im2col of an image) and B
// into NR-column panels. Packing costs O(mk + kn) against the O(mkn) product, but with small n
// (a convolution with 64 output channels) A's packing is a visible share, so the common
// contiguous case transposes 4x4 blocks with SIMD shuffles instead of moving single floats.
#include "gemm.h"

// Source rows for padding taps and for the rows past the end of the last panel.
static const float zeros[KC] __attribute__((aligned(16)));

// Interleaves MR rows of `len` contiguous floats: out[p * MR + r] = rows[r][p].
static void interleave_rows(const float* rows[MR], int len, float* out) {
  int p = 0;
  for (; p + 4 <= len; p += 4, out += 4 * MR) {
    v128_t v0 = wasm_v128_load(rows[0] + p), v1 = wasm_v128_load(rows[1] + p);
    v128_t v2 = wasm_v128_load(rows[2] + p), v3 = wasm_v128_load(rows[3] + p);
    v128_t v4 = wasm_v128_load(rows[4] + p), v5 = wasm_v128_load(rows[5] + p);
    v128_t t0 = wasm_i32x4_shuffle(v0, v1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(v0, v1, 2, 6, 3, 7);
    v128_t t2 = wasm_i32x4_shuffle(v2, v3, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(v2, v3, 2, 6, 3, 7);
    v128_t lo = wasm_i32x4_shuffle(v4, v5, 0, 4, 1, 5), hi = wasm_i32x4_shuffle(v4, v5, 2, 6, 3, 7);
    wasm_v128_store(out + 0, wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5));
    wasm_v128_store64_lane(out + 4, lo, 0);
    wasm_v128_store(out + 6, wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7));
    wasm_v128_store64_lane(out + 10, lo, 1);
    wasm_v128_store(out + 12, wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5));
    wasm_v128_store64_lane(out + 16, hi, 0);
    wasm_v128_store(out + 18, wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7));
    wasm_v128_store64_lane(out + 22, hi, 1);
  }
  for (; p < len; p++, out += MR) {
    for (int r = 0; r < MR; r++) out[r] = rows[r][p];
  }
}

static void pack_a_matrix(const ASource* s, int i0, int mc, int p0, int kc, float* ap) {
  for (int r0 = 0; r0 < mc; r0 += MR, ap += kc * MR) {
    int mr = MIN(MR, mc - r0);
    const float* base = s->a + (size_t)(i0 + r0) * s->rsa + (size_t)p0 * s->csa;
    if (s->csa == 1) {
      const float* rows[MR];
      for (int r = 0; r < MR; r++) rows[r] = r < mr ? base + (size_t)r * s->rsa : zeros;
      interleave_rows(rows, kc, ap);
    } else if (s->rsa == 1 && mr == MR) {
      // A transposed: the MR values of one column are contiguous.
      for (int p = 0; p < kc; p++) {
        const float* col = base + (size_t)p * s->csa;
        wasm_v128_store(ap + p * MR, wasm_v128_load(col));
        wasm_v128_store64_lane(ap + p * MR + 4, wasm_v128_load64_zero(col + 4), 0);
      }
    } else {
      for (int p = 0; p < kc; p++) {
        for (int r = 0; r < MR; r++) {
          ap[p * MR + r] = r < mr ? base[(size_t)r * s->rsa + (size_t)p * s->csa] : 0.f;
        }
      }
    }
  }
}

// Pixels follow each other along rows, so only the first needs divisions.
void panel_pixels(const ConvGeom* g, const float* a, int i0, int valid, int top[MR], int left[MR],
                  const float* image[MR]) {
  int ow = i0 % g->out_w, t = i0 / g->out_w, oh = t % g->out_h, b = t / g->out_h;
  for (int r = 0; r < MR; r++) {
    image[r] = r < valid ? a + (size_t)b * g->in_h * g->in_w * g->in_c : 0;
    top[r] = oh * g->stride_h - g->pad_top;
    left[r] = ow * g->stride_w - g->pad_left;
    if (++ow == g->out_w) {
      ow = 0;
      if (++oh == g->out_h) oh = 0, b++;
    }
  }
}

// Then each filter row's taps are filter_w * in_c contiguous floats for every pixel.
int panel_inside(const ConvGeom* g, const int top[MR], const int left[MR],
                 const float* const image[MR]) {
  if (g->dilation_w != 1) return 0;
  for (int r = 0; r < MR; r++) {
    if (!image[r] || top[r] < 0 || top[r] + (g->filter_h - 1) * g->dilation_h >= g->in_h ||
        left[r] < 0 || left[r] + g->filter_w > g->in_w) {
      return 0;
    }
  }
  return 1;
}

// im2col while packing: row i is output pixel (b, oh, ow); column p is tap (fh, fw) and input
// channel c, p = (fh * filter_w + fw) * in_c + c. Runs of channels are contiguous in the image,
// so each run is interleaved like matrix rows, with padding taps read from `zeros`. Panels whose
// windows all lie inside the image (nearly all of them) take runs of whole filter rows without
// per-tap checks: with few channels (an RGB input) the checks cost more than the copying.
static void pack_a_conv(const ASource* s, int i0, int mc, int p0, int kc, float* ap) {
  const ConvGeom* g = s->conv;
  int rows_total = g->batch * g->out_h * g->out_w;
  for (int r0 = 0; r0 < mc; r0 += MR, ap += kc * MR) {
    int top[MR], left[MR];
    const float* image[MR];
    int valid = MIN(MIN(MR, mc - r0), rows_total - (i0 + r0));
    panel_pixels(g, s->a, i0 + r0, valid, top, left, image);
    const float* rows[MR];
    if (panel_inside(g, top, left, image)) {
      int span = g->filter_w * g->in_c;
      for (int p = p0; p < p0 + kc;) {
        int fh = p / span, q = p % span, len = MIN(span - q, p0 + kc - p);
        for (int r = 0; r < MR; r++) {
          int ih = top[r] + fh * g->dilation_h;
          rows[r] = image[r] + ((size_t)ih * g->in_w + left[r]) * g->in_c + q;
        }
        interleave_rows(rows, len, ap + (p - p0) * MR);
        p += len;
      }
      continue;
    }
    for (int p = p0; p < p0 + kc;) {
      int tap = p / g->in_c, c = p % g->in_c;
      int fh = tap / g->filter_w, fw = tap % g->filter_w;
      // Undilated, the taps fw.. of one filter row are adjacent pixels: one run of (filter_w -
      // fw) * in_c floats when every row's window lies inside the image along the width.
      int wide = g->dilation_w == 1;
      for (int r = 0; r < MR && wide; r++) {
        int ih = top[r] + fh * g->dilation_h;
        if (!image[r] || ih < 0 || ih >= g->in_h) continue;
        wide = left[r] + fw >= 0 && left[r] + g->filter_w <= g->in_w;
      }
      int run = wide ? (g->filter_w - fw) * g->in_c - c : g->in_c - c;
      int len = MIN(run, p0 + kc - p);
      for (int r = 0; r < MR; r++) {
        rows[r] = zeros;
        if (!image[r]) continue;
        int ih = top[r] + fh * g->dilation_h, iw = left[r] + fw * g->dilation_w;
        if (ih < 0 || ih >= g->in_h || iw < 0 || iw >= g->in_w) continue;
        rows[r] = image[r] + ((size_t)ih * g->in_w + iw) * g->in_c + c;
      }
      interleave_rows(rows, len, ap + (p - p0) * MR);
      p += len;
    }
  }
}

// im2col transposed while packing (Conv2DBackpropFilter's A): row i is tap i = (fh * filter_w +
// fw) * in_c + c, column p is output pixel p = (b, oh, ow). A panel's MR taps are read for one
// pixel after another; where they are MR channels of one filter tap (most panels, with 6 or more
// channels) they are contiguous in the image, one bounds check and one 6-float load per pixel.
static void pack_a_conv_t(const ASource* s, int i0, int mc, int p0, int kc, float* ap) {
  const ConvGeom* g = s->conv;
  size_t image = (size_t)g->in_h * g->in_w * g->in_c;
  for (int r0 = 0; r0 < mc; r0 += MR, ap += kc * MR) {
    int rows = MIN(MR, mc - r0), dh[MR], dw[MR], ch[MR];
    for (int r = 0; r < MR; r++) {
      int t = r < rows ? i0 + r0 + r : i0 + r0, tap = t / g->in_c;
      ch[r] = t % g->in_c;
      dh[r] = (tap / g->filter_w) * g->dilation_h - g->pad_top;
      dw[r] = (tap % g->filter_w) * g->dilation_w - g->pad_left;
    }
    int run = rows == MR && ch[0] + MR <= g->in_c;
    int ow = p0 % g->out_w, rest = p0 / g->out_w, oh = rest % g->out_h, b = rest / g->out_h;
    float* o = ap;
    for (int p = 0; p < kc; p++, o += MR) {
      const float* img = s->a + (size_t)b * image;
      int bh = oh * g->stride_h, bw = ow * g->stride_w;
      if (run) {
        int ih = bh + dh[0], iw = bw + dw[0];
        if (ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w) {
          const float* src = img + ((size_t)ih * g->in_w + iw) * g->in_c + ch[0];
          wasm_v128_store(o, wasm_v128_load(src));
          wasm_v128_store64_lane(o + 4, wasm_v128_load64_zero(src + 4), 0);
        } else {
          wasm_v128_store(o, wasm_f32x4_splat(0));
          wasm_v128_store64_lane(o + 4, wasm_f32x4_splat(0), 0);
        }
      } else {
        for (int r = 0; r < MR; r++) {
          int ih = bh + dh[r], iw = bw + dw[r];
          o[r] = r < rows && ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w
                     ? img[((size_t)ih * g->in_w + iw) * g->in_c + ch[r]]
                     : 0.f;
        }
      }
      if (++ow == g->out_w) {
        ow = 0;
        if (++oh == g->out_h) oh = 0, b++;
      }
    }
  }
}

void pack_a(const ASource* src, int i0, int mc, int p0, int kc, float* ap) {
  if (src->conv && src->transposed) pack_a_conv_t(src, i0, mc, p0, kc, ap);
  else if (src->conv) pack_a_conv(src, i0, mc, p0, kc, ap);
  else pack_a_matrix(src, i0, mc, p0, kc, ap);
}

void pack_b(const float* b, int rsb, int csb, int k, int n, int q0, int q1, float* bp) {
  int np = round_up(n, NR);
  for (int p0 = 0; p0 < k; p0 += KC) {
    int kc = MIN(KC, k - p0);
    for (int q = q0; q < q1; q++) {
      int j = q * NR, nr = MIN(NR, n - j);
      float* out = bp + (size_t)p0 * np + (size_t)q * kc * NR;
      const float* src = b + (size_t)p0 * rsb + (size_t)j * csb;
      if (csb == 1 && nr == NR) {
        for (int p = 0; p < kc; p++, src += rsb, out += NR) {
          wasm_v128_store(out, wasm_v128_load(src));
          wasm_v128_store(out + 4, wasm_v128_load(src + 4));
        }
      } else {
        for (int p = 0; p < kc; p++, src += rsb, out += NR) {
          for (int t = 0; t < NR; t++) out[t] = t < nr ? src[(size_t)t * csb] : 0.f;
        }
      }
    }
  }
}

const float* b_panel(const BSource* s, int p0, int kc, int j, int* ldb_bytes) {
  if (s->bp) {
    *ldb_bytes = NR * 4;
    return s->bp + (size_t)p0 * round_up(s->n, NR) + (size_t)(j / NR) * kc * NR;
  }
  const float* src = s->b + (size_t)p0 * s->rsb + j;
  if (j + NR <= s->n) {
    *ldb_bytes = s->rsb * 4;
    return src;
  }
  int nr = s->n - j;
  for (int p = 0; p < kc; p++, src += s->rsb) {
    for (int t = 0; t < NR; t++) s->part[p * NR + t] = t < nr ? src[t] : 0.f;
  }
  *ldb_bytes = NR * 4;
  return s->part;
}
