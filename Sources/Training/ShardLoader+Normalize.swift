/// Turns uint8 pixels into the network's float input: `x/255`, then per channel
/// `(x − mean) / std`, through one 256-entry lookup table per channel.
public struct PixelNormalizer: Sendable, Equatable {
    /// The CIFAR-10 channel means of the training contract (DESIGN.md).
    public static let cifarMean: [Float] = [0.4914, 0.4822, 0.4465]
    /// The CIFAR-10 channel standard deviations of the training contract.
    public static let cifarStd: [Float] = [0.2470, 0.2435, 0.2616]

    /// Per-channel mean and standard deviation.
    public let mean: [Float]
    public let std: [Float]
    /// `channels × 256` entries: `table[c·256 + b]` is byte `b` of channel `c`, normalised.
    public let table: [Float]

    /// A normaliser with explicit per-channel statistics.
    public init(mean: [Float], std: [Float]) {
        precondition(mean.count == std.count && !mean.isEmpty, "PixelNormalizer: mean/std mismatch")
        self.mean = mean
        self.std = std
        var t = [Float](repeating: 0, count: 256 * mean.count)
        for c in 0..<mean.count {
            for b in 0..<256 {
                // Same float32 arithmetic as torchvision's ToTensor + Normalize.
                t[c * 256 + b] = (Float(b) / 255 - mean[c]) / std[c]
            }
        }
        table = t
    }

    /// The training contract's normaliser for `channels` planes: the CIFAR-10
    /// statistics for 3 channels; for any other count, every plane uses the
    /// average of the three (a documented fallback for non-RGB sources).
    public init(channels: Int) {
        if channels == 3 {
            self.init(mean: PixelNormalizer.cifarMean, std: PixelNormalizer.cifarStd)
        } else {
            let m = PixelNormalizer.cifarMean.reduce(0, +) / 3
            let s = PixelNormalizer.cifarStd.reduce(0, +) / 3
            self.init(mean: Array(repeating: m, count: channels), std: Array(repeating: s, count: channels))
        }
    }

    public var channels: Int { mean.count }

    /// The normalised value of byte `b` in channel `c`.
    public func value(_ b: UInt8, channel c: Int) -> Float {
        table[c * 256 + Int(b)]
    }

    /// The byte whose normalised value is nearest to `x` in channel `c` (undoes `value`).
    public func byte(for x: Float, channel c: Int) -> UInt8 {
        let raw = ((x * std[c] + mean[c]) * 255).rounded()
        return UInt8(max(0, min(255, raw)))
    }

    /// Normalises `samples` images of `channels` planes of `planeSize` bytes each
    /// (planar: sample, plane, pixel) from `src` into `dst`.
    ///
    /// Audited kernel: reads `samples·channels·planeSize` bytes from `src` and
    /// writes as many floats to `dst`; the caller guarantees both extents.
    @inline(__always)
    public func normalize(_ src: UnsafePointer<UInt8>, into dst: UnsafeMutablePointer<Float>,
                          samples: Int, planeSize: Int) {
        let c = channels
        table.withUnsafeBufferPointer { tb in
            let t = tb.baseAddress!
            var s = src
            var d = dst
            for _ in 0..<samples {
                for ch in 0..<c {
                    let lut = t + ch * 256
                    var i = 0
                    while i < planeSize {
                        d[i] = lut[Int(s[i])]
                        i += 1
                    }
                    s += planeSize
                    d += planeSize
                }
            }
        }
    }
}
