// The float32 GEMM tasks: task_sgemm_pack (phase 1) packs every distinct B, task_sgemm (phase 2)
// computes tiles of C. The TypeScript side (kernels_wasm/kernels/gemm.ts) writes the words:
//
//   ARG0+0  a          ARG0+6  rsa     ARG0+11 a_index (int32[batch] or 0)   ARG0+16 nct
//   ARG0+1  b          ARG0+7  csa     ARG0+12 b_index (int32[batch] or 0)   ARG0+17 a batch stride
//   ARG0+2  c          ARG0+8  rsb     ARG0+13 nb (distinct Bs)              ARG0+18 b batch stride
//   ARG0+3  m          ARG0+9  csb     ARG0+14 bp (packed B, 0: B in place)  ARG0+19 conv? (0/1/2)
//   ARG0+4  n          ARG0+10 batch   ARG0+15 mct (rows per task)           ARG0+20.. ConvGeom
//   ARG0+5  k                                                                ARG0+34.. Epilogue
//
// Batch i multiplies A number a_index[i] by B number b_index[i] into C matrix i (C is dense,
// [batch, m, n]); a missing table means index 0. Tasks of phase 1: nb x panel groups; of phase 2:
// batch x row blocks of mct x column blocks of nct (multiples of MR and NR). conv 1: A is the
// im2col matrix of the image at a (ConvGeom); 2: its transpose (rows = taps, columns = pixels).
#include "gemm.h"
#include "epilogue.h"

#define PANELS_PER_PACK_TASK 4

typedef struct {
  const float *a, *b;
  float* c;
  int m, n, k, rsa, csa, rsb, csb, batch;
  const int32_t *a_index, *b_index;
  int nb;
  float* bp;
  int mct, nct, a_stride, b_stride, has_conv;
  ConvGeom conv;
  Epilogue epi; // a fused op's bias and activation, applied to each finished block of C
} GemmArgs;

_Static_assert(sizeof(GemmArgs) == (20 + 14 + 3) * 4, "GemmArgs is a sequence of 32-bit words");

EXPORT("task_sgemm_pack") void task_sgemm_pack(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  const GemmArgs* g = (const GemmArgs*)(args + ARG0);
  int np = round_up(g->n, NR), panels = np / NR;
  int groups = (panels + PANELS_PER_PACK_TASK - 1) / PANELS_PER_PACK_TASK;
  FOR_EACH_TASK(t, args) {
    int j = t / groups, q0 = (t % groups) * PANELS_PER_PACK_TASK;
    int q1 = MIN(panels, q0 + PANELS_PER_PACK_TASK);
    pack_b(g->b + (size_t)j * g->b_stride, g->rsb, g->csb, g->k, g->n, q0, q1,
           g->bp + (size_t)j * g->k * np);
  }
}

// Adds (or stores) the top-left mr x nr of a full 6x8 tile computed into `tile`.
static void store_partial(const float* tile, float* c, int ldc, int mr, int nr, int accumulate) {
  for (int r = 0; r < mr; r++) {
    for (int j = 0; j < nr; j++) {
      c[(size_t)r * ldc + j] = accumulate ? c[(size_t)r * ldc + j] + tile[r * NR + j] : tile[r * NR + j];
    }
  }
}

