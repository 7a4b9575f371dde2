import MixCore

/// Applies decisions to source images: pixels and soft labels.
public enum Mixer {
    /// The mixed pixel of primary byte `a` and partner byte `b`: round(λ·a + (1−λ)·b),
    /// computed in Float with ties away from zero. Tests recompute it from provenance.
    @inline(__always)
    public static func blend(_ a: UInt8, _ b: UInt8, lambda: Float) -> UInt8 {
        let v = lambda * Float(a) + (1 - lambda) * Float(b)
        return UInt8(v.rounded(.toNearestOrAwayFromZero))
    }

    /// Writes the image of `d` into `out` (C·H·W bytes): the primary and the
    /// partner each under its transform, then blended (or the box pasted).
    public static func image(_ d: MixDecision, source: ImageStore, into out: UnsafeMutablePointer<UInt8>) {
        let n = source.imageBytes
        let (c, h, w) = (source.channels, source.height, source.width)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4 * n) { tmp in
            // Raw copies of the two source images, then (when a transform applies) the turned ones.
            let ra = tmp.baseAddress!, rb = ra + n, ta = rb + n, tb = ta + n
            source.copy(d.primary, into: ra)
            var a = UnsafePointer(ra)
            if !d.primaryTransform.isIdentity {
                d.primaryTransform.apply(a, into: ta, channels: c, height: h, width: w)
                a = UnsafePointer(ta)
            }
            if d.isCopy {
                out.update(from: a, count: n)
                return
            }
            source.copy(d.partner, into: rb)
            var b = UnsafePointer(rb)
            if !d.partnerTransform.isIdentity {
                d.partnerTransform.apply(b, into: tb, channels: c, height: h, width: w)
                b = UnsafePointer(tb)
            }
            combine(d, a, b, source: source, into: out)
        }
    }

    /// Mixes the (transformed) primary `a` and partner `b` as `d` says.
    private static func combine(_ d: MixDecision, _ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>,
                                source: ImageStore, into out: UnsafeMutablePointer<UInt8>) {
        let n = source.imageBytes
        if let box = d.box {
            out.update(from: a, count: n)
            let plane = source.height * source.width
            for c in 0..<source.channels {
                for y in box.y0..<box.y1 {
                    let row = c * plane + y * source.width
                    (out + row + box.x0).update(from: b + row + box.x0, count: box.x1 - box.x0)
                }
            }
        } else if d.lambda == 1 || (d.primary == d.partner && d.primaryTransform == d.partnerTransform) {
            out.update(from: a, count: n)
        } else {
            let lambda = d.lambda
            for i in 0..<n { out[i] = blend(a[i], b[i], lambda: lambda) }
        }
    }

    /// The label of `d` as what its row is made of — the primary's class, the partner's
    /// (the primary's when unmixed) and λ — which `LabelRow` expands with the split's
    /// smoothing: what a MixShard v3 sparse label record stores.
    public static func labelParts(_ d: MixDecision, source: ImageStore) -> (primaryClass: Int, partnerClass: Int, lambda: Float) {
        (Int(source.labels[d.primary]), Int(source.labels[d.partner]), d.lambda)
    }

    /// Writes the label of `d` into `out` (K floats): λ·onehot(y_i) + (1−λ)·onehot(y_j),
    /// then label smoothing (1−ε)·y + ε/K.
    public static func label(_ d: MixDecision, source: ImageStore, classCount k: Int, smoothing: Double,
                             into out: UnsafeMutablePointer<Float>) {
        let parts = labelParts(d, source: source)
        label(lambda: parts.lambda, primaryClass: parts.primaryClass, partnerClass: parts.partnerClass,
              classCount: k, smoothing: smoothing, into: out)
    }

    /// Writes the label row of a sample with weight `lambda` on a primary of class
    /// `primaryClass` and a partner of class `partnerClass` into `out` (K floats), from
    /// `labelWeights`: the one formula of a label row, which `verify` checks every row against.
    public static func label(lambda: Float, primaryClass yi: Int, partnerClass yj: Int, classCount k: Int, smoothing: Double,
                             into out: UnsafeMutablePointer<Float>) {
        LabelRow.write(lambda: lambda, primaryClass: yi, partnerClass: yj, classCount: k, epsilon: Float(smoothing), into: out)
    }

    /// The weights of a label row, in binary32 exactly as the row has always been
    /// written: a row of zeros, λ added at the primary's class, then 1−λ at the
    /// partner's (the same class when `sameClass`: one weight (0 + λ) + (1−λ)), then,
    /// when `smoothing` ε > 0, every weight w becomes (1−ε)·w + ε/K (ε rounded to
    /// binary32; each operation rounded, no fused multiply-add). `LabelRow.weights`,
    /// which readers of sparse label records (MixShard v3) expand them with.
    public static func labelWeights(lambda: Float, sameClass: Bool, classCount k: Int, smoothing: Double) -> LabelWeights {
        LabelRow.weights(lambda: lambda, sameClass: sameClass, classCount: k, epsilon: Float(smoothing))
    }
}
