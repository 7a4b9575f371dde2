// Adam's update (NN/Adam.swift) over a range of one flat parameter buffer, with explicit SSE,
// AVX2 and AVX-512 builds chosen at run time (isa.c): square root and division are IEEE
// exact in every lane, and the products and sums are the Swift reference's, in the same
// order and never fused (contraction off), so every path gives the reference's bits.
#include "ckernels.h"
#include "isa.h"
#include <math.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#pragma clang fp contract(off)

#define ADAM_PARAMS float *restrict p, const float *restrict g, float *restrict m, float *restrict v, size_t lo, size_t hi, \
                    float w1, float b2, float w2, float bc2_sqrt, float eps, float step_size, int decays, float decay

/// Elements [lo, hi) one by one: the Swift reference's expression for each.
static inline void adam_scalar(ADAM_PARAMS) {
    for (size_t i = lo; i < hi; i++) {
        const float gi = g[i];
        const float mi = m[i] + (gi - m[i]) * w1;
        const float vi = v[i] * b2 + w2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        const float denom = __builtin_sqrtf(vi) / bc2_sqrt + eps;
        const float pi = decays ? p[i] * decay : p[i];
        p[i] = pi - step_size * (mi / denom);
    }
}

#define ADAM_ARGS p, g, m, v, lo, hi, w1, b2, w2, bc2_sqrt, eps, step_size, decays, decay

/// The vector body for a width W with the intrinsics of prefix PFX (_mm, _mm256, _mm512).
#define ADAM_VECTOR_BODY(W, T, PFX)                                                          \
    size_t i = lo;                                                                           \
    const T W1 = PFX##_set1_ps(w1), B2 = PFX##_set1_ps(b2), W2 = PFX##_set1_ps(w2);          \
    const T BC2 = PFX##_set1_ps(bc2_sqrt), EPS = PFX##_set1_ps(eps);                         \
    const T STEP = PFX##_set1_ps(step_size), DECAY = PFX##_set1_ps(decay);                   \
    for (; i + W <= hi; i += W) {                                                            \
        const T gi = PFX##_loadu_ps(g + i), m0 = PFX##_loadu_ps(m + i);                      \
        const T v0 = PFX##_loadu_ps(v + i), p0 = PFX##_loadu_ps(p + i);                      \
        const T mi = PFX##_add_ps(m0, PFX##_mul_ps(PFX##_sub_ps(gi, m0), W1));               \
        const T vi = PFX##_add_ps(PFX##_mul_ps(v0, B2), PFX##_mul_ps(W2, PFX##_mul_ps(gi, gi))); \
        PFX##_storeu_ps(m + i, mi);                                                          \
        PFX##_storeu_ps(v + i, vi);                                                          \
        const T denom = PFX##_add_ps(PFX##_div_ps(PFX##_sqrt_ps(vi), BC2), EPS);             \
        const T pi = decays ? PFX##_mul_ps(p0, DECAY) : p0;                                  \
        PFX##_storeu_ps(p + i, PFX##_sub_ps(pi, PFX##_mul_ps(STEP, PFX##_div_ps(mi, denom)))); \
    }                                                                                        \
    adam_scalar(p, g, m, v, i, hi, w1, b2, w2, bc2_sqrt, eps, step_size, decays, decay); /* the tail */

#if defined(__x86_64__)
static void adam_base(ADAM_PARAMS) { ADAM_VECTOR_BODY(4, __m128, _mm) }
MXS_AVX2 static void adam_avx2(ADAM_PARAMS) { ADAM_VECTOR_BODY(8, __m256, _mm256) }
MXS_AVX512 static void adam_avx512(ADAM_PARAMS) { ADAM_VECTOR_BODY(16, __m512, _mm512) }
#else
static void adam_base(ADAM_PARAMS) { adam_scalar(ADAM_ARGS); }
#endif

void mxs_adam_step(float *p, const float *g, float *m, float *v, size_t lo, size_t hi, float w1, float b2, float w2,
                   float bc2_sqrt, float eps, float step_size, int decays, float decay) {
#if defined(__x86_64__)
    switch (mxs_kernels_isa()) {
    case MXS_ISA_AVX512: adam_avx512(ADAM_ARGS); return;
    case MXS_ISA_AVX2: adam_avx2(ADAM_ARGS); return;
    default: break;
    }
#endif
    adam_base(ADAM_ARGS);
}
