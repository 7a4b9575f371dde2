/// The one formula of a label row (DESIGN.md, rule 12), shared by the writer
/// (`Mixer.label`, `Mixer.labelWeights`) and every reader that expands a MixShard
/// v3 sparse label record into the dense row it stands for, so the bytes cannot
/// drift: a row of zeros, + λ at the primary's class y_i, + (1 − λ) at the
/// partner's y_j (one weight `(0 + λ) + (1 − λ)` when y_i = y_j), then, when
/// ε > 0, every weight w becomes `(1 − ε)·w + ε/K` — each operation rounded to
/// binary32, no fused multiply-add.
public enum LabelRow {
    /// The weights of a row of weight `lambda` on the primary, with label smoothing
    /// `epsilon` (binary32) over `classCount` classes.
    @inline(__always)
    public static func weights(lambda: Float, sameClass: Bool, classCount k: Int, epsilon: Float) -> LabelWeights {
        var primary = Float(0) + lambda
        var partner = Float(0) + (1 - lambda)
        if sameClass {
            primary = primary + (1 - lambda)
            partner = primary
        }
        var rest: Float = 0
        if epsilon > 0 {
            // Swift does not contract `a * b + c` into a fused multiply-add: each operation is rounded.
            let add = epsilon / Float(k)
            rest = (1 - epsilon) * rest + add
            primary = (1 - epsilon) * primary + add
            partner = (1 - epsilon) * partner + add
        }
        return LabelWeights(rest: rest, primary: primary, partner: partner)
    }

    /// Writes the row (`classCount` floats) of a primary of class `yi` and a partner of
    /// class `yj` (both below `classCount`) into `out`.
    @inline(__always)
    public static func write(lambda: Float, primaryClass yi: Int, partnerClass yj: Int, classCount k: Int, epsilon: Float,
                             into out: UnsafeMutablePointer<Float>) {
        let w = weights(lambda: lambda, sameClass: yi == yj, classCount: k, epsilon: epsilon)
        out.update(repeating: w.rest, count: k)
        out[yj] = w.partner
        out[yi] = w.primary
    }
}

/// The weights of one label row (`LabelRow.weights`): the primary's class, the
/// partner's, and every other class.
public struct LabelWeights: Sendable, Equatable {
    /// Every class that is neither the primary's nor the partner's.
    public var rest: Float
    /// The primary's class (when both are one class, its only weight).
    public var primary: Float
    /// The partner's class (= `primary` when both are one class).
    public var partner: Float

    public init(rest: Float, primary: Float, partner: Float) {
        self.rest = rest
        self.primary = primary
        self.partner = partner
    }
}
