// The elementwise gradient ops (task_grad_binary: ReluGrad, EluGrad, SigmoidGrad, ...) and
// UnsortedSegmentSum (task_segment_sum), GatherV2's gradient.
//
// The gradient ops take two same-shaped inputs (no broadcasting, as in TensorFlow). float32
// results are computed in double and rounded once, as the float64 reference computes them, so
// they match it exactly (SoftplusGrad's exp aside: libm's and V8's may differ in the last bit).
//
// args of task_grad_binary: out, a, b (TensorFlow's input order), op (GRAD_*), dtype (DT_*), n,
// chunk, alpha (2 words, double; LeakyReluGrad). Task t covers elements [t * chunk, +chunk).
#include <math.h>
#include "dtypes.h"
#include "common.h"

#define SELU_SCALE 1.0507009873554804934193349852946
#define SELU_ALPHA 1.6732632423543772848170429916717

typedef void grad_fn(void* out, const void* a, const void* b, int n, double alpha);

#define GRAD(NAME, T, EXPR)                                                       \
  static void NAME(void* o_, const void* a_, const void* b_, int n, double alpha) { \
    (void)alpha;                                                                  \
    T* restrict o = o_;                                                           \
    const T* restrict as = a_;                                                    \
    const T* restrict bs = b_;                                                    \
    for (int i = 0; i < n; i++) {                                                 \
      T a = as[i], b = bs[i];                                                     \
      o[i] = (EXPR);                                                              \
    }                                                                             \
  }

// (gradients, features): ReluGrad at features == 0 is 0, as in TensorFlow.
GRAD(relu_grad_f32, float, b > 0 ? a : 0.f)
GRAD(relu6_grad_f32, float, b > 0 && b < 6 ? a : 0.f)
GRAD(leaky_relu_grad_f32, float, b > 0 ? a : (float)(alpha * a))
GRAD(softplus_grad_f32, float, (float)((double)a / (1 + exp(-(double)b))))
// (gradients, outputs).
GRAD(elu_grad_f32, float, b < 0 ? (float)((double)a * ((double)b + 1)) : a)
GRAD(selu_grad_f32, float,
     b < 0 ? (float)((double)a * ((double)b + SELU_SCALE * SELU_ALPHA)) : (float)((double)a * SELU_SCALE))
// (y, dy).
GRAD(sigmoid_grad_f32, float, (float)((double)b * ((double)a * (1 - (double)a))))
GRAD(tanh_grad_f32, float, (float)((double)b * (1 - (double)a * a)))
GRAD(rsqrt_grad_f32, float, (float)((double)b * (-0.5 * a * a * a)))
GRAD(sqrt_grad_f32, float, (float)((double)b * 0.5 / a))
GRAD(reciprocal_grad_f32, float, (float)(-(double)b * ((double)a * a)))

GRAD(relu_grad_i32, int32_t, b > 0 ? a : 0)
GRAD(relu6_grad_i32, int32_t, b > 0 && b < 6 ? a : 0)
GRAD(relu_grad_i64, int64_t, b > 0 ? a : 0)
GRAD(relu6_grad_i64, int64_t, b > 0 && b < 6 ? a : 0)

static grad_fn* const GRADS[DT_COUNT][GRAD_COUNT] = {
    [DT_FLOAT32] = {[GRAD_ReluGrad] = relu_grad_f32, [GRAD_Relu6Grad] = relu6_grad_f32,
                    [GRAD_LeakyReluGrad] = leaky_relu_grad_f32, [GRAD_EluGrad] = elu_grad_f32,
                    [GRAD_SeluGrad] = selu_grad_f32, [GRAD_SoftplusGrad] = softplus_grad_f32,
                    [GRAD_SigmoidGrad] = sigmoid_grad_f32, [GRAD_TanhGrad] = tanh_grad_f32,
                    [GRAD_RsqrtGrad] = rsqrt_grad_f32, [GRAD_SqrtGrad] = sqrt_grad_f32,
                    [GRAD_ReciprocalGrad] = reciprocal_grad_f32},
    [DT_INT32] = {[GRAD_ReluGrad] = relu_grad_i32, [GRAD_Relu6Grad] = relu6_grad_i32},
    [DT_INT64] = {[GRAD_ReluGrad] = relu_grad_i64, [GRAD_Relu6Grad] = relu6_grad_i64},
};

EXPORT("task_grad_binary") void task_grad_binary(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  uint8_t* out = PTR(uint8_t, args, ARG0);
  const uint8_t* a = PTR(const uint8_t, args, ARG0 + 1);
  const uint8_t* b = PTR(const uint8_t, args, ARG0 + 2);
  int op = args[ARG0 + 3], dt = args[ARG0 + 4], n = args[ARG0 + 5], size = args[ARG0 + 6];
  double alpha = words_f64(args + ARG0 + 7);
  grad_fn* f = GRADS[dt][op];
  int es = DTYPE_SIZE[dt];
  FOR_EACH_TASK(t, args) {
    int begin, end;
    chunk(t, size, n, &begin, &end);
    size_t at = (size_t)begin * es;
    f(out + at, a + at, b + at, end - begin, alpha);
  }
}

// args: data, ids, out, dtype (DT_FLOAT32, DT_INT32 or DT_INT64), id size (4 or 8), rows (ids' element
// count), inner (elements per row), segments, columns per task. Task t owns the columns
// [t * cols, +cols) of every output row: it zeroes them, then adds data's rows in order (ids
// were checked by the op before the task ran; negative ids are dropped).
EXPORT("task_segment_sum") void task_segment_sum(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  const uint8_t* data = PTR(const uint8_t, args, ARG0);
  const uint8_t* ids = PTR(const uint8_t, args, ARG0 + 1);
  uint8_t* out = PTR(uint8_t, args, ARG0 + 2);
  int dt = args[ARG0 + 3], id_size = args[ARG0 + 4], rows = args[ARG0 + 5];
  int inner = args[ARG0 + 6], segments = args[ARG0 + 7], cols = args[ARG0 + 8];
  int es = DTYPE_SIZE[dt];
  FOR_EACH_TASK(t, args) {
    int k0, k1;
    chunk(t, cols, inner, &k0, &k1);
    int len = k1 - k0;
    for (int s = 0; s < segments; s++) {
      memset(out + ((size_t)s * inner + k0) * es, 0, (size_t)len * es);
    }
    for (int j = 0; j < rows; j++) {
      int64_t id = id_size == 8 ? ((const int64_t*)ids)[j] : ((const int32_t*)ids)[j];
      if (id < 0) continue;
      size_t o = (size_t)id * inner + k0, i = (size_t)j * inner + k0;
      if (dt == DT_FLOAT32) {
        float* op = (float*)out + o;
        const float* ip = (const float*)data + i;
        for (int k = 0; k < len; k++) op[k] += ip[k];
      } else if (dt == DT_INT32) {
        uint32_t* op = (uint32_t*)out + o; // integers wrap, as TensorFlow's CPU kernel's sums
        const uint32_t* ip = (const uint32_t*)data + i;
        for (int k = 0; k < len; k++) op[k] += ip[k];
      } else {
        uint64_t* op = (uint64_t*)out + o;
        const uint64_t* ip = (const uint64_t*)data + i;
        for (int k = 0; k < len; k++) op[k] += ip[k];
      }
    }
  }
}
