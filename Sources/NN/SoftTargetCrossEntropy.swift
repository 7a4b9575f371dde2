import Foundation

/// Soft-target cross-entropy: loss = (1/B) Σ_b −Σ_k y_bk · log_softmax(z_b)_k.
///
/// logits z `[B, K]`, targets y `[B, K]` (rows normally sum to 1: one-hot or mixup blends).
public enum SoftTargetCrossEntropy {
    /// Returns the mean loss. If `dLogits` is given it receives ∂loss/∂z =
    /// (softmax(z)·Σ_k y_k − y)/B, which is (softmax − y)/B for targets summing to 1.
    @discardableResult
    public static func forward(logits z: UnsafePointer<Float>, targets y: UnsafePointer<Float>,
                               batch B: Int, classes K: Int,
                               dLogits: UnsafeMutablePointer<Float>? = nil) -> Float {
        Float(forwardSum(logits: z, targets: y, batch: B, classes: K, dLogits: dLogits,
                         gradientScale: 1 / Float(B)) / Double(B))
    }

    /// The loss *summed* over these `B` rows; `dLogits` (if given) receives
    /// (softmax(z)·Σ_k y_k − y)·`gradientScale`. A micro-batch of a larger batch of `N`
    /// passes 1/N, so the micro-batches' gradients add up to the whole batch's.
    public static func forwardSum(logits z: UnsafePointer<Float>, targets y: UnsafePointer<Float>,
                                  batch B: Int, classes K: Int,
                                  dLogits: UnsafeMutablePointer<Float>?, gradientScale: Float) -> Double {
        var total = 0.0
        for b in 0..<B {
            let zr = z + b * K, yr = y + b * K
            var mx = zr[0]
            for k in 1..<K { mx = max(mx, zr[k]) }
            var s = 0.0
            for k in 0..<K { s += Double(expf(zr[k] - mx)) }
            let lse = Double(mx) + log(s)
            var rowLoss = 0.0, ysum: Float = 0
            for k in 0..<K {
                rowLoss -= Double(yr[k]) * (Double(zr[k]) - lse)
                ysum += yr[k]
            }
            total += rowLoss
            if let dLogits {
                let d = dLogits + b * K
                for k in 0..<K {
                    let p = Float(exp(Double(zr[k]) - lse))
                    d[k] = (p * ysum - yr[k]) * gradientScale
                }
            }
        }
        return total
    }

    /// Sum (not mean) of per-sample losses, and the number of samples whose logit argmax
    /// equals the target argmax (the class, for one-hot or dominant-class targets).
    public static func evaluate(logits z: UnsafePointer<Float>, targets y: UnsafePointer<Float>,
                                batch B: Int, classes K: Int) -> (lossSum: Double, correct: Int) {
        var total = 0.0, correct = 0
        for b in 0..<B {
            let zr = z + b * K, yr = y + b * K
            var mx = zr[0], az = 0, ay = 0
            for k in 1..<K {
                if zr[k] > mx { mx = zr[k]; az = k }
                if yr[k] > yr[ay] { ay = k }
            }
            var s = 0.0
            for k in 0..<K { s += Double(expf(zr[k] - mx)) }
            let lse = Double(mx) + log(s)
            for k in 0..<K { total -= Double(yr[k]) * (Double(zr[k]) - lse) }
            if az == ay { correct += 1 }
        }
        return (total, correct)
    }
}
