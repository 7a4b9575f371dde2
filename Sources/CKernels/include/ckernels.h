#ifndef MIXSHARDS_CKERNELS_H
#define MIXSHARDS_CKERNELS_H
#include <stddef.h>
#include <stdint.h>

/// Which code path the kernels below run: 3 = AVX-512 (with AVX2 and FMA), 2 = AVX2 and FMA,
/// 0 = baseline x86-64 (or not x86). Detected once, unless forced.
int mxs_kernels_isa(void);

/// The best path this CPU supports (what `mxs_kernels_isa` detects).
int mxs_kernels_detected_isa(void);

/// Forces the path (tests): `isa` is lowered to what the CPU supports (a negative value
/// restores the detected one). Returns the path now in use. Not for use while kernels run.
int mxs_kernels_force_isa(int isa);

/// Winograd F(2×2,3×3) output transform fused with 2×2 max-pool, bias and ReLU, over
/// channels [co_lo, co_hi): for idx = co·T + t, reads the 16 values m[ξ·plane + idx],
/// writes output[idx] = max(max over the 2×2 tile of AᵀMA + bias[co], 0) and
/// argmax[idx] ∈ 0…3 (first maximum in row-major order). Bit-identical to the Swift
/// reference `winogradOutputPoolReference`.
void mxs_wino_output_pool(const float *m, size_t plane, size_t T, size_t co_lo, size_t co_hi,
                          const float *bias, float *output, uint8_t *argmax);

/// Its adjoint for channels [co_lo, co_hi): dM[ξ·plane + idx] = (A·dY·Aᵀ)[ξ] with dY one-hot
/// at argmax[idx] carrying g = output[idx] > 0 ? dOutput[idx] : 0, and dBias[co] = Σ_t g
/// (summed in t order). Bit-identical to `winogradOutputPoolBackwardReference`.
void mxs_wino_output_pool_backward(const float *d_output, const float *output, const uint8_t *argmax,
                                   size_t plane, size_t T, size_t co_lo, size_t co_hi,
                                   float *dm, float *d_bias);


/// Floats of scratch `mxs_wino_input_transform` and `mxs_wino_input_gradient` need for
/// planes of height×width.
size_t mxs_wino_input_scratch(size_t height, size_t width);

/// Winograd F(2×2,3×3) input transform of the (channel, image) planes cb in [cb_lo, cb_hi)
/// of `input [C, batch, H, W]` (CNHW, H and W even, pad 1): writes V[ξ·plane + c·T + b·H/2·W/2 + t]
/// = (Bᵀ·d·B)[ξ] for every tile t of the plane (T = batch·H/2·W/2). Bit-identical to the
/// Swift reference `winogradInputTransformReference`.
void mxs_wino_input_transform(const float *input, size_t height, size_t width, size_t batch, size_t plane,
                              size_t cb_lo, size_t cb_hi, float *v, float *scratch);

/// Its adjoint for planes [cb_lo, cb_hi): d_input (overwritten) = Σ over windows of B·dV·Bᵀ,
/// padding dropped. Bit-identical to `winogradInputGradientReference`.
void mxs_wino_input_gradient(const float *dv, size_t height, size_t width, size_t batch, size_t plane,
                             size_t cb_lo, size_t cb_hi, float *d_input, float *scratch);

/// Winograd weight transform U[ξ·plane + o] = (G·g·Gᵀ)[ξ] for the 3×3 filters o in
/// [o_lo, o_hi) of `weight` [o, 3, 3] (o = co·Cin + ci). Bit-identical to the Swift reference
/// `winogradWeightTransformReference`.
void mxs_wino_weight_transform(const float *weight, size_t plane, size_t o_lo, size_t o_hi, float *u);

/// Its adjoint for filters [o_lo, o_hi): d_weight[o, 3, 3] (overwritten) = Gᵀ·dU·G. Bit-identical
/// to `winogradWeightGradientReference`.
void mxs_wino_weight_gradient(const float *du, size_t plane, size_t o_lo, size_t o_hi, float *d_weight);

/// conv0's forward: a 3×3, pad 1, stride 1 convolution of `input` (element (c, b, y, x) at
/// c·channel_stride + b·batch_stride + y·width + x) with `w [m, 9·channels]`, fused with bias,
/// ReLU and 2×2 max-pool, for the row pairs rp = b·(H/2) + oy in [rp_lo, rp_hi) (H, W even).
/// Each conv value is the chain acc = 0; for p in 0..<9·channels: acc = fma(w[i][p], col[p][j],
/// acc) over the im2col column j; output/argmax [m, batch, H/2, W/2] get exactly what
/// BiasReLUMaxPool.forward makes of them. `scratch` holds 288·channels floats. Returns 0
/// without computing anything when the CPU has no AVX2+FMA path.
int mxs_conv3x3_pool(const float *w, const float *input, size_t channel_stride, size_t batch_stride,
                     const float *bias, size_t m, size_t channels, size_t batch, size_t height, size_t width,
                     size_t rp_lo, size_t rp_hi, float *output, uint8_t *argmax, float *scratch);

/// Columns per chunk of `mxs_conv3x3_pool_weight_grad` for planes `width` wide (whole row
/// pairs, a multiple of 16).
size_t mxs_conv3x3_pool_weight_grad_chunk(size_t width);

/// Floats of scratch `mxs_conv3x3_pool_weight_grad` needs for `rows` output channels.
size_t mxs_conv3x3_pool_weight_grad_scratch(size_t rows, size_t channels, size_t width);

/// The backward of `mxs_conv3x3_pool` without the input gradient, for output channels
/// [co_lo, co_hi): dBias[co] as BiasReLUMaxPool.backward sums it, and dW[co][p] =
/// Σ_j dConv[co][j]·col[p][j] in 16 lanes (lane l: j ≡ l mod 16, fma chains in j order from 0)
/// reduced pairwise: s8 = l[0:8] + l[8:16], s4 = s8[0:4] + s8[4:8], s2 = s4[0:2] + s4[2:4],
/// dW = s2[0] + s2[1] — for the dConv BiasReLUMaxPool.backward would write, built a chunk at
/// a time, never whole. Returns 0 without computing anything when the CPU has no AVX2+FMA path.
int mxs_conv3x3_pool_weight_grad(const float *d_pooled, const float *pooled, const uint8_t *argmax,
                                 const float *input, size_t channel_stride, size_t batch_stride, size_t channels,
                                 size_t batch, size_t height, size_t width, size_t co_lo, size_t co_hi,
                                 float *d_weight, float *d_bias, float *scratch);

/// Adam's (AdamW's with `decays`) update of parameters [lo, hi): for each i,
/// m = m + (g − m)·w1, v = v·b2 + w2·g², denom = √v / bc2_sqrt + eps,
/// p = (decays ? p·decay : p) − step_size·(m / denom). Bit-identical to the Swift reference
/// `adamUpdateReference`.
void mxs_adam_step(float *p, const float *g, float *m, float *v, size_t lo, size_t hi, float w1, float b2, float w2,
                   float bc2_sqrt, float eps, float step_size, int decays, float decay);

#endif
