// The fused ops' epilogue (epilogue.h: what follows a contraction, in place on a block of its
// float32 output, called by gemm.c and window.c), and the image resizes (core/ops/resize.ts),
// which read their source tables from the TypeScript side (resizePlan) so no coordinate is
// derived twice.
#include "epilogue.h"
#include "simd_math.h"
#include <math.h>

// Relu keeps NaN (TensorFlow's max(x, 0)) and gives +0 for -0, as the reference does.
INLINE v128_t relu4(v128_t x) {
  v128_t keep = wasm_v128_or(wasm_f32x4_gt(x, wasm_f32x4_splat(0)), wasm_f32x4_ne(x, x));
  return wasm_v128_and(x, keep);
}

INLINE float act1(float y, int act, float alpha) {
  switch (act) {
    case ACT_RELU:
      return y > 0 || y != y ? y : 0;
    case ACT_RELU6:
      y = y > 0 || y != y ? y : 0;
      return y > 6 ? 6 : y;
    case ACT_ELU:
      return y > 0 ? y : (float)expm1(y);
    case ACT_LEAKY:
    case ACT_PRELU:
      return y < 0 ? alpha * y : y;
    default:
      return y;
  }
}

// Rows of y (ldy floats apart), columns [j0, j1) = channels j0.., rewritten in place: y = act((y
// + shift) · scale + offset) with params float32 [4, c] (shift, scale, offset, alpha); norm 0
// skips the multiply-add (BiasAdd). Each step rounds to float32 as the unfused ops do.
void epilogue_block(float* out, int ldy, int rows, int j0, int j1, const float* p, int c, int act,
                    int norm) {
  const float *shift = p, *scale = p + c, *offset = p + 2 * c, *alpha = p + 3 * c;
  ExpConstants k = exp_constants();
  v128_t zero = wasm_f32x4_splat(0), six = wasm_f32x4_splat(6);
  int vec = act != ACT_ELU;
  for (int r = 0; r < rows; r++) {
    float* y = out + (size_t)r * ldy;
    int j = j0;
    if (vec) {
      for (; j + 4 <= j1; j += 4) {
        v128_t v = wasm_f32x4_add(wasm_v128_load(y + j), wasm_v128_load(shift + j));
        if (norm) {
          v = wasm_f32x4_add(wasm_f32x4_mul(v, wasm_v128_load(scale + j)),
                             wasm_v128_load(offset + j));
        }
        switch (act) {
          case ACT_RELU:
            v = relu4(v);
            break;
          case ACT_RELU6:
            v = relu4(v);
            v = wasm_v128_bitselect(six, v, wasm_f32x4_gt(v, six));
            break;
          case ACT_LEAKY:
          case ACT_PRELU:
            v = wasm_v128_bitselect(wasm_f32x4_mul(v, wasm_v128_load(alpha + j)), v,
                                    wasm_f32x4_lt(v, zero));
            break;
          case ACT_SIGMOID:
            v = sigmoid_f32x4(v, &k);
            break;
          case ACT_TANH:
            v = tanh_f32x4(v, &k);
            break;
          default:
            break;
        }
        wasm_v128_store(y + j, v);
      }
    }
    for (; j < j1; j++) {
      float v = y[j] + shift[j];
      if (norm) v = v * scale[j] + offset[j];
      if (act == ACT_SIGMOID || act == ACT_TANH) {
        v128_t w = wasm_f32x4_splat(v);
        w = act == ACT_SIGMOID ? sigmoid_f32x4(w, &k) : tanh_f32x4(w, &k);
        v = wasm_f32x4_extract_lane(w, 0);
      } else {
        // alpha is read only where the activation has one: a BiasAdd's params are the bias alone.
        v = act1(v, act, act == ACT_LEAKY || act == ACT_PRELU ? alpha[j] : 0);
      }
      y[j] = v;
    }
  }
}

// args: out (float32 [rows, c], rewritten in place), Epilogue (3 words), rows, c. One task: the
// GEMM's empty-sum case (k = 0), whose output is the epilogue of zeros.
EXPORT("task_epilogue") void task_epilogue(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  float* out = PTR(float, args, ARG0);
  const Epilogue* e = (const Epilogue*)(args + ARG0 + 1);
  int rows = args[ARG0 + 4], c = args[ARG0 + 5];
  FOR_EACH_TASK(t, args) epilogue_block(out, c, rows, 0, c, e->params, c, e->act, e->norm);
}

