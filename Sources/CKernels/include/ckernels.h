#ifndef MIXSHARDS_CKERNELS_H
#define MIXSHARDS_CKERNELS_H
#include <stddef.h>
#include <stdint.h>

/// Which code path the kernels below run: 2 = AVX2, 0 = baseline x86-64 (or not x86).
int mxs_kernels_isa(void);

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

#endif
