// Packed float32 GEMM shared by MatMul, BatchMatMulV2 and Conv2D (im2col done while packing A).
//
// C[m x n] = A[m x k] * B[k x n], blocked as in BLIS: k in blocks of KC; B packed once per call
// into panels of NR columns (task_sgemm_pack, a first parallel phase); each compute task packs
// its rows of A into panels of MR rows in its thread's workspace and runs the 6x8 micro-kernel
// (gemm_6x8.wat) over every (B panel, A panel) pair, B panel outer so it stays in L1.
#pragma once
#include "common.h"
#include "window.h"

#define MR 6
#define NR 8
#define KC 256
// The most rows a compute task packs: MC_MAX x KC floats must fit the workspace.
#define MC_MAX 144

// The relaxed-SIMD micro-kernels, imported from the modules assembled from gemm_6x8.wat and
// conv_6x8.wat (which say what they compute and how their operands are laid out). lda_bytes 0:
// A is a packed panel; otherwise six rows read in place. B rows are ldb_bytes apart (NR * 4 for
// a packed panel). flags: bit 0 adds to C, bits 1-2 the activation after adding 8 floats of
// bias (0: none).
__attribute__((import_module("gemm"), import_name("sgemm_6x8"))) void sgemm_6x8(
    int k, const float* a, int lda_bytes, const float* b, int ldb_bytes, float* c, int ldc_bytes,
    int flags, const float* bias);
__attribute__((import_module("conv"), import_name("sconv_6x8"))) void sconv_6x8(
    int seg, int segs, int seg_stride_bytes, const int32_t rows[6], const float* b, int ldb_bytes,
    float* c, int ldc_bytes, int flags, const float* bias);

// Where the rows of A come from: a strided matrix, or the im2col matrix of an NHWC image (or its
// transpose: Conv2DBackpropFilter's im2col(x)^T, whose rows are taps and columns pixels).
typedef struct {
  const float* a;
  int rsa, csa;         // element (i, p) at a[i * rsa + p * csa]
  const ConvGeom* conv; // when set: row i is output pixel i, column p is tap (fh, fw, c)
  int transposed;       // with conv: row i is tap i, column p is output pixel p
} ASource;

// Where B comes from: packed panels (bp, task_sgemm_pack's output; b_index picks the matrix), or
// a row-major matrix read in place (csb 1: bp 0), whose last panel, when n is not a multiple of
// NR, is packed into `part` (KC x NR floats of the thread's workspace) when used.
typedef struct {
  const float* b; // in place: element (p, j) at b[p * rsb + j]
  int rsb, n;
  const float* bp; // packed: block p0 at bp + p0 * round_up(n, NR), panel q at + q * kc * NR
  float* part;
} BSource;

// Packs rows [i0, i0 + mc) x columns [p0, p0 + kc) of A into panels of MR rows (zero-padded).
void pack_a(const ASource* src, int i0, int mc, int p0, int kc, float* ap);
// Packs panels [q0, q1) of B (element (p, j) at b[p * rsb + j * csb], k x n) for every KC block:
// block p0 starts at bp + p0 * round_up(n, NR), panel q at + q * kc * NR.
void pack_b(const float* b, int rsb, int csb, int k, int n, int q0, int q1, float* bp);
// Columns [j, j + NR) of KC block p0 (kc rows) of B: the panel, and its row stride in bytes.
const float* b_panel(const BSource* s, int p0, int kc, int j, int* ldb_bytes);

INLINE int round_up(int x, int to) { return (x + to - 1) / to * to; }

// The first input pixel of the windows of the MR output pixels i0.. of an im2col A (top, left;
// image[r] is that pixel's image, 0 for rows from `valid` on).
void panel_pixels(const ConvGeom* g, const float* a, int i0, int valid, int top[MR], int left[MR],
                  const float* image[MR]);
// Whether all MR windows lie inside the image, undilated along the width.
int panel_inside(const ConvGeom* g, const int top[MR], const int left[MR],
                 const float* const image[MR]);

// Convolutions with at most this many input channels and k <= KC read A from the image
// (gemm_direct.c) rather than packing it.
#define DIRECT_MAX_C 8
int conv_direct(const ConvGeom* g, int k);
// Rows [i0, i1) x columns [j0, j1) of C (n columns) for such a convolution; ap and tile are
// scratch for the tiles that are packed (MR x k floats, MR x NR floats). act >= 0: the fused
// epilogue (epilogue.h's fused_activation, bias = params' shift) is applied too.
void conv_direct_block(const ASource* src, const BSource* bs, float* c, int n, int k, int i0, int i1,
                       int j0, int j1, float* ap, float* tile, int act, const float* params);
