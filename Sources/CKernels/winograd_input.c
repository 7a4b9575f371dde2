// The Winograd F(2×2,3×3) input transform V = Bᵀ·d·B and its adjoint, per (channel, image)
// plane, compiled for baseline x86-64, AVX2 and AVX-512 and chosen at run time (isa.c).
//
// Every float operation is one of the Swift reference's (winogradInputTransformReference,
// winogradInputGradientReference in Kernels/Reference.swift), on the same operands in the
// same order: there are only additions and subtractions, so no contraction applies, and
// the explicit `0.0f + x` / `0.0f - x` terms are the reference's accumulations into zeroed
// buffers (they differ from `x` / `-x` for signed zeros). So all paths give its bits.
//
// Layout trick: with the plane zero-padded to (H+2)×(W+2), padded column 2k is "even" (E)
// and 2k+1 "odd" (O); E[k] = src[2k−1] (E[0] = 0), O[k] = src[2k] (O[W/2] = 0). Tile tx reads
// padded columns 2tx…2tx+3 = E[tx], O[tx], E[tx+1], O[tx+1], so after splitting each row
// into its E and O halves every pass is an element-wise loop over contiguous arrays, which
// clang vectorises.
#include "ckernels.h"
#include "isa.h"

#pragma clang fp contract(off)

#define INLINE static inline __attribute__((always_inline))
// The planes are narrow (W/2 = 8, 4, 2 tiles in the seed CNN): vectors of 4, so that the
// loops run vectorised at all instead of in the scalar remainder of 8- or 16-wide ones.
#define NARROW _Pragma("clang loop vectorize_width(4) interleave_count(1)")

// The two passes of the input transform as functions of restrict parameters (inlined), so
// that clang knows the rows do not overlap and vectorises without run-time checks.
INLINE void row_pass(const float *restrict p0, const float *restrict p1, const float *restrict p2,
                     const float *restrict p3, float *restrict r0, float *restrict r1, float *restrict r2,
                     float *restrict r3, size_t n) {
    NARROW
    for (size_t x = 0; x < n; x++) {
        r0[x] = p0[x] - p2[x];
        r1[x] = p1[x] + p2[x];
        r2[x] = p2[x] - p1[x];
        r3[x] = p1[x] - p3[x];
    }
}

// a, b, c, d = padded columns 2tx…2tx+3 of a row-pass row: E[tx], O[tx], E[tx+1], O[tx+1].
INLINE void column_pass(const float *restrict e, const float *restrict o, float *restrict l0, float *restrict l1,
                        float *restrict l2, float *restrict l3, size_t txn) {
    NARROW
    for (size_t tx = 0; tx < txn; tx++) {
        const float a = e[tx], b = o[tx], c = e[tx + 1], d = o[tx + 1];
        l0[tx] = a - c;
        l1[tx] = b + c;
        l2[tx] = c - b;
        l3[tx] = b - d;
    }
}

size_t mxs_wino_input_scratch(size_t height, size_t width) {
    const size_t n1 = width / 2 + 1;
    return (height + 2) * 2 * n1 + 8 * n1;
}

INLINE void input_transform(const float *restrict input, size_t H, size_t W, size_t batch, size_t plane,
                            size_t cb_lo, size_t cb_hi, float *restrict v, float *restrict scratch) {
    const size_t txn = W / 2, tyn = H / 2, n1 = txn + 1, per = tyn * txn, T = batch * per;
    float *restrict E = scratch;                 // (H+2) rows of n1: padded even columns
    float *restrict O = scratch + (H + 2) * n1;  // (H+2) rows of n1: padded odd columns
    float *restrict R = O + (H + 2) * n1;        // 8 rows of n1: Bᵀ·d rows r = 0…3, E then O
    for (size_t x = 0; x < n1; x++) {
        E[x] = 0; O[x] = 0; E[(H + 1) * n1 + x] = 0; O[(H + 1) * n1 + x] = 0;
    }
    for (size_t cb = cb_lo; cb < cb_hi; cb++) {
        const size_t c = cb / batch, b = cb % batch;
        const float *restrict src = input + cb * H * W;
        for (size_t y = 0; y < H; y++) {
            float *restrict e = E + (y + 1) * n1, *restrict o = O + (y + 1) * n1;
            const float *restrict s = src + y * W;
            e[0] = 0;
            NARROW
            for (size_t k = 0; k < txn; k++) { o[k] = s[2 * k]; e[k + 1] = s[2 * k + 1]; }
            o[txn] = 0;
        }
        float *dst = v + c * T + b * per;
        for (size_t ty = 0; ty < tyn; ty++) {
            // Row pass Bᵀ·d over the four padded rows 2ty…2ty+3, both halves.
            for (int half = 0; half < 2; half++) {
                const float *p0 = (half ? O : E) + 2 * ty * n1;
                float *r0 = R + half * 4 * n1;
                row_pass(p0, p0 + n1, p0 + 2 * n1, p0 + 3 * n1, r0, r0 + n1, r0 + 2 * n1, r0 + 3 * n1, n1);
            }
            // Column pass ·B per tile.
            for (int r = 0; r < 4; r++) {
                float *l0 = dst + (size_t)(4 * r) * plane + ty * txn;
                column_pass(R + r * n1, R + (4 + r) * n1, l0, l0 + plane, l0 + 2 * plane, l0 + 3 * plane, txn);
            }
        }
    }
}

