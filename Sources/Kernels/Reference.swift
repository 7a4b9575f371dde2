// Naive reference kernels. Slow and obviously correct; used by tests only.

/// Naive row-major GEMM with the same contract as `sgemm` (tight leading dimensions),
/// accumulating in Double.
public func naiveGemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                      alpha: Float = 1, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                      beta: Float = 0, c: UnsafeMutablePointer<Float>) {
    for i in 0..<m {
        for j in 0..<n {
            var acc = 0.0
            for p in 0..<k {
                let av = transA ? a[p * m + i] : a[i * k + p]
                let bv = transB ? b[j * k + p] : b[p * n + j]
                acc += Double(av) * Double(bv)
            }
            let prior = beta == 0 ? 0 : Double(beta) * Double(c[i * n + j])
            c[i * n + j] = Float(Double(alpha) * acc + prior)
        }
    }
}

/// Direct convolution, NCHW in and out, square kernel `K`, padding `pad`, stride 1.
///
/// input `[B, Cin, H, W]`, weight `[Cout, Cin, K, K]`, bias `[Cout]` (optional),
/// output `[B, Cout, OH, OW]`.
public func naiveConv2DForward(input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
                               batch B: Int, inChannels Cin: Int, outChannels Cout: Int,
                               height H: Int, width W: Int, kernel K: Int = 3, pad: Int = 1) {
    let OH = H + 2 * pad - K + 1, OW = W + 2 * pad - K + 1
    for b in 0..<B {
        for co in 0..<Cout {
            for oy in 0..<OH {
                for ox in 0..<OW {
                    var acc = Double(bias?[co] ?? 0)
                    for ci in 0..<Cin {
                        for ky in 0..<K {
                            let iy = oy - pad + ky
                            if iy < 0 || iy >= H { continue }
                            for kx in 0..<K {
                                let ix = ox - pad + kx
                                if ix < 0 || ix >= W { continue }
                                acc += Double(input[((b * Cin + ci) * H + iy) * W + ix])
                                    * Double(weight[((co * Cin + ci) * K + ky) * K + kx])
                            }
                        }
                    }
                    output[((b * Cout + co) * OH + oy) * OW + ox] = Float(acc)
                }
            }
        }
    }
}

/// Backward of `naiveConv2DForward` (stride 1): given `dOutput [B, Cout, OH, OW]`, writes
/// `dWeight [Cout, Cin, K, K]`, `dBias [Cout]` and `dInput [B, Cin, H, W]` (all overwritten).
public func naiveConv2DBackward(input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                dOutput: UnsafePointer<Float>,
                                dInput: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>,
                                dBias: UnsafeMutablePointer<Float>,
                                batch B: Int, inChannels Cin: Int, outChannels Cout: Int,
                                height H: Int, width W: Int, kernel K: Int = 3, pad: Int = 1) {
    let OH = H + 2 * pad - K + 1, OW = W + 2 * pad - K + 1
    var dIn = [Double](repeating: 0, count: B * Cin * H * W)
    var dW = [Double](repeating: 0, count: Cout * Cin * K * K)
    var dB = [Double](repeating: 0, count: Cout)
    for b in 0..<B {
        for co in 0..<Cout {
            for oy in 0..<OH {
                for ox in 0..<OW {
                    let g = Double(dOutput[((b * Cout + co) * OH + oy) * OW + ox])
                    dB[co] += g
                    for ci in 0..<Cin {
                        for ky in 0..<K {
                            let iy = oy - pad + ky
                            if iy < 0 || iy >= H { continue }
                            for kx in 0..<K {
                                let ix = ox - pad + kx
                                if ix < 0 || ix >= W { continue }
                                let ii = ((b * Cin + ci) * H + iy) * W + ix
                                let wi = ((co * Cin + ci) * K + ky) * K + kx
                                dW[wi] += g * Double(input[ii])
                                dIn[ii] += g * Double(weight[wi])
                            }
                        }
                    }
                }
            }
        }
    }
    for i in 0..<dIn.count { dInput[i] = Float(dIn[i]) }
    for i in 0..<dW.count { dWeight[i] = Float(dW[i]) }
    for i in 0..<Cout { dBias[i] = Float(dB[i]) }
}

/// Scalar reference of `winogradOutputPool` (the Swift code it replaced): for every
/// `idx = co·T + t`, Y = Aᵀ·M·A over the 16 slabs, then max over the 2×2 tile (first
/// maximum wins), + bias, ReLU.
public func winogradOutputPoolReference(_ m: UnsafePointer<Float>, outChannels Cout: Int, tiles T: Int,
                                        bias: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                                        argmax: UnsafeMutablePointer<UInt8>) {
    let plane = winogradSlabStride(Cout * T)
    for idx in 0..<(Cout * T) {
        let src = m + idx
        func row(_ r: Int) -> SIMD4<Float> {
            SIMD4(src[(4 * r) * plane], src[(4 * r + 1) * plane], src[(4 * r + 2) * plane], src[(4 * r + 3) * plane])
        }
        let m0 = row(0), m1 = row(1), m2 = row(2), m3 = row(3)
        let p0 = m0 + m1 + m2, p1 = m1 - m2 - m3
        let y00 = p0[0] + p0[1] + p0[2], y01 = p0[1] - p0[2] - p0[3]
        let y10 = p1[0] + p1[1] + p1[2], y11 = p1[1] - p1[2] - p1[3]
        var best = y00, a: UInt8 = 0
        if y01 > best { best = y01; a = 1 }
        if y10 > best { best = y10; a = 2 }
        if y11 > best { best = y11; a = 3 }
        output[idx] = max(best + bias[idx / T], 0)
        argmax[idx] = a
    }
}

