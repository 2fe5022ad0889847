// Element sizes by dtype code (codes.h, generated from kernels_wasm/codes.ts).
#pragma once
#include "codes.h"

static const int DTYPE_SIZE[DT_COUNT] = {
    [DT_FLOAT32] = 4, [DT_INT32] = 4,    [DT_INT64] = 8, [DT_BOOL] = 1,
    [DT_BFLOAT16] = 2, [DT_FLOAT16] = 2, [DT_UINT8] = 1, [DT_INT8] = 1,
};