INLINE void input_gradient(const float *restrict dv, size_t H, size_t W, size_t batch, size_t plane,
                           size_t cb_lo, size_t cb_hi, float *restrict d_input, float *restrict scratch) {
    const size_t txn = W / 2, tyn = H / 2, n1 = txn + 1, per = tyn * txn, T = batch * per;
    // q_r (r = 0…3): the column pass of dV row r into padded columns, E and O halves.
    float *restrict QE = scratch, *restrict QO = scratch + 4 * n1;
    // Padded rows 2ty (cE) and 2ty+1 (cO) as accumulated before tile row ty adds to them.
    float *restrict cEe = scratch + 8 * n1, *restrict cEo = cEe + n1;
    float *restrict cOe = cEo + n1, *restrict cOo = cOe + n1;
    for (size_t cb = cb_lo; cb < cb_hi; cb++) {
        const size_t c = cb / batch, b = cb % batch;
        const float *src = dv + c * T + b * per;
        float *restrict out = d_input + cb * H * W;
        for (size_t x = 0; x < n1; x++) { cOe[x] = 0; cOo[x] = 0; }
        for (size_t ty = 0; ty < tyn; ty++) {
            for (int r = 0; r < 4; r++) {
                const float *restrict x0 = src + (size_t)(4 * r) * plane + ty * txn;
                const float *restrict x1 = x0 + plane, *restrict x2 = x1 + plane, *restrict x3 = x2 + plane;
                float *restrict qe = QE + r * n1, *restrict qo = QO + r * n1;
                // Reference: q = 0; per tile q[2tx] += x0; q[2tx+1] += x1 − x2 + x3;
                // q[2tx+2] += x1 + x2 − x0; q[2tx+3] −= x3.
                qe[0] = 0.0f + x0[0];
                qo[0] = 0.0f + ((x1[0] - x2[0]) + x3[0]);
                for (size_t k = 1; k < txn; k++) {
                    qe[k] = (0.0f + ((x1[k - 1] + x2[k - 1]) - x0[k - 1])) + x0[k];
                    qo[k] = (0.0f - x3[k - 1]) + ((x1[k] - x2[k]) + x3[k]);
                }
                qe[txn] = 0.0f + ((x1[txn - 1] + x2[txn - 1]) - x0[txn - 1]);
                qo[txn] = 0.0f - x3[txn - 1];
            }
            // Row pass B·Q: padded row 2ty gets q0, 2ty+1 gets q1 − q2 + q3, 2ty+2 gets
            // q1 + q2 − q0, 2ty+3 gets −q3. Output row y is padded row y+1, output column
            // 2k is padded column 2k+1 (O[k]) and 2k+1 is padded column 2k+2 (E[k+1]).
            const float *restrict q0e = QE, *restrict q1e = QE + n1, *restrict q2e = QE + 2 * n1, *restrict q3e = QE + 3 * n1;
            const float *restrict q0o = QO, *restrict q1o = QO + n1, *restrict q2o = QO + 2 * n1, *restrict q3o = QO + 3 * n1;
            if (ty > 0) {
                float *restrict d = out + (2 * ty - 1) * W;
                NARROW
                for (size_t k = 0; k < txn; k++) {
                    d[2 * k] = cEo[k] + q0o[k];
                    d[2 * k + 1] = cEe[k + 1] + q0e[k + 1];
                }
            }
            float *restrict d = out + 2 * ty * W;
            NARROW
            for (size_t k = 0; k < txn; k++) {
                d[2 * k] = cOo[k] + ((q1o[k] - q2o[k]) + q3o[k]);
                d[2 * k + 1] = cOe[k + 1] + ((q1e[k + 1] - q2e[k + 1]) + q3e[k + 1]);
            }
            NARROW
            for (size_t x = 0; x < n1; x++) {
                cEe[x] = 0.0f + ((q1e[x] + q2e[x]) - q0e[x]);
                cEo[x] = 0.0f + ((q1o[x] + q2o[x]) - q0o[x]);
                cOe[x] = 0.0f - q3e[x];
                cOo[x] = 0.0f - q3o[x];
            }
        }
        float *restrict d = out + (H - 1) * W;
        for (size_t k = 0; k < txn; k++) { d[2 * k] = cEo[k]; d[2 * k + 1] = cEe[k + 1]; }
    }
}

