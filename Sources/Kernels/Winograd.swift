// Winograd F(2×2, 3×3) transforms (Lavin & Gray, 2015) for 3×3, pad 1, stride 1
// convolutions on CNHW tensors of H×W planes, H and W even (square or not).
//
// With output tiles of 2×2 (tile t = (b·H/2 + ty)·W/2 + tx, T = B·(H/2)·(W/2) tiles) and
// their 4×4 input windows d (rows 2ty−1…2ty+2, zero padded):
//
//   U[ξ][co][ci] = (G g Gᵀ)[ξ]            weights        [16, Cout, Cin]
//   V[ξ][ci][t]  = (Bᵀ d B)[ξ]            input tiles    [16, Cin, T]
//   M[ξ]         = U[ξ] · V[ξ]            16 GEMMs       [16, Cout, T]
//   Y tile       = Aᵀ M A                 2×2 outputs
//
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]   G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
//   Aᵀ = [1 1 1 0; 0 1 −1 −1]
//
// The backward pass uses the exact adjoints: dM = A dY Aᵀ, dU[ξ] = dM[ξ]·V[ξ]ᵀ,
// dV[ξ] = U[ξ]ᵀ·dM[ξ], dg = Gᵀ dU G, dd = B dV Bᵀ (scatter-added over overlapping windows).
// ξ = 4·r + c indexes the 4×4 transform domain.

/// Distance in floats between consecutive ξ slabs of an `n`-element `[16, …]` Winograd
/// buffer. Padded by one cache line so the 16 slabs never alias the same cache sets
/// (n is often a power of two).
@inline(__always)
public func winogradSlabStride(_ n: Int) -> Int { n + 16 }

// The weight transform U = G·g·Gᵀ, the input transform V = Bᵀ·d·B and their adjoints are C
// kernels (VectorKernels.swift, CKernels/winograd_input.c); their Swift versions are the
// references in Reference.swift.
