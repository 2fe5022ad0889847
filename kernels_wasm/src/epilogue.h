// The fused ops' epilogue (core/ops/fused.ts): bias or batch norm, then an activation, applied
// to a block of a contraction's float32 output in place. The GEMM (gemm.c) and the depthwise
// convolution (window.c) call it on each block they finish, while it is still in cache.
#pragma once
#include "common.h"

// Activation codes: FUSED_ACTIVATIONS' order in core/ops/fused.ts.
enum { ACT_NONE, ACT_RELU, ACT_RELU6, ACT_ELU, ACT_LEAKY, ACT_SIGMOID, ACT_TANH, ACT_PRELU };

// Rows of y (ldy floats apart), columns [j0, j1) (the channels), with params float32 [4, c]:
// shift, scale, offset, alpha. y = act((y + shift) * scale + offset); norm 0 skips * scale +
// offset. Only the vectors used are read: with norm 0 and no Leaky/Prelu, params may be
// the shift (a bias) alone.
void epilogue_block(float* y, int ldy, int rows, int j0, int j1, const float* params, int c,
                    int act, int norm);

// An epilogue as three argument words: params pointer (0: none), activation, norm.
typedef struct {
  const float* params;
  int act, norm;
} Epilogue;

// The activation the micro-kernels (gemm_6x8.wat, conv_6x8.wat) and the depthwise loop apply
// as they store a finished output, a bias added first: ACT_NONE, ACT_RELU or ACT_RELU6 (every
// fused op of mobilenet-like models; the micro-kernels' flags take these codes); -1 when
// epilogue_block has to run over the output after.
INLINE int fused_activation(const Epilogue* e) {
  if (!e->params || e->norm) return -1;
  return e->act == ACT_NONE || e->act == ACT_RELU || e->act == ACT_RELU6 ? e->act : -1;
}

// A fused activation (ACT_RELU or ACT_RELU6; ACT_NONE leaves v) on a vector: Relu as pmax, which keeps
// NaN (NaN < 0 is false), then + 0, which turns -0 into +0 as TensorFlow's max(x, 0) gives;
// Relu6's pmin keeps NaN too (6 < NaN is false). The same results as epilogue_block's.
INLINE v128_t fused_act4(v128_t v, int act) {
  if (act) {
    v = wasm_f32x4_add(wasm_f32x4_pmax(v, wasm_f32x4_splat(0)), wasm_f32x4_splat(0));
    if (act == ACT_RELU6) v = wasm_f32x4_pmin(v, wasm_f32x4_splat(6));
  }
  return v;
}