// One task: rows [i0, i1) x columns [j0, j1) of one C matrix. Returns whether the epilogue was
// applied (by the micro-kernel as it stored each final tile).
static int compute_block(const GemmArgs* g, const ASource* src, const BSource* bs, float* c,
                         int i0, int i1, int j0, int j1, float* ap) {
  int mc = i1 - i0;
  float tile[MR * NR] __attribute__((aligned(16)));
  int act = fused_activation(&g->epi);
  if (src->conv && !src->transposed && conv_direct(src->conv, g->k)) {
    conv_direct_block(src, bs, c, g->n, g->k, i0, i1, j0, j1, ap, tile, act, g->epi.params);
    return act >= 0;
  }
  // A row-major A (a 1x1 convolution's image, MatMul) is read in place by full panels; only a
  // last panel of fewer than MR rows is packed (zero rows past the end, never read past A).
  int direct = !src->conv && src->csa == 1, tail = mc % MR, full = mc - tail;
  for (int p0 = 0; p0 < g->k; p0 += KC) {
    int kc = MIN(KC, g->k - p0), accumulate = p0 > 0, final = p0 + kc == g->k && act >= 0;
    if (!direct) pack_a(src, i0, mc, p0, kc, ap);
    else if (tail) pack_a(src, i0 + full, tail, p0, kc, ap);
    for (int j = j0; j < j1; j += NR) {
      int nr = MIN(NR, j1 - j), ldb;
      const float* bpanel = b_panel(bs, p0, kc, j, &ldb);
      int flags = accumulate | (final ? act << 1 : 0);
      const float* bias = final ? g->epi.params + j : 0;
      for (int r = 0; r < mc; r += MR) {
        int mr = MIN(MR, mc - r), lda = 0;
        float* ct = c + (size_t)(i0 + r) * g->n + j;
        const float* apanel = ap + (size_t)(r / MR) * kc * MR;
        if (direct) {
          apanel = r < full ? src->a + (size_t)(i0 + r) * src->rsa + p0 : ap;
          lda = r < full ? src->rsa * 4 : 0;
        }
        if (mr == MR && nr == NR) {
          sgemm_6x8(kc, apanel, lda, bpanel, ldb, ct, g->n * 4, flags, bias);
        } else {
          sgemm_6x8(kc, apanel, lda, bpanel, ldb, tile, NR * 4, 0, 0);
          store_partial(tile, ct, g->n, mr, nr, accumulate);
          if (final) {
            epilogue_block(c + (size_t)(i0 + r) * g->n, g->n, mr, j, j + nr, g->epi.params, g->n,
                           g->epi.act, 0);
          }
        }
      }
    }
  }
  return act >= 0;
}

EXPORT("task_sgemm") void task_sgemm(word* args, int tid, int nt) {
  (void)nt;
  const GemmArgs* g = (const GemmArgs*)(args + ARG0);
  int tm = (g->m + g->mct - 1) / g->mct, tn = (g->n + g->nct - 1) / g->nct;
  int np = round_up(g->n, NR);
  float* ap = workspace(tid);
  FOR_EACH_TASK(t, args) {
    int bi = t / (tm * tn), im = t % (tm * tn) / tn, jn = t % tn;
    int ai = g->a_index ? g->a_index[bi] : 0, bj = g->b_index ? g->b_index[bi] : 0;
    ASource src = {g->a + (size_t)ai * g->a_stride, g->rsa, g->csa, g->has_conv ? &g->conv : 0,
                   g->has_conv == 2};
    BSource bs = {g->b + (size_t)bj * g->b_stride, g->rsb, g->n,
                  g->bp ? g->bp + (size_t)bj * g->k * np : 0, ap + MC_MAX * KC};
    int i0 = im * g->mct, i1 = MIN(g->m, (im + 1) * g->mct);
    int j0 = jn * g->nct, j1 = MIN(g->n, (jn + 1) * g->nct);
    float* c = g->c + (size_t)bi * g->m * g->n;
    int done = compute_block(g, &src, &bs, c, i0, i1, j0, j1, ap);
    // The block is final (every KC block summed): the epilogue runs while it is in cache.
    if (g->epi.params && !done) {
      epilogue_block(c + (size_t)i0 * g->n, g->n, i1 - i0, j0, j1, g->epi.params, g->n,
                     g->epi.act, g->epi.norm);
    }
  }
}

_Static_assert((MC_MAX * KC + KC * NR) * 4 <= WORKSPACE_BYTES,
               "a task's packed A and partial B panel fit its thread's workspace");
