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

/// U[16, Cout, Cin] = G·g·Gᵀ for each 3×3 filter of `weight [Cout, Cin, 3, 3]`.
public func winogradWeightTransform(_ weight: UnsafePointer<Float>, outChannels: Int, inChannels: Int,
                                    u: UnsafeMutablePointer<Float>) {
    let plane = winogradSlabStride(outChannels * inChannels)
    parallelFor(outChannels) { co in
        for ci in 0..<inChannels {
            let g = weight + (co * inChannels + ci) * 9
            // t = G·g  (4×3, rows held in SIMD4 with lane 3 unused)
            let g0 = SIMD4(g[0], g[1], g[2], 0), g1 = SIMD4(g[3], g[4], g[5], 0), g2 = SIMD4(g[6], g[7], g[8], 0)
            let t = (g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 - g1 + g2), g2)
            // u = t·Gᵀ  (4×4)
            let o = co * inChannels + ci
            @inline(__always) func store(_ x: SIMD4<Float>, _ r: Int) {
                u[(4 * r + 0) * plane + o] = x[0]
                u[(4 * r + 1) * plane + o] = 0.5 * (x[0] + x[1] + x[2])
                u[(4 * r + 2) * plane + o] = 0.5 * (x[0] - x[1] + x[2])
                u[(4 * r + 3) * plane + o] = x[2]
            }
            store(t.0, 0); store(t.1, 1); store(t.2, 2); store(t.3, 3)
        }
    }
}

/// dWeight [Cout, Cin, 3, 3] = Gᵀ·dU·G (overwritten), the adjoint of `winogradWeightTransform`.
public func winogradWeightGradient(_ du: UnsafePointer<Float>, outChannels: Int, inChannels: Int,
                                   dWeight: UnsafeMutablePointer<Float>) {
    let plane = winogradSlabStride(outChannels * inChannels)
    parallelFor(outChannels) { co in
        for ci in 0..<inChannels {
            let o = co * inChannels + ci
            // s = dU·G  (4×3): columns of G are (1,½,½,0), (0,½,−½,0), (0,½,½,1).
            @inline(__always) func srow(_ r: Int) -> SIMD4<Float> {
                let a = du[(4 * r) * plane + o], b = du[(4 * r + 1) * plane + o]
                let c = du[(4 * r + 2) * plane + o], d = du[(4 * r + 3) * plane + o]
                return SIMD4(a + 0.5 * (b + c), 0.5 * (b - c), 0.5 * (b + c) + d, 0)
            }
            let s0 = srow(0), s1 = srow(1), s2 = srow(2), s3 = srow(3)
            // dg = Gᵀ·s  (3×3)
            let r0 = s0 + 0.5 * (s1 + s2), r1 = 0.5 * (s1 - s2), r2 = 0.5 * (s1 + s2) + s3
            let dg = dWeight + o * 9
            dg[0] = r0[0]; dg[1] = r0[1]; dg[2] = r0[2]
            dg[3] = r1[0]; dg[4] = r1[1]; dg[5] = r1[2]
            dg[6] = r2[0]; dg[7] = r2[1]; dg[8] = r2[2]
        }
    }
}

// The input transform V = Bᵀ·d·B and its adjoint are C kernels (VectorKernels.swift,
// CKernels/winograd_input.c); their Swift versions are the references in Reference.swift.
