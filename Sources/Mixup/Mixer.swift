import AugmentOps
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

    /// `blend` of `count` byte pairs without a libm call: the same Float operations (no fused
    /// multiply-add: Swift never contracts), then round half to even by the 2²³ trick and an
    /// exact tie (r − v = −0.5, r even) moved up, which is round half away from zero for
    /// 0 ≤ v < 2²². Bit for bit `blend` (tested on every byte pair).
    public static func blendRow(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, lambda: Float,
                                into out: UnsafeMutablePointer<UInt8>, count n: Int) {
        let m = 1 - lambda, magic: Float = 8_388_608
        for i in 0..<n {
            let v = lambda * Float(a[i]) + m * Float(b[i])
            var r = (v + magic) - magic
            if r - v == -0.5 { r += 1 }
            out[i] = UInt8(r)
        }
    }

    /// Writes the image of `d` into `out` (C·H·W bytes): the primary and the
    /// partner each under its resized crop, transform and ops, then blended (or the box
    /// pasted), then erased. `erasingValues` is the stream of a random fill's bytes
    /// (`Erasing.valueStream` of the sample's position; needed only for a random fill).
    public static func image(_ d: MixDecision, source: ImageStore, into out: UnsafeMutablePointer<UInt8>,
                             erasingValues: CounterRNG? = nil) {
        let n = source.imageBytes
        let (c, h, w) = (source.channels, source.height, source.width)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 6 * n) { tmp in
            // Raw copies of the two source images, then scratch for the turned ones.
            let ra = tmp.baseAddress!, rb = ra + n, ta = rb + n, tb = ta + n, sa = tb + n, sb = sa + n
            source.copy(d.primary, into: ra)
            let a = turn(UnsafePointer(ra), transform: d.primaryTransform, ops: d.primaryOps, scratch: (ta, sa),
                         channels: c, height: h, width: w)
            if d.isCopy {
                out.update(from: a, count: n)
            } else {
                source.copy(d.partner, into: rb)
                let b = turn(UnsafePointer(rb), transform: d.partnerTransform, ops: d.partnerOps, scratch: (tb, sb),
                             channels: c, height: h, width: w)
                combine(d, a, b, source: source, into: out)
            }
        }
        if !d.erasing.isNone {
            precondition(d.erasing.fill != .random || erasingValues != nil, "a random erasing fill needs its value stream")
            var values = erasingValues ?? CounterRNG(seed: 0, stream: .erasingValues)
            d.erasing.apply(to: out, channels: c, height: h, width: w, values: &values)
        }
    }

    /// One image before mixing: `src` under its resized crop, then its transform, then its
    /// ops in order; the result is `src` itself or one of the two `scratch` buffers.
    private static func turn(_ src: UnsafePointer<UInt8>, transform: ImageTransform, ops: ImageOps,
                             scratch: (UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<UInt8>),
                             channels c: Int, height h: Int, width w: Int) -> UnsafePointer<UInt8> {
        var current = src
        var next = scratch.0, spare = scratch.1
        func step(_ body: (UnsafePointer<UInt8>, UnsafeMutablePointer<UInt8>) -> Void) {
            body(current, next)
            current = UnsafePointer(next)
            swap(&next, &spare)
        }
        if let crop = ops.resizedCrop {
            step { s, o in applyImageOp(.resizedCrop, magnitude: 0, crop: crop, s, into: o, channels: c, height: h, width: w) }
        }
        if !transform.isIdentity {
            step { s, o in transform.apply(s, into: o, channels: c, height: h, width: w) }
        }
        for op in ops.ops where op.op != .identity {
            step { s, o in applyImageOp(op.op, magnitude: op.magnitude, crop: nil, s, into: o, channels: c, height: h, width: w) }
        }
        return current
    }

    // MARK: The one call site of the AugmentOps image kernels
    //
    // Every per-image op of `[augment]` beyond crop and flip (ids 1–15 of `PolicyOp`) is
    // applied here and nowhere else, by the `AugmentOps` kernels (torchvision v2 semantics as
    // DESIGN.md, "Policy ops", pins them).
    /// Applies op `op` with `magnitude` (or, for `.resizedCrop`, the box `crop`, resampled back to
    /// H×W) to `src`, writing `out` (same size, not overlapping). The draws only ever give
    /// parameters the kernels take (a box inside the image, finite magnitudes in the ops'
    /// ranges), so a kernel's refusal here is a bug in the draw side, not bad input.
    static func applyImageOp(_ op: PolicyOp, magnitude: Float, crop: CropBox?, _ src: UnsafePointer<UInt8>,
                             into out: UnsafeMutablePointer<UInt8>, channels: Int, height: Int, width: Int) {
        let n = channels * height * width
        if op == .identity {
            out.update(from: src, count: n)
            return
        }
        do {
            let image = try PlanarImage(channels: channels, height: height, width: width,
                                        pixels: Array(UnsafeBufferPointer(start: src, count: n)))
            var result = image
            if op == .resizedCrop {
                guard let b = crop else { preconditionFailure("a resized crop needs its box") }
                try ResizedCrop.apply(.init(top: Int(b.top), left: Int(b.left), height: Int(b.height), width: Int(b.width),
                                            outHeight: height, outWidth: width), src: image, dst: &result)
            } else {
                try op.apply(magnitude: Double(magnitude), src: image, dst: &result)
            }
            precondition(result.pixels.count == n, "augment op \(op.name) changed the image's size")
            result.pixels.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: n) }
        } catch {
            preconditionFailure("augment op \(op.name) refused parameters the draws gave (\(magnitude), \(String(describing: crop))): \(error)")
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
            blendRow(a, b, lambda: d.lambda, into: out, count: n)
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
