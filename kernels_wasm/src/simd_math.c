// The constants of simd_math.h's exp, in ExpConstants order (see there for why they are data).
#include <stdint.h>

float simd_math_constants[] = {
    -104.f,           // lo: below this exp(x) rounds to 0
    89.f,             // hi: above this it overflows
    1.44269504088896341f, // log2(e)
    12582912.f,       // 1.5 * 2^23
    0.693359375f,     // ln2, high part
    -2.12194440e-4f,  // ln2, low part
    1.9875691500e-4f, // polynomial, highest degree first
    1.3981999507e-3f,
    8.3334519073e-3f,
    4.1665795894e-2f,
    1.6666665459e-1f,
    5.0000001201e-1f,
    1.f,
    // exp_neg_f32x4 (XNNPACK's f32 rr2-p5 constants), from index 13:
    1.44269504088896341f, // log2(e)
    0x1.8000FEp23f,       // magic bias: 1.5 * 2^23 + 127
    -0x1.62E400p-1f,      // -ln2, high part
    -0x1.7F7D1Cp-20f,     // -ln2, low part
    0x1.0F9F9Cp-7f,       // c5
    0x1.573A1Ap-5f,       // c4
    0x1.555A80p-3f,       // c3
    0x1.FFFDC6p-2f,       // c2
    0x1.FFFFF6p-1f,       // c1
    -0x1.5D589Ep6f,       // below this, exp(x) is subnormal: flushed to 0
};

int32_t simd_math_integers[] = {
    0x4B400000, // the bits of 1.5 * 2^23: subtracted from a rounded value, they leave n
    127,        // the exponent bias
};