#define PARAMS_IT const float *input, size_t H, size_t W, size_t batch, size_t plane, size_t lo, size_t hi, \
                  float *v, float *scratch
#define PARAMS_IG const float *dv, size_t H, size_t W, size_t batch, size_t plane, size_t lo, size_t hi, \
                  float *d_input, float *scratch

static void input_transform_base(PARAMS_IT) { input_transform(input, H, W, batch, plane, lo, hi, v, scratch); }
static void input_gradient_base(PARAMS_IG) { input_gradient(dv, H, W, batch, plane, lo, hi, d_input, scratch); }
#if defined(__x86_64__)
MXS_AVX2 static void input_transform_avx2(PARAMS_IT) { input_transform(input, H, W, batch, plane, lo, hi, v, scratch); }
MXS_AVX2 static void input_gradient_avx2(PARAMS_IG) { input_gradient(dv, H, W, batch, plane, lo, hi, d_input, scratch); }
MXS_AVX512 static void input_transform_avx512(PARAMS_IT) { input_transform(input, H, W, batch, plane, lo, hi, v, scratch); }
MXS_AVX512 static void input_gradient_avx512(PARAMS_IG) { input_gradient(dv, H, W, batch, plane, lo, hi, d_input, scratch); }
#endif

void mxs_wino_input_transform(const float *input, size_t height, size_t width, size_t batch, size_t plane,
                              size_t cb_lo, size_t cb_hi, float *v, float *scratch) {
#if defined(__x86_64__)
    switch (mxs_kernels_isa()) {
    case MXS_ISA_AVX512: input_transform_avx512(input, height, width, batch, plane, cb_lo, cb_hi, v, scratch); return;
    case MXS_ISA_AVX2: input_transform_avx2(input, height, width, batch, plane, cb_lo, cb_hi, v, scratch); return;
    default: break;
    }
#endif
    input_transform_base(input, height, width, batch, plane, cb_lo, cb_hi, v, scratch);
}

void mxs_wino_input_gradient(const float *dv, size_t height, size_t width, size_t batch, size_t plane,
                             size_t cb_lo, size_t cb_hi, float *d_input, float *scratch) {
#if defined(__x86_64__)
    switch (mxs_kernels_isa()) {
    case MXS_ISA_AVX512: input_gradient_avx512(dv, height, width, batch, plane, cb_lo, cb_hi, d_input, scratch); return;
    case MXS_ISA_AVX2: input_gradient_avx2(dv, height, width, batch, plane, cb_lo, cb_hi, d_input, scratch); return;
    default: break;
    }
#endif
    input_gradient_base(dv, height, width, batch, plane, cb_lo, cb_hi, d_input, scratch);
}

