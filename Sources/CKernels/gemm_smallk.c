// GEMMs for a convolution with few input channels (conv0: K = Cin·9 = 27), where OpenBLAS
// spends most of its time packing and reaches a quarter of its speed:
//
//   mxs_gemm_smallk:  C[M×N] = A[M×K]·B[K×N], K small, N long (the forward GEMM);
//   mxs_gemm_nt_longk: C[M×N] = A[M×K]·B[N×K]ᵀ, K long, M·N small (the weight gradient).
//
// Both have an exact definition, independent of the vector width and of how the work is
// split (see ckernels.h), which the AVX2+FMA and AVX-512 builds follow, so they give the
// same bits as each other and as the Swift references; there is no baseline build (the
// callers keep OpenBLAS on CPUs without FMA).
#include "ckernels.h"
#include "isa.h"
#include <string.h>

#pragma clang fp contract(off)

#define INLINE static inline __attribute__((always_inline))

typedef float v8 __attribute__((vector_size(32)));
typedef float v16 __attribute__((vector_size(64)));

#define LOAD(T, p) ({ T _v; memcpy(&_v, (p), sizeof(T)); _v; })
#define STORE(p, x) ({ __typeof__(x) _x = (x); memcpy((p), &_x, sizeof(_x)); })
#define FMA(a, b, c) __builtin_elementwise_fma((a), (b), (c))

// ---- C = A·B with K small: acc = 0; for p in 0..<K: acc = fma(A[i][p], B[p][j], acc).
//
// Register block of MR rows × NR vectors of VT; B's strip (K × NR·lanes) stays in L1
// while the row blocks go over it. Leftover rows and columns use narrower blocks with the
// same per-element chain, then scalar fmaf.
#define SMALLK_BLOCK(VT, MR, NR)                                                            \
    {                                                                                       \
        enum { L = sizeof(VT) / sizeof(float) };                                            \
        VT acc[MR][NR];                                                                     \
        for (int r = 0; r < MR; r++)                                                        \
            for (int s = 0; s < NR; s++) acc[r][s] = (VT){0};                               \
        for (size_t p = 0; p < K; p++) {                                                    \
            VT bv[NR];                                                                      \
            for (int s = 0; s < NR; s++) bv[s] = LOAD(VT, b + p * N + j + s * L);           \
            for (int r = 0; r < MR; r++) {                                                  \
                const VT av = a[(i + r) * K + p] - (VT){0}; /* splat (x − 0 = x) */                                 \
                for (int s = 0; s < NR; s++) acc[r][s] = FMA(av, bv[s], acc[r][s]);         \
            }                                                                               \
        }                                                                                   \
        for (int r = 0; r < MR; r++)                                                        \
            for (int s = 0; s < NR; s++) STORE(c + (i + r) * N + j + s * L, acc[r][s]);     \
    }

#define SMALLK_BODY(VT, MR, NR)                                                             \
    enum { LANES = sizeof(VT) / sizeof(float) };                                            \
    size_t j = j_lo;                                                                        \
    for (; j + NR * LANES <= j_hi; j += NR * LANES) {                                       \
        size_t i = 0;                                                                       \
        for (; i + MR <= M; i += MR) SMALLK_BLOCK(VT, MR, NR)                               \
        for (; i < M; i++) SMALLK_BLOCK(VT, 1, NR)                                          \
    }                                                                                       \
    for (; j + LANES <= j_hi; j += LANES) {                                                 \
        for (size_t i = 0; i < M; i++) SMALLK_BLOCK(VT, 1, 1)                               \
    }                                                                                       \
    for (; j < j_hi; j++)                                                                   \
        for (size_t i = 0; i < M; i++) {                                                    \
            float acc = 0;                                                                  \
            for (size_t p = 0; p < K; p++) acc = __builtin_fmaf(a[i * K + p], b[p * N + j], acc); \
            c[i * N + j] = acc;                                                             \
        }

#define PARAMS_SK const float *restrict a, const float *restrict b, float *restrict c, size_t M, size_t N, \
                  size_t K, size_t j_lo, size_t j_hi

#if defined(__x86_64__)
MXS_AVX2 static void smallk_avx2(PARAMS_SK) { SMALLK_BODY(v8, 4, 3) }
MXS_AVX512 static void smallk_avx512(PARAMS_SK) { SMALLK_BODY(v16, 8, 2) }
#endif

int mxs_gemm_smallk(const float *a, const float *b, float *c, size_t m, size_t n, size_t k,
                    size_t j_lo, size_t j_hi) {
#if defined(__x86_64__)
    switch (mxs_kernels_isa()) {
    case MXS_ISA_AVX512: smallk_avx512(a, b, c, m, n, k, j_lo, j_hi); return 1;
    case MXS_ISA_AVX2: smallk_avx2(a, b, c, m, n, k, j_lo, j_hi); return 1;
    default: break;
    }
#endif
    (void)a; (void)b; (void)c; (void)m; (void)n; (void)k; (void)j_lo; (void)j_hi;
    return 0;
}

