import Kernels

extension WinogradConvBlock {
    /// Backward of `forward`; all outputs overwritten.
    ///
    /// Consumes `u`, `v` from forward. `m` is reused as dM, and `v` is overwritten by dV.
    /// `du` is `[16, Cout, Cin]` scratch. Pass `dInput: nil` to skip the input gradient.
    public func backward(dOutput: UnsafePointer<Float>, output: UnsafePointer<Float>,
                         argmax: UnsafePointer<UInt8>, batch B: Int, height H: Int, width W: Int,
                         u: UnsafePointer<Float>, v: UnsafeMutablePointer<Float>,
                         m: UnsafeMutablePointer<Float>, du: UnsafeMutablePointer<Float>,
                         dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>,
                         dInput: UnsafeMutablePointer<Float>?) {
        let Cout = outChannels, Cin = inChannels, T = tiles(batch: B, height: H, width: W)
        let uS = winogradSlabStride(Cout * Cin), vS = winogradSlabStride(Cin * T), mS = winogradSlabStride(Cout * T)
        // dM = A·dY·Aᵀ with dY one-hot at the argmax (if the pooled output was positive), and dBias.
        winogradOutputPoolBackward(dOutput: dOutput, output: output, argmax: argmax, outChannels: Cout, tiles: T,
                                   dm: m, dBias: dBias)
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
            winogradInputGradient(v, channels: Cin, batch: B, height: H, width: W, dInput: dInput)
        }
    }
}
