import Kernels

extension Conv2D {
    /// Backward pass. All outputs are overwritten (never accumulated).
    ///
    /// - dOutput `[Cout, B·OH·OW]` (CNHW), col `[Cin·K·K, B·OH·OW]` from `forward`.
    /// - dWeight `[Cout, Cin·K·K]` = dOutput × colᵀ.
    /// - dBias `[Cout]` = row sums of dOutput (skip with `nil`, e.g. when fused elsewhere).
    /// - dInput (layout `g`) = col2im(weightᵀ × dOutput), using `dCol` `[Cin·K·K, B·OH·OW]`
    ///   as scratch; pass `nil` for both to skip the input gradient (first layer).
    public func backward(_ g: ConvGeometry, col: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                         dOutput: UnsafePointer<Float>,
                         dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>?,
                         dCol: UnsafeMutablePointer<Float>?, dInput: UnsafeMutablePointer<Float>?) {
        let n = g.colColumns
        let k = g.colRows
        // dW[Cout, K] = dOut[Cout, N] · colᵀ[N, K]
        sgemm(transB: true, m: outChannels, n: k, k: n, a: dOutput, b: col, c: dWeight)
        if let dBias {
            parallelFor(outChannels) { c in
                let row = dOutput + c * n
                var s: Float = 0
                for i in 0..<n { s += row[i] }
                dBias[c] = s
            }
        }
        if let dInput {
            guard let dCol else { preconditionFailure("Conv2D.backward: dInput needs dCol scratch") }
            // dCol[K, N] = Wᵀ[K, Cout] · dOut[Cout, N]
            sgemm(transA: true, m: k, n: n, k: outChannels, a: weight, b: dOutput, c: dCol)
            col2im(g, col: UnsafePointer(dCol), output: dInput)
        }
    }
}
