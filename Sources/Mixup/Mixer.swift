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

    /// Writes the label of `d` into `out` (K floats): λ·onehot(y_i) + (1−λ)·onehot(y_j),
    /// then label smoothing (1−ε)·y + ε/K.
    public static func label(_ d: MixDecision, source: ImageStore, classCount k: Int, smoothing: Double,
                             into out: UnsafeMutablePointer<Float>) {
        out.update(repeating: 0, count: k)
        let yi = Int(source.labels[d.primary])
        let yj = Int(source.labels[d.partner])
        out[yi] += d.lambda
        out[yj] += 1 - d.lambda
        if smoothing > 0 {
            let eps = Float(smoothing)
            let add = eps / Float(k)
            for c in 0..<k { out[c] = (1 - eps) * out[c] + add }
        }
    }
}
