import Kernels

extension Linear {
    /// Backward pass; outputs overwritten.
    ///
    /// dWeight `[Out, In]` = dyᵀ·x, dBias `[Out]` = Σ_b dy, dInput `[B, In]` = dy·W (skip with `nil`).
    public func backward(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, dOutput dy: UnsafePointer<Float>,
                         dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>?,
                         dInput: UnsafeMutablePointer<Float>?, batch: Int) {
        sgemm(transA: true, m: outFeatures, n: inFeatures, k: batch, a: dy, b: x, c: dWeight)
        if let dBias {
            dBias.update(repeating: 0, count: outFeatures)
            for r in 0..<batch {
                let row = dy + r * outFeatures
                for j in 0..<outFeatures { dBias[j] += row[j] }
            }
        }
        if let dInput {
            sgemm(m: batch, n: inFeatures, k: outFeatures, a: dy, b: weight, c: dInput)
        }
    }
}
