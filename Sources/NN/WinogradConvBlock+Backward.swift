import Kernels

extension WinogradConvBlock {
    /// Backward of `forward`; all outputs overwritten.
    ///
    /// Consumes `u`, `v` from forward. `m` is reused as dM, and `v` is overwritten by dV.
    /// `du` is `[16, Cout, Cin]` scratch. Pass `dInput: nil` to skip the input gradient.
    public func backward(dOutput: UnsafePointer<Float>, output: UnsafePointer<Float>,
                         argmax: UnsafePointer<UInt8>, batch B: Int, size S: Int,
                         u: UnsafePointer<Float>, v: UnsafeMutablePointer<Float>,
                         m: UnsafeMutablePointer<Float>, du: UnsafeMutablePointer<Float>,
                         dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>,
                         dInput: UnsafeMutablePointer<Float>?) {
        let Cout = outChannels, Cin = inChannels, T = tiles(batch: B, size: S)
        let uS = winogradSlabStride(Cout * Cin), vS = winogradSlabStride(Cin * T), mS = winogradSlabStride(Cout * T)
        let plane = mS
        // dM = A·dY·Aᵀ with dY one-hot at the argmax (if the pooled output was positive);
        // A's columns are (1,1,1,0) and (0,1,−1,−1).
        parallelFor(Cout) { co in
            var sum: Float = 0
            for t in 0..<T {
                let idx = co * T + t
                let g: Float = output[idx] > 0 ? dOutput[idx] : 0
                sum += g
                let a = Int(argmax[idx])
                let ai: SIMD4<Float> = (a >> 1) == 0 ? SIMD4(1, 1, 1, 0) : SIMD4(0, 1, -1, -1)
                let aj: SIMD4<Float> = (a & 1) == 0 ? SIMD4(1, 1, 1, 0) : SIMD4(0, 1, -1, -1)
                let gi = g * ai
                let dst = m + idx
                for r in 0..<4 {
                    let rowv = gi[r] * aj
                    dst[(4 * r) * plane] = rowv[0]
                    dst[(4 * r + 1) * plane] = rowv[1]
                    dst[(4 * r + 2) * plane] = rowv[2]
                    dst[(4 * r + 3) * plane] = rowv[3]
                }
            }
            dBias[co] = sum
        }
        for xi in 0..<16 {
            let dm = m + xi * mS, vx = v + xi * vS
            // dU[ξ][Cout, Cin] = dM[ξ][Cout, T] · V[ξ]ᵀ[T, Cin]
            sgemm(transB: true, m: Cout, n: Cin, k: T, a: dm, b: vx, c: du + xi * uS)
            if dInput != nil {
                // dV[ξ][Cin, T] = U[ξ]ᵀ[Cin, Cout] · dM[ξ][Cout, T]   (overwrites V[ξ])
                sgemm(transA: true, m: Cin, n: T, k: Cout, a: u + xi * uS, b: dm, c: vx)
            }
        }
        winogradWeightGradient(du, outChannels: Cout, inChannels: Cin, dWeight: dWeight)
        if let dInput {
            winogradInputGradient(v, channels: Cin, batch: B, size: S, dInput: dInput)
        }
    }
}
