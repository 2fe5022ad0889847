// Cast between any two numeric dtypes, as core/ops/cast.ts defines it: a C cast with NaN and
// ±Inf becoming 0 in integers, integers wrapping (the value modulo 2^bits), bool = (x != 0),
// float16/bfloat16 rounded to nearest even from float32 (after Truncate, when asked, zeroes the
// bits the destination drops). int64 sources convert without a detour through double.
//
// args: dst, src, src dtype, dst dtype, n, chunk, truncate. Task t converts [t * chunk, ...).
#include <math.h>
#include "common.h"
#include "dtypes.h"

INLINE float bits_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
INLINE uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static float half_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp == 0x1f) return bits_f32(sign | 0x7f800000 | (mant << 13));
  if (exp == 0) return (sign ? -1.f : 1.f) * (float)mant * 0x1p-24f; // zero and subnormals: exact
  return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

// float32 → half bits, round to nearest even, subnormals, overflow to Inf (dtype.ts's rules).
static uint16_t f32_to_half(float x) {
  uint32_t bits = f32_bits(x), sign = (bits >> 16) & 0x8000, exp = (bits >> 23) & 0xff;
  uint32_t mant = bits & 0x7fffff;
  if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
  int e = (int)exp - 127 + 15;
  if (e >= 0x1f) return (uint16_t)(sign | 0x7c00);
  if (e <= 0) {
    if (e < -10) return (uint16_t)sign;
    mant |= 0x800000;
    int shift = 14 - e;
    uint32_t half = 1u << (shift - 1), rest = mant & ((1u << shift) - 1), h = mant >> shift;
    if (rest > half || (rest == half && (h & 1))) h++;
    return (uint16_t)(sign | h);
  }
  uint32_t h = mant >> 13, rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) {
    if (++h == 0x400) {
      h = 0;
      if (++e >= 0x1f) return (uint16_t)(sign | 0x7c00);
    }
  }
  return (uint16_t)(sign | ((uint32_t)e << 10) | h);
}

static uint16_t f32_to_bf16(float x) {
  uint32_t bits = f32_bits(x);
  if ((bits & 0x7fffffff) > 0x7f800000) return (uint16_t)(((bits >> 16) | 0x40) & 0xffff);
  return (uint16_t)((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
}

// A float value as an integer modulo 2^64 (NaN and ±Inf give 0), from which every integer dtype
// takes its low bits.
static uint64_t float_to_wrapped(double x) {
  if (!isfinite(x)) return 0;
  double t = trunc(x);
  if (fabs(t) < 0x1p63) return (uint64_t)(int64_t)t;
  double r = fmod(t, 0x1p64); // exact; a multiple of 2^11 at this magnitude
  if (r < 0) r += 0x1p64;
  return r >= 0x1p63 ? (uint64_t)(int64_t)(r - 0x1p64) : (uint64_t)(int64_t)r;
}

// The source value: a double for floats and small integers, and for int64 its exact bits.
typedef struct {
  double f;
  uint64_t i;
  int is_int;
} Value;

static Value load(const uint8_t* p, int dt) {
  Value v = {0, 0, 1};
  switch (dt) {
    case DT_FLOAT32: v.f = *(const float*)p; v.is_int = 0; break;
    case DT_BFLOAT16: v.f = bits_f32((uint32_t)*(const uint16_t*)p << 16); v.is_int = 0; break;
    case DT_FLOAT16: v.f = half_to_f32(*(const uint16_t*)p); v.is_int = 0; break;
    case DT_INT32: v.i = (uint64_t)(int64_t) * (const int32_t*)p; break;
    case DT_INT64: v.i = *(const uint64_t*)p; break;
    case DT_BOOL:
    case DT_UINT8: v.i = *p; break;
    default: v.i = (uint64_t)(int64_t) * (const int8_t*)p; break;
  }
  if (v.is_int) v.f = (double)(int64_t)v.i;
  return v;
}

INLINE int mantissa_bits(int dt) {
  return dt == DT_FLOAT32 ? 23 : dt == DT_FLOAT16 ? 10 : dt == DT_BFLOAT16 ? 7 : 0;
}

// Zeroes the float32 mantissa bits a narrower float cannot hold (Cast's Truncate).
static float truncate_to(float x, int dst) {
  int keep = dst == DT_FLOAT16 ? 10 : 7;
  return bits_f32(f32_bits(x) & ~((1u << (23 - keep)) - 1));
}

static void store(uint8_t* p, int dt, Value v, int truncate) {
  if (dt == DT_FLOAT32 || dt == DT_FLOAT16 || dt == DT_BFLOAT16) {
    // An integer rounds once to float32 (C's int64 → float is correctly rounded); through the
    // double v.f it would round twice, and 2^60 + 2^36 + 1 would land on 2^60, not 2^60 + 2^37.
    // 16-bit floats then round that float32, as TensorFlow's Eigen types do.
    float f = v.is_int ? (float)(int64_t)v.i : (float)v.f;
    if (truncate && !v.is_int) f = truncate_to(f, dt);
    if (dt == DT_FLOAT32) *(float*)p = f;
    else *(uint16_t*)p = dt == DT_FLOAT16 ? f32_to_half(f) : f32_to_bf16(f);
    return;
  }
  if (dt == DT_BOOL) {
    *p = v.is_int ? v.i != 0 : v.f != 0;
    return;
  }
  uint64_t w = v.is_int ? v.i : float_to_wrapped(v.f);
  switch (dt) {
    case DT_INT32: *(uint32_t*)p = (uint32_t)w; break;
    case DT_INT64: *(uint64_t*)p = w; break;
    default: *p = (uint8_t)w; break;
  }
}

EXPORT("task_cast") void task_cast(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  uint8_t* dst = PTR(uint8_t, args, ARG0);
  const uint8_t* src = PTR(const uint8_t, args, ARG0 + 1);
  int from = args[ARG0 + 2], to = args[ARG0 + 3], n = args[ARG0 + 4], size = args[ARG0 + 5];
  int truncate = args[ARG0 + 6];
  // Truncate only matters when the destination float keeps fewer mantissa bits.
  int narrows = truncate && mantissa_bits(from) > mantissa_bits(to) && mantissa_bits(to) > 0;
  int sin = DTYPE_SIZE[from], sout = DTYPE_SIZE[to];
  FOR_EACH_TASK(t, args) {
    int begin, end;
    chunk(t, size, n, &begin, &end);
    if (from == DT_FLOAT32 && to == DT_INT32 && !narrows) {
      const float* s = (const float*)src;
      int32_t* d = (int32_t*)dst;
      for (int i = begin; i < end; i++) {
        float x = s[i];
        d[i] = fabsf(x) < 2147483648.f ? (int32_t)x : (int32_t)(uint32_t)float_to_wrapped(x);
      }
      continue;
    }
    if (from == DT_INT32 && to == DT_FLOAT32) {
      for (int i = begin; i < end; i++) ((float*)dst)[i] = (float)((const int32_t*)src)[i];
      continue;
    }
    for (int i = begin; i < end; i++) {
      store(dst + (size_t)i * sout, to, load(src + (size_t)i * sin, from), narrows);
    }
  }
}
