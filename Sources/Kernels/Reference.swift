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
