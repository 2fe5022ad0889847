// Convolutions with few input channels (an RGB first layer) read A straight from the image
// instead of packing it. With 3 channels a filter row is only filter_w * 3 floats, and packing
// those short runs cost as much as the products (measured: 40% of a 224x224x3 3x3x32 stride-2
// Conv2D). A 6x8 tile whose six windows lie inside the image runs sconv_6x8 (conv_6x8.wat), which
// reads each row of A from the image one filter row (filter_w * in_c contiguous floats) at a
// time; the other tiles are packed as usual. The whole of k is one block (k <= KC), so B's
// panels are those of block 0. Which tiles go which way depends on the geometry alone,
// so results do not depend on the thread count.
#include "gemm.h"
#include "epilogue.h"

int conv_direct(const ConvGeom* g, int k) {
  return k <= KC && g->dilation_w == 1 && g->in_c <= DIRECT_MAX_C;
}

// Copies the top-left mr x nr of a tile computed into `tile` to columns j.. of the rows at crow,
// then applies the fused epilogue there (act >= 0).
static void store_tile(const float* tile, float* crow, int n, int mr, int j, int nr, int act,
                       const float* params) {
  for (int r = 0; r < mr; r++) memcpy(crow + (size_t)r * n + j, tile + r * NR, nr * 4);
  if (act >= 0) epilogue_block(crow, n, mr, j, j + nr, params, n, act, 0);
}

void conv_direct_block(const ASource* src, const BSource* bs, float* c, int n, int k, int i0, int i1,
                       int j0, int j1, float* ap, float* tile, int act, const float* params) {
  const ConvGeom* g = src->conv;
  int flags = act > 0 ? act << 1 : 0;
  int top[MR], left[MR];
  const float* image[MR];
  int seg = g->filter_w * g->in_c, seg_stride = g->dilation_h * g->in_w * g->in_c;
  for (int i = i0; i < i1; i += MR) {
    int mr = MIN(MR, i1 - i);
    panel_pixels(g, src->a, i, mr, top, left, image);
    float* crow = c + (size_t)i * n;
    if (panel_inside(g, top, left, image)) {
      int32_t rows[MR];
      for (int r = 0; r < MR; r++) {
        rows[r] = (int32_t)(uintptr_t)(image[r] + ((size_t)top[r] * g->in_w + left[r]) * g->in_c);
      }
      for (int j = j0; j < j1; j += NR) {
        int nr = MIN(NR, j1 - j), ldb;
        const float* b = b_panel(bs, 0, k, j, &ldb);
        if (nr == NR) {
          sconv_6x8(seg, g->filter_h, seg_stride * 4, rows, b, ldb, crow + j, n * 4, flags,
                    act >= 0 ? params + j : 0);
        } else {
          sconv_6x8(seg, g->filter_h, seg_stride * 4, rows, b, ldb, tile, NR * 4, 0, 0);
          store_tile(tile, crow, n, MR, j, nr, act, params);
        }
      }
      continue;
    }
    pack_a(src, i, mr, 0, k, ap);
    for (int j = j0; j < j1; j += NR) {
      int nr = MIN(NR, j1 - j), ldb;
      const float* b = b_panel(bs, 0, k, j, &ldb);
      if (mr == MR && nr == NR) {
        sgemm_6x8(k, ap, 0, b, ldb, crow + j, n * 4, flags, act >= 0 ? params + j : 0);
      } else {
        sgemm_6x8(k, ap, 0, b, ldb, tile, NR * 4, 0, 0);
        store_tile(tile, crow, n, mr, j, nr, act, params);
      }
    }
  }
}
