// The optimizer ops (core/ops/training_ops.ts, TensorFlow's training_ops.cc): one task updates a
// chunk of a variable and its slots. Each expression is TensorFlow's Eigen expression in its
// order, in float: WebAssembly rounds every float operation (no contraction into fused
// multiply-adds without relaxed SIMD) and sqrt is correctly rounded, so the results equal the
// reference's, which rounds after each operation too.
#include <math.h>
#include "common.h"
#include "codes.h"

// args: kind (APPLY_*), flags (bit 0 use_nesterov, bit 1 update_slots), n, elements per task,
// grad, then 3 state pairs (in, out: var, slot 1, slot 2; out may equal in), then 6 pointers to
// the scalar inputs in the op's `scalars` order (unused ones 0).
EXPORT("task_apply") void task_apply(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  int kind = args[ARG0], flags = args[ARG0 + 1], n = args[ARG0 + 2], size = args[ARG0 + 3];
  const float* g = PTR(const float, args, ARG0 + 4);
  const float* in[3];
  float* out[3];
  for (int j = 0; j < 3; j++) {
    in[j] = PTR(const float, args, ARG0 + 5 + 2 * j);
    out[j] = PTR(float, args, ARG0 + 6 + 2 * j);
  }
  float k[6];
  for (int j = 0; j < 6; j++) {
    const float* p = PTR(const float, args, ARG0 + 11 + j);
    k[j] = p ? *p : 0.0f;
  }
  int nesterov = flags & 1, update_slots = (flags >> 1) & 1;
  // Adam's alpha = lr * sqrt(1 - beta2_power) / (1 - beta1_power), in float as TensorFlow.
  float alpha = kind == APPLY_Adam ? k[2] * sqrtf(1.0f - k[1]) / (1.0f - k[0]) : 0.0f;
  FOR_EACH_TASK(t, args) {
    int begin, end;
    chunk(t, size, n, &begin, &end);
    switch (kind) {
      case APPLY_GradientDescent:
        for (int i = begin; i < end; i++) out[0][i] = in[0][i] - g[i] * k[0];
        break;
      case APPLY_Momentum:
        // k: lr, momentum
        for (int i = begin; i < end; i++) {
          float accum = in[1][i] * k[1] + g[i];
          out[1][i] = accum;
          out[0][i] = nesterov ? in[0][i] - (g[i] * k[0] + accum * k[1] * k[0])
                               : in[0][i] - accum * k[0];
        }
        break;
      case APPLY_Adam: {
        // k: beta1_power, beta2_power, lr, beta1, beta2, epsilon
        float one_b1 = 1.0f - k[3], one_b2 = 1.0f - k[4];
        for (int i = begin; i < end; i++) {
          float gi = g[i];
          float m = in[1][i] + (gi - in[1][i]) * one_b1;
          float v = in[2][i] + (gi * gi - in[2][i]) * one_b2;
          float denom = sqrtf(v) + k[5];
          float num = nesterov ? (gi * one_b1 + k[3] * m) * alpha : m * alpha;
          out[1][i] = m;
          out[2][i] = v;
          out[0][i] = in[0][i] - num / denom;
        }
        break;
      }
      case APPLY_RMSProp: {
        // k: lr, rho, momentum, epsilon
        float one_rho = 1.0f - k[1];
        for (int i = begin; i < end; i++) {
          float gi = g[i];
          float ms = in[1][i] + (gi * gi - in[1][i]) * one_rho;
          float mom = in[2][i] * k[2] + (gi * k[0]) / sqrtf(ms + k[3]);
          out[1][i] = ms;
          out[2][i] = mom;
          out[0][i] = in[0][i] - mom;
        }
        break;
      }
      case APPLY_Adagrad:
        // k: lr
        for (int i = begin; i < end; i++) {
          float gi = g[i], accum = in[1][i];
          if (update_slots) accum = accum + gi * gi;
          out[1][i] = accum;
          out[0][i] = in[0][i] - gi * k[0] * (1.0f / sqrtf(accum));
        }
        break;
    }
  }
}
