// The fused ops' epilogue (core/ops/fused.ts): bias or batch norm, then an activation, applied
// to a block of a contraction's float32 output in place. The GEMM (gemm.c) and the depthwise
// convolution (window.c) call it on each block they finish, while it is still in cache.
#pragma once
#include "common.h"

// Activation codes: FUSED_ACTIVATIONS' order in core/ops/fused.ts.
enum { ACT_NONE, ACT_RELU, ACT_RELU6, ACT_ELU, ACT_LEAKY, ACT_SIGMOID, ACT_TANH, ACT_PRELU };

// Rows of y (ldy floats apart), columns [j0, j1) (the channels), with params float32 [4, c]:
// shift, scale, offset, alpha. y = act((y + shift) * scale + offset); norm 0 skips * scale +
// offset.
void epilogue_block(float* y, int ldy, int rows, int j0, int j1, const float* params, int c,
                    int act, int norm);

// An epilogue as three argument words: params pointer (0: none), activation, norm.
typedef struct {
  const float* params;
  int act, norm;
} Epilogue;
