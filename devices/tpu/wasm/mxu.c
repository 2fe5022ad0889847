// The TPU emulator's matrix unit, for the host: C[m,n] (+)= A[m,k] @ B[k,n] with the MXU's
// summation order. Each output sums its products in float32, in k order, over one K-tile of
// `kt` rows (the systolic array's height) starting from zero, and each tile's partial sum is
// then added to the accumulator C: acc = acc + tile. A and B hold bfloat16 values widened to
// float32, so every product is exact and only the additions round. No fused multiply-add:
// wasm SIMD has none, and the hardware rounds each addition.
#include <wasm_simd128.h>

#define NR 8 // columns per register block (two f32x4)

// Packs rows [k0, k1) of B (k x n, row-major) into panels of NR columns: panel p holds
// B[k][p*NR .. p*NR+NR) contiguously for k in the tile; columns past n are zero.
static void pack_b(const float* b, float* bp, int n, int k0, int k1) {
  int panels = (n + NR - 1) / NR;
  int rows = k1 - k0;
  for (int p = 0; p < panels; p++) {
    float* dst = bp + p * rows * NR;
    for (int kk = k0; kk < k1; kk++, dst += NR) {
      const float* src = b + kk * n + p * NR;
      int cols = n - p * NR < NR ? n - p * NR : NR;
      for (int j = 0; j < NR; j++) dst[j] = j < cols ? src[j] : 0.0f;
    }
  }
}

static inline void store_cols(float* c, v128_t lo, v128_t hi, int cols) {
  if (cols == NR) {
    wasm_v128_store(c, wasm_f32x4_add(wasm_v128_load(c), lo));
    wasm_v128_store(c + 4, wasm_f32x4_add(wasm_v128_load(c + 4), hi));
    return;
  }
  float t[NR];
  wasm_v128_store(t, lo);
  wasm_v128_store(t + 4, hi);
  for (int j = 0; j < cols; j++) c[j] = c[j] + t[j];
}

// Four rows of A against one panel: 8 accumulators of 4 lanes.
static void block4(const float* a, int k, const float* bp, int rows, float* c, int n, int cols) {
  v128_t p00 = wasm_f32x4_splat(0), p01 = p00, p10 = p00, p11 = p00;
  v128_t p20 = p00, p21 = p00, p30 = p00, p31 = p00;
  const float* a0 = a;
  const float* a1 = a + k;
  const float* a2 = a + 2 * k;
  const float* a3 = a + 3 * k;
  for (int kk = 0; kk < rows; kk++, bp += NR) {
    v128_t b0 = wasm_v128_load(bp), b1 = wasm_v128_load(bp + 4);
    v128_t x = wasm_f32x4_splat(a0[kk]);
    p00 = wasm_f32x4_add(p00, wasm_f32x4_mul(x, b0));
    p01 = wasm_f32x4_add(p01, wasm_f32x4_mul(x, b1));
    x = wasm_f32x4_splat(a1[kk]);
    p10 = wasm_f32x4_add(p10, wasm_f32x4_mul(x, b0));
    p11 = wasm_f32x4_add(p11, wasm_f32x4_mul(x, b1));
    x = wasm_f32x4_splat(a2[kk]);
    p20 = wasm_f32x4_add(p20, wasm_f32x4_mul(x, b0));
    p21 = wasm_f32x4_add(p21, wasm_f32x4_mul(x, b1));
    x = wasm_f32x4_splat(a3[kk]);
    p30 = wasm_f32x4_add(p30, wasm_f32x4_mul(x, b0));
    p31 = wasm_f32x4_add(p31, wasm_f32x4_mul(x, b1));
  }
  store_cols(c, p00, p01, cols);
  store_cols(c + n, p10, p11, cols);
  store_cols(c + 2 * n, p20, p21, cols);
  store_cols(c + 3 * n, p30, p31, cols);
}

static void block1(const float* a, const float* bp, int rows, float* c, int cols) {
  v128_t p0 = wasm_f32x4_splat(0), p1 = p0;
  for (int kk = 0; kk < rows; kk++, bp += NR) {
    v128_t x = wasm_f32x4_splat(a[kk]);
    p0 = wasm_f32x4_add(p0, wasm_f32x4_mul(x, wasm_v128_load(bp)));
    p1 = wasm_f32x4_add(p1, wasm_f32x4_mul(x, wasm_v128_load(bp + 4)));
  }
  store_cols(c, p0, p1, cols);
}

// C += A @ B in the MXU's order. `bp` is scratch for one packed K-tile of B:
// kt * ceil(n / 8) * 8 floats. C must hold the accumulators' starting values (zeros).
__attribute__((export_name("mxu_matmul")))
void mxu_matmul(const float* a, const float* b, float* c, float* bp, int m, int k, int n, int kt) {
  int panels = (n + NR - 1) / NR;
  for (int k0 = 0; k0 < k; k0 += kt) {
    int k1 = k0 + kt < k ? k0 + kt : k;
    int rows = k1 - k0;
    pack_b(b, bp, n, k0, k1);
    // A row block of 64 rows stays in cache while every panel passes it.
    for (int i0 = 0; i0 < m; i0 += 64) {
      int i1 = i0 + 64 < m ? i0 + 64 : m;
      for (int p = 0; p < panels; p++) {
        int cols = n - p * NR < NR ? n - p * NR : NR;
        const float* panel = bp + p * rows * NR;
        int i = i0;
        for (; i + 4 <= i1; i += 4) block4(a + i * k + k0, k, panel, rows, c + i * n + p * NR, n, cols);
        for (; i < i1; i++) block1(a + i * k + k0, panel, rows, c + i * n + p * NR, cols);
      }
    }
  }
}