// args: x (float32 [b, h, w, c]), out (float32 [b, oh, ow, c]), b, h, w, c, oh, ow, tables
// (int32 lower[oh], upper[oh], lower[ow], upper[ow], then float32 lerp[oh], lerp[ow]). Task t is
// output row (t / oh, t % oh). compute_lerp as TensorFlow: each operation rounded to float.
EXPORT("task_resize_bilinear") void task_resize_bilinear(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  const float* x = PTR(const float, args, ARG0);
  float* out = PTR(float, args, ARG0 + 1);
  int h = args[ARG0 + 3], w = args[ARG0 + 4], c = args[ARG0 + 5];
  int oh = args[ARG0 + 6], ow = args[ARG0 + 7];
  const int32_t* tab = PTR(const int32_t, args, ARG0 + 8);
  const int32_t *ylo = tab, *yhi = tab + oh, *xlo = tab + 2 * oh, *xhi = tab + 2 * oh + ow;
  const float* ylerp = (const float*)(tab + 2 * oh + 2 * ow);
  const float* xlerp = ylerp + oh;
  FOR_EACH_TASK(t, args) {
    int n = t / oh, y = t % oh;
    const float* top = x + ((size_t)n * h + ylo[y]) * w * c;
    const float* bottom = x + ((size_t)n * h + yhi[y]) * w * c;
    float dy = ylerp[y];
    float* o = out + (size_t)t * ow * c;
    for (int j = 0; j < ow; j++) {
      const float *tl = top + (size_t)xlo[j] * c, *tr = top + (size_t)xhi[j] * c;
      const float *bl = bottom + (size_t)xlo[j] * c, *br = bottom + (size_t)xhi[j] * c;
      float dx = xlerp[j];
      int k = 0;
      v128_t vdx = wasm_f32x4_splat(dx), vdy = wasm_f32x4_splat(dy);
      for (; k + 4 <= c; k += 4) {
        v128_t a = wasm_v128_load(tl + k), b = wasm_v128_load(tr + k);
        v128_t cc = wasm_v128_load(bl + k), d = wasm_v128_load(br + k);
        v128_t tp = wasm_f32x4_add(a, wasm_f32x4_mul(wasm_f32x4_sub(b, a), vdx));
        v128_t bt = wasm_f32x4_add(cc, wasm_f32x4_mul(wasm_f32x4_sub(d, cc), vdx));
        wasm_v128_store(o + k, wasm_f32x4_add(tp, wasm_f32x4_mul(wasm_f32x4_sub(bt, tp), vdy)));
      }
      for (; k < c; k++) {
        float tp = tl[k] + (tr[k] - tl[k]) * dx;
        float bt = bl[k] + (br[k] - bl[k]) * dx;
        o[k] = tp + (bt - tp) * dy;
      }
      o += c;
    }
  }
}

// args: x, out, element size in bytes, b, h, w, c, oh, ow, tables (int32 row[oh], col[ow]).
// Task t is output row (t / oh, t % oh); each pixel copies c elements of its source pixel.
EXPORT("task_resize_nearest") void task_resize_nearest(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  const uint8_t* x = PTR(const uint8_t, args, ARG0);
  uint8_t* out = PTR(uint8_t, args, ARG0 + 1);
  int size = args[ARG0 + 2], h = args[ARG0 + 4], w = args[ARG0 + 5], c = args[ARG0 + 6];
  int oh = args[ARG0 + 7], ow = args[ARG0 + 8];
  const int32_t* tab = PTR(const int32_t, args, ARG0 + 9);
  const int32_t *rows = tab, *cols = tab + oh;
  size_t pixel = (size_t)c * size;
  FOR_EACH_TASK(t, args) {
    int n = t / oh, y = t % oh;
    const uint8_t* src = x + ((size_t)n * h + rows[y]) * w * pixel;
    uint8_t* o = out + (size_t)t * ow * pixel;
    for (int j = 0; j < ow; j++) memcpy(o + (size_t)j * pixel, src + (size_t)cols[j] * pixel, pixel);
  }
}
