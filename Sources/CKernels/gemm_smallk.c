// conv0 (3×3, pad 1, few input channels: its im2col GEMM has K = 9·Cin = 27, where OpenBLAS
// spends most of its time packing and reaches a quarter of its speed), read straight from
// its input:
//
//   mxs_conv3x3_pool: the forward GEMM C[M×N] = W[M×K]·col[K×N] fused with bias, ReLU and
//     2×2 max-pool;
//   mxs_conv3x3_pool_weight_grad: the weight gradient dW[M×K] = dConv[M×N]·col[K×N]ᵀ fused
//     with the pool's backward, and the bias gradient.
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

// ---- C = A·Bᵀ with K long (the weight gradient). Entry (i, j) sums over p in 16 lanes:
// lane l takes p ≡ l (mod 16) in increasing p, acc_l = fma(A[i][p], B[j][p], acc_l) from 0;
// then s8[l] = acc[l] + acc[l+8], s4[l] = s8[l] + s8[l+4], s2[l] = s4[l] + s4[l+2],
// C = s2[0] + s2[1]. The lanes of every entry are kept in memory between chunks of p, exactly.

INLINE float reduce16(const float *l) {
    float s8[8], s4[4], s2[2];
    for (int q = 0; q < 8; q++) s8[q] = l[q] + l[q + 8];
    for (int q = 0; q < 4; q++) s4[q] = s8[q] + s8[q + 4];
    for (int q = 0; q < 2; q++) s2[q] = s4[q] + s4[q + 2];
    return s2[0] + s2[1];
}