/// Scalar reference of `winogradOutputPoolBackward`: dM = A·dY·Aᵀ with dY one-hot at the
/// argmax carrying the gradient where the pooled output was positive; dBias = Σ over tiles.
public func winogradOutputPoolBackwardReference(dOutput: UnsafePointer<Float>, output: UnsafePointer<Float>,
                                                argmax: UnsafePointer<UInt8>, outChannels Cout: Int, tiles T: Int,
                                                dm: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>) {
    let plane = winogradSlabStride(Cout * T)
    for co in 0..<Cout {
        var sum: Float = 0
        for t in 0..<T {
            let idx = co * T + t
            let g: Float = output[idx] > 0 ? dOutput[idx] : 0
            sum += g
            let a = Int(argmax[idx])
            let ai: SIMD4<Float> = (a >> 1) == 0 ? SIMD4(1, 1, 1, 0) : SIMD4(0, 1, -1, -1)
            let aj: SIMD4<Float> = (a & 1) == 0 ? SIMD4(1, 1, 1, 0) : SIMD4(0, 1, -1, -1)
            let gi = g * ai
            for r in 0..<4 {
                let rowv = gi[r] * aj
                for c in 0..<4 { dm[idx + (4 * r + c) * plane] = rowv[c] }
            }
        }
        dBias[co] = sum
    }
}

/// Swift reference of `winogradInputTransform` (the code it replaced; tests compare the C
/// kernel with it bit for bit): V[16, C, T] = Bᵀ·d·B for every 4×4 input window of
/// `input [C, B, H, W]` (CNHW, pad 1).
///
/// Works per (channel, image) plane: the plane is copied into a zero-bordered
/// (H+2)×(W+2) buffer (no bounds checks in the tile loop), transformed into a local
/// [16, (H/2)·(W/2)] block, and each of the 16 rows is then written as one contiguous run.
public func winogradInputTransformReference(_ input: UnsafePointer<Float>, channels: Int, batch: Int, height H: Int, width W: Int,
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

/// Swift reference of `winogradInputGradient`: dInput [C, B, H, W] (overwritten) = Σ over
/// windows of B·dV·Bᵀ, the adjoint of the input transform (padding positions dropped).
public func winogradInputGradientReference(_ dv: UnsafePointer<Float>, channels: Int, batch: Int, height H: Int, width W: Int,
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

/// The conv values `conv3x3Pool` pools, C = weight·col for small k: C[i][j] = the fused multiply-add chain
/// acc = 0; for p in 0..<k: acc = fma(A[i][p], B[p][j], acc).
public func smallKGemmReference(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                c: UnsafeMutablePointer<Float>) {
    for i in 0..<m {
        for j in 0..<n {
            var acc: Float = 0
            for p in 0..<k { acc.addProduct(a[i * k + p], b[p * n + j]) }
            c[i * n + j] = acc
        }
    }
}

/// How `conv3x3PoolBackward` sums the weight gradient, C = A·Bᵀ for long k: C[i][j] = Σ_p A[i][p]·B[j][p] summed in 16 lanes (lane l
/// takes p ≡ l mod 16 as a fused multiply-add chain in p order from 0), then reduced
/// pairwise: s8 = l[0..<8] + l[8..<16], s4 = s8[0..<4] + s8[4..<8], s2 = s4[0..<2] + s4[2..<4],
/// C = s2[0] + s2[1].
public func longKGemmNTReference(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                 c: UnsafeMutablePointer<Float>) {
    for i in 0..<m {
        for j in 0..<n {
            var lanes = [Float](repeating: 0, count: 16)
            for p in 0..<k { lanes[p % 16].addProduct(a[i * k + p], b[j * k + p]) }
            var width = 8
            while width >= 1 {
                for q in 0..<width { lanes[q] = lanes[q] + lanes[q + width] }
                width /= 2
            }
            c[i * n + j] = lanes[0]
        }
    }
}

/// Swift reference of `winogradWeightTransform` (the code it replaced): U[16, Cout, Cin] =
/// G·g·Gᵀ for each 3×3 filter of `weight [Cout, Cin, 3, 3]`.
public func winogradWeightTransformReference(_ weight: UnsafePointer<Float>, outChannels: Int, inChannels: Int,
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

/// Swift reference of `winogradWeightGradient`: dWeight [Cout, Cin, 3, 3] = Gᵀ·dU·G
/// (overwritten), the adjoint of the weight transform.
public func winogradWeightGradientReference(_ du: UnsafePointer<Float>, outChannels: Int, inChannels: Int,
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

/// Reference for `adamUpdate`: one element at a time, in Swift.
public func adamUpdateReference(parameters p: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>,
                                m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int, _ c: AdamCoefficients) {
    for i in 0..<count {
        let gi = g[i]
        let mi = m[i] + (gi - m[i]) * c.w1
        let vi = v[i] * c.beta2 + c.w2 * (gi * gi)
        m[i] = mi
        v[i] = vi
        let denom = vi.squareRoot() / c.bc2Sqrt + c.epsilon
        let pi = c.decay.map { p[i] * $0 } ?? p[i]
        p[i] = pi - c.stepSize * (mi / denom)
    }
}
