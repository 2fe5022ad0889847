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
};

int32_t simd_math_integers[] = {
    0x4B400000, // the bits of 1.5 * 2^23: subtracted from a rounded value, they leave n
    127,        // the exponent bias
};