// One block of MR rows of A × NR rows of B over columns [P_LO, P_HI) (a multiple of 16 long;
// A_AT(i, p), B_AT(j, p) point at the elements, LANE_AT(i, j) at the entry's 16 lanes);
// VT is v16 or v8 (then each 16-lane accumulator is two v8, lanes 0–7 and 8–15).
#define NT_BLOCK(VT, MR, NR, A_AT, B_AT, LANE_AT, P_LO, P_HI)                                                                \
    {                                                                                       \
        enum { L = sizeof(VT) / sizeof(float), PARTS = 16 / L };                            \
        VT acc[MR][NR][PARTS];                                                              \
        for (int r = 0; r < MR; r++)                                                        \
            for (int s = 0; s < NR; s++)                                                    \
                for (int q = 0; q < PARTS; q++)                                             \
                    acc[r][s][q] = LOAD(VT, LANE_AT(i + r, j + s) + q * L); \
        for (size_t p = P_LO; p < P_HI; p += 16) {                                              \
            for (int q = 0; q < PARTS; q++) {                                               \
                VT bv[NR];                                                                  \
                for (int s = 0; s < NR; s++) bv[s] = LOAD(VT, B_AT(j + s, p) + q * L); \
                for (int r = 0; r < MR; r++) {                                              \
                    const VT av = LOAD(VT, A_AT(i + r, p) + q * L);                    \
                    for (int s = 0; s < NR; s++) acc[r][s][q] = FMA(av, bv[s], acc[r][s][q]); \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
        for (int r = 0; r < MR; r++)                                                        \
            for (int s = 0; s < NR; s++)                                                    \
                for (int q = 0; q < PARTS; q++)                                             \
                    STORE(LANE_AT(i + r, j + s) + q * L, acc[r][s][q]); \
    }

// ---- conv0 reads its input directly: row j = (c·3 + ky)·3 + kx of the im2col matrix at
// column (b·H + y)·W + x is input[c·cs + b·bs + (y+ky−1)·W + x+kx−1], or +0 outside the
// plane (exactly what Kernels' im2col writes), so the kernels below build the few columns
// they need in L1 instead of reading a [9C, B·H·W] matrix.
typedef struct {
    const float *input;
    size_t cs, bs, H, W;   // channel and batch strides, plane height and width
} conv_input;

// dst[0..<len] = im2col row j at columns (b, y, x0 … x0+len−1), all in one conv row.
INLINE void im2col_run(const conv_input *in, size_t j, size_t b, size_t y, size_t x0, size_t len, float *restrict dst) {
    const size_t c = j / 9, ky = j / 3 % 3, kx = j % 3;
    const long iy = (long)y + (long)ky - 1;
    if (iy < 0 || iy >= (long)in->H) { memset(dst, 0, len * sizeof(float)); return; }
    const float *src = in->input + c * in->cs + b * in->bs + (size_t)iy * in->W;
    // ix = x0 + l + kx − 1 must lie in [0, W).
    const long first = (long)x0 + (long)kx - 1;
    long lo = first < 0 ? -first : 0, hi = (long)in->W - first;
    if (hi > (long)len) hi = (long)len;
    if (hi < lo) hi = lo;
    for (long l = 0; l < lo; l++) dst[l] = 0;
    if (hi > lo) memcpy(dst + lo, src + first + lo, (size_t)(hi - lo) * sizeof(float));
    for (long l = hi; l < (long)len; l++) dst[l] = 0;
}

// ---- conv0 forward fused with bias, ReLU and 2×2 max-pool: each conv value is the chain
// acc = 0; for p in 0..<K: acc = fma(A[i][p], B[p][j], acc) (blocks of MR channels × 2 rows
// of 16 columns; leftovers in scalar fmaf, the same chain), pooled exactly as BiasReLUMaxPool.forward does
// (first maximum of the window in row-major order, then (0 ≥ s) ? 0 : s for s = max + bias),
// so the raw conv output is never stored. Works on row pairs rp = b·OH + oy (conv rows 2oy
// and 2oy+1 of image b).
typedef int v8i __attribute__((vector_size(32)));
typedef float v8f __attribute__((vector_size(32)));
typedef unsigned char v8u8 __attribute__((vector_size(8)));

MXS_AVX2 INLINE void pool_store8(v8f e0, v8f o0, v8f e1, v8f o1, float bias, float *out, uint8_t *am) {
    v8f best = e0;
    v8i a = (v8i){0};
    v8i m = o0 > best;
    best = (v8f)((m & (v8i)o0) | (~m & (v8i)best)); a = (m & 1) | (~m & a);
    m = e1 > best;
    best = (v8f)((m & (v8i)e1) | (~m & (v8i)best)); a = (m & 2) | (~m & a);
    m = o1 > best;
    best = (v8f)((m & (v8i)o1) | (~m & (v8i)best)); a = (m & 3) | (~m & a);
    const v8f s = best + bias;
    const v8i z = (v8f){0} >= s;
    STORE(out, (v8f)(~z & (v8i)s));
    STORE(am, __builtin_convertvector(a, v8u8));
}

#define CP_BLOCK(MR)                                                                        \
    {                                                                                       \
        v16 acc0[MR], acc1[MR];                                                             \
        for (int r = 0; r < MR; r++) { acc0[r] = (v16){0}; acc1[r] = (v16){0}; }            \
        for (size_t p = 0; p < K; p++) {                                                    \
            const v16 b0 = LOAD(v16, strip + 32 * p);                                       \
            const v16 b1 = LOAD(v16, strip + 32 * p + 16);                                  \
            for (int r = 0; r < MR; r++) {                                                  \
                const v16 av = w[(co + r) * K + p] - (v16){0};                              \
                acc0[r] = FMA(av, b0, acc0[r]);                                             \
                acc1[r] = FMA(av, b1, acc1[r]);                                             \
            }                                                                               \
        }                                                                                   \
        for (int r = 0; r < MR; r++) {                                                      \
            const v8f ev0 = __builtin_shufflevector(acc0[r], acc0[r], 0, 2, 4, 6, 8, 10, 12, 14); \
            const v8f od0 = __builtin_shufflevector(acc0[r], acc0[r], 1, 3, 5, 7, 9, 11, 13, 15); \
            const v8f ev1 = __builtin_shufflevector(acc1[r], acc1[r], 0, 2, 4, 6, 8, 10, 12, 14); \
            const v8f od1 = __builtin_shufflevector(acc1[r], acc1[r], 1, 3, 5, 7, 9, 11, 13, 15); \
            const size_t o = (co + r) * P + o0 + x / 2;                                     \
            pool_store8(ev0, od0, ev1, od1, bias[co + r], output + o, argmax + o);          \
        }                                                                                   \
    }

#define CP_BODY(MR)                                                                         \
    const size_t W = in->W, H = in->H, OW = W / 2, P = N / 4, xfull = W / 16 * 16;         \
    for (size_t rp = rp_lo; rp < rp_hi; rp++) {                                             \
        const size_t o0 = rp * OW, b = rp / (H / 2), y0 = rp % (H / 2) * 2;                  \
        for (size_t x = 0; x < xfull; x += 16) {                                            \
            /* The 2 × 16 columns of all K im2col rows, packed in L1. */                   \
            for (size_t p = 0; p < K; p++) {                                                \
                im2col_run(in, p, b, y0, x, 16, strip + 32 * p);                            \
                im2col_run(in, p, b, y0 + 1, x, 16, strip + 32 * p + 16);                   \
            }                                                                               \
            size_t co = 0;                                                                  \
            for (; co + MR <= M; co += MR) CP_BLOCK(MR)                                     \
            for (; co < M; co++) CP_BLOCK(1)                                                \
        }                                                                                   \
        for (size_t x = xfull; x < W; x += 2)                                               \
            for (size_t co = 0; co < M; co++) {                                             \
                float v[4] = {0, 0, 0, 0}, cv[4];                                           \
                for (size_t p = 0; p < K; p++) {                                            \
                    im2col_run(in, p, b, y0, x, 2, cv);                                     \
                    im2col_run(in, p, b, y0 + 1, x, 2, cv + 2);                             \
                    for (int t = 0; t < 4; t++) v[t] = __builtin_fmaf(w[co * K + p], cv[t], v[t]); \
                }                                                                           \
                float best = v[0]; uint8_t a = 0;                                           \
                if (v[1] > best) { best = v[1]; a = 1; }                                    \
                if (v[2] > best) { best = v[2]; a = 2; }                                    \
                if (v[3] > best) { best = v[3]; a = 3; }                                    \
                const float s = best + bias[co];                                            \
                const size_t o = co * P + o0 + x / 2;                                       \
                output[o] = (0.0f >= s) ? 0.0f : s;                                         \
                argmax[o] = a;                                                              \
            }                                                                               \
    }

#define PARAMS_CP const float *restrict w, const conv_input *in, const float *restrict bias, size_t M,     \
                  size_t K, size_t N, size_t rp_lo, size_t rp_hi, float *restrict output,                    \
                  uint8_t *restrict argmax, float *restrict strip

#if defined(__x86_64__)
MXS_AVX2 static void conv_pool_avx2(PARAMS_CP) { CP_BODY(2) }
MXS_AVX512 static void conv_pool_avx512(PARAMS_CP) { CP_BODY(8) }
#endif

int mxs_conv3x3_pool(const float *w, const float *input, size_t channel_stride, size_t batch_stride,
                     const float *bias, size_t m, size_t channels, size_t batch, size_t height, size_t width,
                     size_t rp_lo, size_t rp_hi, float *output, uint8_t *argmax, float *scratch) {
    const conv_input in = {input, channel_stride, batch_stride, height, width};
    const size_t n = batch * height * width, k = 9 * channels;
#if defined(__x86_64__)
    switch (mxs_kernels_isa()) {
    case MXS_ISA_AVX512: conv_pool_avx512(w, &in, bias, m, k, n, rp_lo, rp_hi, output, argmax, scratch); return 1;
    case MXS_ISA_AVX2: conv_pool_avx2(w, &in, bias, m, k, n, rp_lo, rp_hi, output, argmax, scratch); return 1;
    default: break;
    }
#endif
    (void)w; (void)in; (void)bias; (void)m; (void)k; (void)n; (void)rp_lo; (void)rp_hi; (void)output; (void)argmax;
    (void)scratch;
    return 0;
}

// ---- conv0's weight gradient fused with the pool's backward: dW[M×K] = dConv[M×N]·col[K×N]ᵀ
// summed as NT_BLOCK does (16 lanes, reduce16), where dConv is what BiasReLUMaxPool.backward makes
// (the pooled gradient at each window's argmax where the pooled output is positive, +0
// elsewhere), built a chunk of CL columns at a time (whole row pairs, a multiple of 16)
// instead of as a whole [M, N] tensor; and dBias[co] = Σ of those gradients in pooled order.
// One row pair of dConv from its pooled gradient: for each of the OW windows, gv = the
// gradient where the pooled output is positive, else +0, written at the window's argmax in
// rows r0 = dst and r1 = dst + 2·OW, +0 at its other three positions; returns sum + gv in
// window order (adding +0 never changes a sum that is never −0).
MXS_AVX2 INLINE float unpool_pair(const float *restrict g, const float *restrict y, const uint8_t *restrict am,
                                  size_t OW, float *restrict dst, float sum) {
    float *restrict r0 = dst, *restrict r1 = dst + 2 * OW;
    size_t ox = 0;
    for (; ox + 8 <= OW; ox += 8) {
        const v8i pos = LOAD(v8f, y + ox) > (v8f){0};
        const v8f gv = (v8f)(pos & (v8i)LOAD(v8f, g + ox));
        const v8i a = __builtin_convertvector(LOAD(v8u8, am + ox), v8i);
        const v8f e0 = (v8f)((a == 0) & (v8i)gv), o0 = (v8f)((a == 1) & (v8i)gv);
        const v8f e1 = (v8f)((a == 2) & (v8i)gv), o1 = (v8f)((a == 3) & (v8i)gv);
        STORE(r0 + 2 * ox, __builtin_shufflevector(e0, o0, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15));
        STORE(r1 + 2 * ox, __builtin_shufflevector(e1, o1, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15));
        for (int l = 0; l < 8; l++) sum += gv[l];
    }
    for (; ox < OW; ox++) {
        const float gv = y[ox] > 0 ? g[ox] : 0.0f;
        const unsigned a = am[ox];
        r0[2 * ox] = a == 0 ? gv : 0.0f;
        r0[2 * ox + 1] = a == 1 ? gv : 0.0f;
        r1[2 * ox] = a == 2 ? gv : 0.0f;
        r1[2 * ox + 1] = a == 3 ? gv : 0.0f;
        sum += gv;
    }
    return sum;
}

static size_t gcd_size(size_t a, size_t b) { while (b) { size_t t = a % b; a = b; b = t; } return a; }

size_t mxs_conv3x3_pool_weight_grad_chunk(size_t width) {
    const size_t l0 = 16 / gcd_size(16, 2 * width) * 2 * width;  // lcm(16, 2W)
    return l0 * (l0 < 256 ? 256 / l0 : 1);
}

size_t mxs_conv3x3_pool_weight_grad_scratch(size_t rows, size_t channels, size_t width) {
    const size_t k = 9 * channels, cl = mxs_conv3x3_pool_weight_grad_chunk(width) + 16;
    return rows * k * 16 + (rows + k) * cl;
}

// dConv (abuf) and col (bbuf) are built a chunk of CL columns at a time, rows CS = CL + 16
// floats apart so that they do not all fall in the same cache sets.
#define PWG_A(i, p) (abuf + ((i) - i_lo) * CS + ((p) - c0))
#define PWG_B(j, p) (bbuf + (j) * CS + ((p) - c0))
#define PWG_LANE(i, j) (lanes + (((i) - i_lo) * K + (j)) * 16)
#define PWG_BODY(VT, MR, NR)                                                                \
    const size_t H = in->H, W = in->W, N = B * H * W, OW = W / 2, P = N / 4, full = N / 16 * 16; \
    const size_t CL = mxs_conv3x3_pool_weight_grad_chunk(W), CS = CL + 16, rows = i_hi - i_lo; \
    float *restrict abuf = scratch + rows * K * 16, *restrict bbuf = abuf + rows * CS;     \
    memset(lanes, 0, rows * K * 16 * sizeof(float));                                        \
    for (size_t i = i_lo; i < i_hi; i++) d_bias[i] = 0;                                     \
    for (size_t c0 = 0; c0 < N; c0 += CL) {                                                 \
        const size_t c1 = c0 + CL < N ? c0 + CL : N;                                        \
        for (size_t j = 0; j < K; j++)                                                      \
            for (size_t row = c0 / W; row < c1 / W; row++)                                  \
                im2col_run(in, j, row / H, row % H, 0, W, bbuf + j * CS + (row * W - c0));  \
        /* dConv and dBias, per row pair and channel: every position of the row pair is   \
           written (the pooled gradient where the window's argmax is, +0 elsewhere), 8     \
           windows at a time; each channel's sum is added in pooled order, as             \
           BiasReLUMaxPool.backward adds it (the channels' chains are independent). */    \
        for (size_t rp = c0 / (2 * W); rp < c1 / (2 * W); rp++)                             \
            for (size_t i = i_lo; i < i_hi; i++)                                            \
                d_bias[i] = unpool_pair(g + i * P + rp * OW, y + i * P + rp * OW, am + i * P + rp * OW, \
                                        OW, abuf + (i - i_lo) * CS + (rp * 2 * W - c0), d_bias[i]); \
        const size_t p0 = c0, p1 = c1 < full ? c1 : full;                                   \
        if (p0 < p1) {                                                                      \
            size_t i = i_lo;                                                                \
            for (; i + MR <= i_hi; i += MR) {                                               \
                size_t j = 0;                                                               \
                for (; j + NR <= K; j += NR) NT_BLOCK(VT, MR, NR, PWG_A, PWG_B, PWG_LANE, p0, p1)     \
                for (; j < K; j++) NT_BLOCK(VT, MR, 1, PWG_A, PWG_B, PWG_LANE, p0, p1)                \
            }                                                                               \
            for (; i < i_hi; i++)                                                           \
                for (size_t j = 0; j < K; j++) NT_BLOCK(VT, 1, 1, PWG_A, PWG_B, PWG_LANE, p0, p1)     \
        }                                                                                   \
        for (size_t p = (c0 > full ? c0 : full); p < c1; p++)                               \
            for (size_t i = i_lo; i < i_hi; i++)                                            \
                for (size_t j = 0; j < K; j++) {                                            \
                    float *l = PWG_LANE(i, j) + (p - full);                                 \
                    *l = __builtin_fmaf(*PWG_A(i, p), *PWG_B(j, p), *l);                    \
                }                                                                           \
    }                                                                                       \
    for (size_t i = i_lo; i < i_hi; i++)                                                    \
        for (size_t j = 0; j < K; j++) d_weight[i * K + j] = reduce16(PWG_LANE(i, j));

#define PARAMS_PWG const float *restrict g, const float *restrict y, const uint8_t *restrict am,          \
                   const conv_input *in, size_t K, size_t B, size_t i_lo, size_t i_hi,                    \
                   float *restrict d_weight, float *restrict d_bias, float *restrict scratch

#if defined(__x86_64__)
MXS_AVX2 static void pwg_avx2(PARAMS_PWG) { float *restrict lanes = scratch; PWG_BODY(v8, 2, 3) }
MXS_AVX512 static void pwg_avx512(PARAMS_PWG) { float *restrict lanes = scratch; PWG_BODY(v16, 8, 3) }
#endif

int mxs_conv3x3_pool_weight_grad(const float *d_pooled, const float *pooled, const uint8_t *argmax,
                                 const float *input, size_t channel_stride, size_t batch_stride, size_t channels,
                                 size_t batch, size_t height, size_t width, size_t co_lo, size_t co_hi,
                                 float *d_weight, float *d_bias, float *scratch) {
    const conv_input in = {input, channel_stride, batch_stride, height, width};
    const size_t k = 9 * channels;
#if defined(__x86_64__)
    switch (mxs_kernels_isa()) {
    case MXS_ISA_AVX512: pwg_avx512(d_pooled, pooled, argmax, &in, k, batch, co_lo, co_hi, d_weight, d_bias, scratch); return 1;
    case MXS_ISA_AVX2: pwg_avx2(d_pooled, pooled, argmax, &in, k, batch, co_lo, co_hi, d_weight, d_bias, scratch); return 1;
    default: break;
    }
#endif
    (void)d_pooled; (void)pooled; (void)argmax; (void)in; (void)k; (void)batch; (void)co_lo; (void)co_hi;
    (void)d_weight; (void)d_bias; (void)scratch;
    return 0;
}
