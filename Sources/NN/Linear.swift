import Kernels

/// Fully connected layer, PyTorch conventions: y = x·Wᵀ + b.
///
/// x `[B, In]`, weight `[Out, In]`, bias `[Out]`, y `[B, Out]` (row-major).
public struct Linear: Sendable, Equatable {
    public let inFeatures: Int
    public let outFeatures: Int

    public init(inFeatures: Int, outFeatures: Int) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }

    /// `Out·In`.
    public var weightCount: Int { inFeatures * outFeatures }

    /// y[B, Out] = x[B, In] · Wᵀ[In, Out] + b.
    public func forward(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        output y: UnsafeMutablePointer<Float>, batch: Int) {
        sgemm(transB: true, m: batch, n: outFeatures, k: inFeatures, a: x, b: weight, c: y)
        if let bias {
            for r in 0..<batch {
                let row = y + r * outFeatures
                for j in 0..<outFeatures { row[j] += bias[j] }
            }
        }
    }
}
