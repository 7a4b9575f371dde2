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

/// V[16, C, T] = Bᵀ·d·B for every 4×4 input window of `input [C, B, H, W]` (CNHW, pad 1).
///
/// Works per (channel, image) plane: the plane is copied into a zero-bordered
/// (H+2)×(W+2) buffer (no bounds checks in the tile loop), transformed into a local
/// [16, (H/2)·(W/2)] block, and each of the 16 rows is then written as one contiguous run.
public func winogradInputTransform(_ input: UnsafePointer<Float>, channels: Int, batch: Int, height H: Int, width W: Int,
                                   v: UnsafeMutablePointer<Float>) {
    precondition(H % 2 == 0 && W % 2 == 0, "Winograd F(2,3) needs even sides")
    let tilesY = H / 2, tilesX = W / 2, perImage = tilesY * tilesX, T = batch * perImage
    let plane = winogradSlabStride(channels * T)
    let P = W + 2, rows = H + 2
    parallelFor(channels * batch) { cb in
        let c = cb / batch, b = cb % batch
        let src = input + cb * H * W          // (c·B + b)·H·W in CNHW
        withUnsafeTemporaryAllocation(of: Float.self, capacity: P * rows + 16 * perImage) { buf in
            let pad = buf.baseAddress!, local = pad + P * rows
            pad.update(repeating: 0, count: P)
            for y in 0..<H {
                let row = pad + (y + 1) * P
                row[0] = 0
                (row + 1).update(from: src + y * W, count: W)
                row[W + 1] = 0
            }
            (pad + (H + 1) * P).update(repeating: 0, count: P)
            // Row pass Bᵀ·d over whole padded rows (contiguous, vectorisable), then the
            // column pass per tile.
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * P) { rb in
                let R = rb.baseAddress!
                for ty in 0..<tilesY {
                    let p0 = pad + 2 * ty * P, p1 = p0 + P, p2 = p1 + P, p3 = p2 + P
                    for x in 0..<P {
                        R[x] = p0[x] - p2[x]
                        R[P + x] = p1[x] + p2[x]
                        R[2 * P + x] = p2[x] - p1[x]
                        R[3 * P + x] = p1[x] - p3[x]
                    }
                    for r in 0..<4 {
                        let q = R + r * P
                        let l0 = local + (4 * r) * perImage + ty * tilesX
                        let l1 = l0 + perImage, l2 = l1 + perImage, l3 = l2 + perImage
                        for tx in 0..<tilesX {
                            let a = q[2 * tx], b = q[2 * tx + 1], c = q[2 * tx + 2], d = q[2 * tx + 3]
                            l0[tx] = a - c
                            l1[tx] = b + c
                            l2[tx] = c - b
                            l3[tx] = b - d
                        }
                    }
                }
            }
            let dst = v + c * T + b * perImage
            for xi in 0..<16 {
                (dst + xi * plane).update(from: local + xi * perImage, count: perImage)
            }
        }
    }
}

/// dInput [C, B, H, W] (overwritten) = Σ over windows of B·dV·Bᵀ, the adjoint of
/// `winogradInputTransform` (padding positions dropped).
public func winogradInputGradient(_ dv: UnsafePointer<Float>, channels: Int, batch: Int, height H: Int, width W: Int,
                                  dInput: UnsafeMutablePointer<Float>) {
    precondition(H % 2 == 0 && W % 2 == 0, "Winograd F(2,3) needs even sides")
    let tilesY = H / 2, tilesX = W / 2, perImage = tilesY * tilesX, T = batch * perImage
    let plane = winogradSlabStride(channels * T)
    let P = W + 2, rows = H + 2
    parallelFor(channels * batch) { cb in
        let c = cb / batch, b = cb % batch
        withUnsafeTemporaryAllocation(of: Float.self, capacity: P * rows + 16 * perImage) { buf in
            let pad = buf.baseAddress!, local = pad + P * rows
            pad.update(repeating: 0, count: P * rows)
            let src = dv + c * T + b * perImage
            for xi in 0..<16 {
                (local + xi * perImage).update(from: src + xi * plane, count: perImage)
            }
            // Column pass (x·Bᵀ per dV row, per tile) into full-width rows Q_r, then the row
            // pass B·Q accumulated into four padded rows (contiguous, vectorisable).
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * P) { qb in
                let Q = qb.baseAddress!
                for ty in 0..<tilesY {
                    for r in 0..<4 {
                        let q = Q + r * P
                        q.update(repeating: 0, count: P)
                        let l0 = local + (4 * r) * perImage + ty * tilesX
                        let l1 = l0 + perImage, l2 = l1 + perImage, l3 = l2 + perImage
                        for tx in 0..<tilesX {
                            let x0 = l0[tx], x1 = l1[tx], x2 = l2[tx], x3 = l3[tx]
                            q[2 * tx] += x0
                            q[2 * tx + 1] += x1 - x2 + x3
                            q[2 * tx + 2] += x1 + x2 - x0
                            q[2 * tx + 3] -= x3
                        }
                    }
                    let p0 = pad + 2 * ty * P, p1 = p0 + P, p2 = p1 + P, p3 = p2 + P
                    let q0 = Q, q1 = Q + P, q2 = Q + 2 * P, q3 = Q + 3 * P
                    for x in 0..<P {
                        p0[x] += q0[x]
                        p1[x] += q1[x] - q2[x] + q3[x]
                        p2[x] += q1[x] + q2[x] - q0[x]
                        p3[x] -= q3[x]
                    }
                }
            }
            let dst = dInput + cb * H * W
            for y in 0..<H {
                (dst + y * W).update(from: pad + (y + 1) * P + 1, count: W)
            }
        }
    }
}