// ---- C = A·Bᵀ with K long. Entry (i, j) sums over p in 16 lanes: lane l takes
// p ≡ l (mod 16) in increasing p, acc_l = fma(A[i][p], B[j][p], acc_l) from 0; then
// s8[l] = acc[l] + acc[l+8], s4[l] = s8[l] + s8[l+4], s2[l] = s4[l] + s4[l+2],
// C = s2[0] + s2[1].
//
// K is walked in chunks of KC (the chunk's rows of A and B stay in L2) and the lanes of
// every entry are kept in `lanes` [(i_hi − i_lo)·N·16] between chunks, exactly.
enum { KC = 512 };

INLINE float reduce16(const float *l) {
    float s8[8], s4[4], s2[2];
    for (int q = 0; q < 8; q++) s8[q] = l[q] + l[q + 8];
    for (int q = 0; q < 4; q++) s4[q] = s8[q] + s8[q + 4];
    for (int q = 0; q < 2; q++) s2[q] = s4[q] + s4[q + 2];
    return s2[0] + s2[1];
}

// One block of MR rows of A × NR rows of B over columns [p0, p1) (multiple of 16 long);
// VT is v16 or v8 (then each 16-lane accumulator is two v8, lanes 0–7 and 8–15).
#define NT_BLOCK(VT, MR, NR)                                                                \
    {                                                                                       \
        enum { L = sizeof(VT) / sizeof(float), PARTS = 16 / L };                            \
        VT acc[MR][NR][PARTS];                                                              \
        for (int r = 0; r < MR; r++)                                                        \
            for (int s = 0; s < NR; s++)                                                    \
                for (int q = 0; q < PARTS; q++)                                             \
                    acc[r][s][q] = LOAD(VT, lanes + (((i + r - i_lo) * N + j + s) * 16 + q * L)); \
        for (size_t p = p0; p < p1; p += 16) {                                              \
            for (int q = 0; q < PARTS; q++) {                                               \
                VT bv[NR];                                                                  \
                for (int s = 0; s < NR; s++) bv[s] = LOAD(VT, b + (j + s) * K + p + q * L); \
                for (int r = 0; r < MR; r++) {                                              \
                    const VT av = LOAD(VT, a + (i + r) * K + p + q * L);                    \
                    for (int s = 0; s < NR; s++) acc[r][s][q] = FMA(av, bv[s], acc[r][s][q]); \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
        for (int r = 0; r < MR; r++)                                                        \
            for (int s = 0; s < NR; s++)                                                    \
                for (int q = 0; q < PARTS; q++)                                             \
                    STORE(lanes + (((i + r - i_lo) * N + j + s) * 16 + q * L), acc[r][s][q]); \
    }

#define NT_BODY(VT, MR, NR)                                                                 \
    memset(lanes, 0, (i_hi - i_lo) * N * 16 * sizeof(float));                              \
    const size_t full = K / 16 * 16;                                                        \
    for (size_t p0 = 0; p0 < full; p0 += KC) {                                              \
        const size_t p1 = p0 + KC < full ? p0 + KC : full;                                  \
        size_t i = i_lo;                                                                    \
        for (; i + MR <= i_hi; i += MR) {                                                   \
            size_t j = 0;                                                                   \
            for (; j + NR <= N; j += NR) NT_BLOCK(VT, MR, NR)                               \
            for (; j < N; j++) NT_BLOCK(VT, MR, 1)                                          \
        }                                                                                   \
        for (; i < i_hi; i++)                                                               \
            for (size_t j = 0; j < N; j++) NT_BLOCK(VT, 1, 1)                               \
    }                                                                                       \
    for (size_t i = i_lo; i < i_hi; i++)                                                    \
        for (size_t j = 0; j < N; j++) {                                                    \
            float *l = lanes + ((i - i_lo) * N + j) * 16;                                   \
            for (size_t p = full; p < K; p++)                                               \
                l[p - full] = __builtin_fmaf(a[i * K + p], b[j * K + p], l[p - full]);      \
            c[i * N + j] = reduce16(l);                                                     \
        }

#define PARAMS_NT const float *restrict a, const float *restrict b, float *restrict c, size_t M, size_t N, \
                  size_t K, size_t i_lo, size_t i_hi, float *restrict lanes

#if defined(__x86_64__)
MXS_AVX2 static void nt_avx2(PARAMS_NT) { (void)M; NT_BODY(v8, 2, 3) }
MXS_AVX512 static void nt_avx512(PARAMS_NT) { (void)M; NT_BODY(v16, 4, 3) }
#endif

size_t mxs_gemm_nt_longk_scratch(size_t rows, size_t n) { return rows * n * 16; }

int mxs_gemm_nt_longk(const float *a, const float *b, float *c, size_t m, size_t n, size_t k,
                      size_t i_lo, size_t i_hi, float *lanes) {
#if defined(__x86_64__)
    switch (mxs_kernels_isa()) {
    case MXS_ISA_AVX512: nt_avx512(a, b, c, m, n, k, i_lo, i_hi, lanes); return 1;
    case MXS_ISA_AVX2: nt_avx2(a, b, c, m, n, k, i_lo, i_hi, lanes); return 1;
    default: break;
    }
#endif
    (void)a; (void)b; (void)c; (void)m; (void)n; (void)k; (void)i_lo; (void)i_hi; (void)lanes;
    return 0;
}