// ---- The weight transform U = G·g·Gᵀ and its adjoint dg = Gᵀ·dU·G, over the flat filter
// index o = co·Cin + ci in [o_lo, o_hi) (U[ξ·plane + o], g and dg [o, 3, 3]): the Swift
// references' operations (winogradWeightTransformReference, winogradWeightGradientReference),
// in their order, vectorised across filters.
INLINE void weight_transform(const float *restrict weight, size_t plane, size_t o_lo, size_t o_hi, float *restrict u) {
    for (size_t o = o_lo; o < o_hi; o++) {
        const float *g = weight + 9 * o;
        // t = G·g (4×3): rows g0, ½(g0 + g1 + g2), ½(g0 − g1 + g2), g2.
        float t[4][3];
        for (int c = 0; c < 3; c++) {
            const float a = g[c], b = g[3 + c], d = g[6 + c];
            t[0][c] = a;
            t[1][c] = 0.5f * ((a + b) + d);
            t[2][c] = 0.5f * ((a - b) + d);
            t[3][c] = d;
        }
        // u = t·Gᵀ (4×4).
        for (int r = 0; r < 4; r++) {
            const float x0 = t[r][0], x1 = t[r][1], x2 = t[r][2];
            u[(size_t)(4 * r + 0) * plane + o] = x0;
            u[(size_t)(4 * r + 1) * plane + o] = 0.5f * ((x0 + x1) + x2);
            u[(size_t)(4 * r + 2) * plane + o] = 0.5f * ((x0 - x1) + x2);
            u[(size_t)(4 * r + 3) * plane + o] = x2;
        }
    }
}

INLINE void weight_gradient(const float *restrict du, size_t plane, size_t o_lo, size_t o_hi, float *restrict dg) {
    for (size_t o = o_lo; o < o_hi; o++) {
        // s = dU·G (4×3): columns of G are (1,½,½,0), (0,½,−½,0), (0,½,½,1).
        float s[4][3];
        for (int r = 0; r < 4; r++) {
            const float a = du[(size_t)(4 * r) * plane + o], b = du[(size_t)(4 * r + 1) * plane + o];
            const float c = du[(size_t)(4 * r + 2) * plane + o], d = du[(size_t)(4 * r + 3) * plane + o];
            s[r][0] = a + 0.5f * (b + c);
            s[r][1] = 0.5f * (b - c);
            s[r][2] = 0.5f * (b + c) + d;
        }
        // dg = Gᵀ·s (3×3).
        float *out = dg + 9 * o;
        for (int c = 0; c < 3; c++) {
            out[c] = s[0][c] + 0.5f * (s[1][c] + s[2][c]);
            out[3 + c] = 0.5f * (s[1][c] - s[2][c]);
            out[6 + c] = 0.5f * (s[1][c] + s[2][c]) + s[3][c];
        }
    }
}

#define PARAMS_WT const float *weight, size_t plane, size_t lo, size_t hi, float *u
#define PARAMS_WG const float *du, size_t plane, size_t lo, size_t hi, float *dg
static void weight_transform_base(PARAMS_WT) { weight_transform(weight, plane, lo, hi, u); }
static void weight_gradient_base(PARAMS_WG) { weight_gradient(du, plane, lo, hi, dg); }
#if defined(__x86_64__)
MXS_AVX2 static void weight_transform_avx2(PARAMS_WT) { weight_transform(weight, plane, lo, hi, u); }
MXS_AVX2 static void weight_gradient_avx2(PARAMS_WG) { weight_gradient(du, plane, lo, hi, dg); }
MXS_AVX512 static void weight_transform_avx512(PARAMS_WT) { weight_transform(weight, plane, lo, hi, u); }
MXS_AVX512 static void weight_gradient_avx512(PARAMS_WG) { weight_gradient(du, plane, lo, hi, dg); }
#endif

void mxs_wino_weight_transform(const float *weight, size_t plane, size_t o_lo, size_t o_hi, float *u) {
#if defined(__x86_64__)
    switch (mxs_kernels_isa()) {
    case MXS_ISA_AVX512: weight_transform_avx512(weight, plane, o_lo, o_hi, u); return;
    case MXS_ISA_AVX2: weight_transform_avx2(weight, plane, o_lo, o_hi, u); return;
    default: break;
    }
#endif
    weight_transform_base(weight, plane, o_lo, o_hi, u);
}

void mxs_wino_weight_gradient(const float *du, size_t plane, size_t o_lo, size_t o_hi, float *d_weight) {
#if defined(__x86_64__)
    switch (mxs_kernels_isa()) {
    case MXS_ISA_AVX512: weight_gradient_avx512(du, plane, o_lo, o_hi, d_weight); return;
    case MXS_ISA_AVX2: weight_gradient_avx2(du, plane, o_lo, o_hi, d_weight); return;
    default: break;
    }
#endif
    weight_gradient_base(du, plane, o_lo, o_hi, d_weight);
}
