// The memory-bound tails of the Winograd conv block (Kernels/Winograd.swift), written so
// that clang vectorises them across tiles, compiled for baseline x86-64, AVX2 and
// AVX-512, chosen at run time (isa.c). Every float operation is the Swift reference's, in the
// same order, so every path gives the reference's bits (tests compare them exactly).
#include "ckernels.h"
#include "isa.h"

#define OUTPUT_POOL_BODY                                                                    \
    for (size_t co = co_lo; co < co_hi; co++) {                                             \
        const float b = bias[co];                                                           \
        const float *src = m + co * T;                                                      \
        float *out = output + co * T;                                                       \
        uint8_t *am = argmax + co * T;                                                      \
        for (size_t t = 0; t < T; t++) {                                                    \
            float v[16];                                                                    \
            for (int x = 0; x < 16; x++) v[x] = src[x * plane + t];                         \
            /* p0 = m0 + m1 + m2, p1 = m1 − m2 − m3 (rows r of the 4×4 tile) */             \
            float p00 = (v[0] + v[4]) + v[8], p01 = (v[1] + v[5]) + v[9];                   \
            float p02 = (v[2] + v[6]) + v[10], p03 = (v[3] + v[7]) + v[11];                 \
            float p10 = (v[4] - v[8]) - v[12], p11 = (v[5] - v[9]) - v[13];                 \
            float p12 = (v[6] - v[10]) - v[14], p13 = (v[7] - v[11]) - v[15];               \
            float y00 = (p00 + p01) + p02, y01 = (p01 - p02) - p03;                         \
            float y10 = (p10 + p11) + p12, y11 = (p11 - p12) - p13;                         \
            float best = y00; uint8_t a = 0;                                                \
            if (y01 > best) { best = y01; a = 1; }                                          \
            if (y10 > best) { best = y10; a = 2; }                                          \
            if (y11 > best) { best = y11; a = 3; }                                          \
            const float s = best + b;                                                       \
            out[t] = (0.0f >= s) ? 0.0f : s; /* Swift's max(s, 0) */                        \
            am[t] = a;                                                                      \
        }                                                                                   \
    }

#define OUTPUT_POOL_BACKWARD_BODY                                                           \
    for (size_t co = co_lo; co < co_hi; co++) {                                             \
        const float *dy = d_output + co * T, *y = output + co * T;                          \
        const uint8_t *am = argmax + co * T;                                                \
        float *dst = dm + co * T;                                                           \
        float sum = 0;                                                                      \
        for (size_t t = 0; t < T; t++) sum += y[t] > 0 ? dy[t] : 0.0f;                      \
        d_bias[co] = sum;                                                                   \
        for (size_t t = 0; t < T; t++) {                                                    \
            const float g = y[t] > 0 ? dy[t] : 0.0f;                                        \
            const int a = am[t];                                                            \
            /* A's columns: (1,1,1,0) for output row/col 0, (0,1,−1,−1) for 1 */            \
            const int hi = a >> 1, lo = a & 1;                                              \
            const float ai0 = hi ? 0.0f : 1.0f, ai1 = 1.0f, ai2 = hi ? -1.0f : 1.0f,        \
                        ai3 = hi ? -1.0f : 0.0f;                                            \
            const float aj0 = lo ? 0.0f : 1.0f, aj1 = 1.0f, aj2 = lo ? -1.0f : 1.0f,        \
                        aj3 = lo ? -1.0f : 0.0f;                                            \
            const float gi[4] = {g * ai0, g * ai1, g * ai2, g * ai3};                       \
            for (int r = 0; r < 4; r++) {                                                   \
                dst[(4 * r + 0) * plane + t] = gi[r] * aj0;                                 \
                dst[(4 * r + 1) * plane + t] = gi[r] * aj1;                                 \
                dst[(4 * r + 2) * plane + t] = gi[r] * aj2;                                 \
                dst[(4 * r + 3) * plane + t] = gi[r] * aj3;                                 \
            }                                                                               \
        }                                                                                   \
    }

#define PARAMS_FWD const float *restrict m, size_t plane, size_t T, size_t co_lo, size_t co_hi, \
                   const float *restrict bias, float *restrict output, uint8_t *restrict argmax
#define PARAMS_BWD const float *restrict d_output, const float *restrict output,                \
                   const uint8_t *restrict argmax, size_t plane, size_t T, size_t co_lo,        \
                   size_t co_hi, float *restrict dm, float *restrict d_bias

static void output_pool_base(PARAMS_FWD) { OUTPUT_POOL_BODY }
static void output_pool_backward_base(PARAMS_BWD) { OUTPUT_POOL_BACKWARD_BODY }

#if defined(__x86_64__)
MXS_AVX2 static void output_pool_avx2(PARAMS_FWD) { OUTPUT_POOL_BODY }
MXS_AVX2 static void output_pool_backward_avx2(PARAMS_BWD) { OUTPUT_POOL_BACKWARD_BODY }
MXS_AVX512 static void output_pool_avx512(PARAMS_FWD) { OUTPUT_POOL_BODY }
MXS_AVX512 static void output_pool_backward_avx512(PARAMS_BWD) { OUTPUT_POOL_BACKWARD_BODY }
#endif

void mxs_wino_output_pool(const float *m, size_t plane, size_t T, size_t co_lo, size_t co_hi,
                          const float *bias, float *output, uint8_t *argmax) {
#if defined(__x86_64__)
    switch (mxs_kernels_isa()) {
    case MXS_ISA_AVX512: output_pool_avx512(m, plane, T, co_lo, co_hi, bias, output, argmax); return;
    case MXS_ISA_AVX2: output_pool_avx2(m, plane, T, co_lo, co_hi, bias, output, argmax); return;
    default: break;
    }
#endif
    output_pool_base(m, plane, T, co_lo, co_hi, bias, output, argmax);
}

void mxs_wino_output_pool_backward(const float *d_output, const float *output, const uint8_t *argmax,
                                   size_t plane, size_t T, size_t co_lo, size_t co_hi,
                                   float *dm, float *d_bias) {
#if defined(__x86_64__)
    switch (mxs_kernels_isa()) {
    case MXS_ISA_AVX512: output_pool_backward_avx512(d_output, output, argmax, plane, T, co_lo, co_hi, dm, d_bias); return;
    case MXS_ISA_AVX2: output_pool_backward_avx2(d_output, output, argmax, plane, T, co_lo, co_hi, dm, d_bias); return;
    default: break;
    }
#endif
    output_pool_backward_base(d_output, output, argmax, plane, T, co_lo, co_hi, dm, d_bias);
}
