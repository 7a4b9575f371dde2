import ShardStore

/// Turns uint8 pixels into the network's float input: `x/255`, then per channel
/// `(x − mean) / std`, through one 256-entry lookup table per channel.
///
/// The figures come from the shard directory's manifest (`source.channelStats`, the training
/// split's own, `forSource`) or from a checkpoint (the ones its network was trained with).
public struct PixelNormalizer: Sendable, Equatable {
    /// The CIFAR-10 channel statistics (its `source.channelStats`): what mixtrain normalised
    /// every dataset with before manifests recorded their own, so what a directory without
    /// them and a version 1 checkpoint are normalised with (`legacy`).
    public static let cifar10 = ChannelStats(mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616])

    /// The per-channel figures in use (as decimals; a recorded standard deviation of 0 already
    /// replaced by 1).
    public let stats: ChannelStats
    /// The same, as the float32 values the table is computed with.
    public let mean: [Float]
    public let std: [Float]
    /// `channels × 256` entries: `table[c·256 + b]` is byte `b` of channel `c`, normalised.
    public let table: [Float]

    /// A normaliser with these figures: one mean and one positive standard deviation per channel.
    public init(stats: ChannelStats) {
        precondition(stats.mean.count == stats.std.count && !stats.mean.isEmpty, "PixelNormalizer: mean/std mismatch")
        precondition(stats.std.allSatisfy { $0 > 0 }, "PixelNormalizer: a standard deviation is not positive")
        self.stats = stats
        mean = stats.mean.map { Float($0) }
        std = stats.std.map { Float($0) }
        var t = [Float](repeating: 0, count: 256 * mean.count)
        for c in 0..<mean.count {
            for b in 0..<256 {
                // Same float32 arithmetic as torchvision's ToTensor + Normalize.
                t[c * 256 + b] = (Float(b) / 255 - mean[c]) / std[c]
            }
        }
        table = t
    }

    /// A normaliser with explicit float32 figures.
    public init(mean: [Float], std: [Float]) {
        self.init(stats: ChannelStats(mean: mean.map(Double.init), std: std.map(Double.init)))
    }

    /// The figures a shard directory's images are normalised with: its manifest's
    /// `source.channelStats` (a standard deviation of 0, a constant channel, read as 1: the
    /// channel is only centred), and `recorded` true; for a directory made before mixprep
    /// recorded them, `legacy(channels:)` — the CIFAR-10 constants — and `recorded` false.
    public static func forSource(_ source: SourceInfo) -> (normalizer: PixelNormalizer, recorded: Bool) {
        guard let s = source.channelStats, s.mean.count == source.channels else {
            return (legacy(channels: source.channels), false)
        }
        return (PixelNormalizer(stats: ChannelStats(mean: s.mean, std: s.std.map { $0 == 0 ? 1 : $0 })), true)
    }

    /// What mixtrain used for every dataset before manifests recorded their figures: the
    /// CIFAR-10 statistics for 3 channels; for any other count, every plane the average of the
    /// three (computed in float32, as it was).
    public static func legacy(channels: Int) -> PixelNormalizer {
        if channels == 3 { return PixelNormalizer(stats: cifar10) }
        let m = cifar10.mean.map { Float($0) }.reduce(0, +) / 3, s = cifar10.std.map { Float($0) }.reduce(0, +) / 3
        return PixelNormalizer(mean: Array(repeating: m, count: channels), std: Array(repeating: s, count: channels))
    }

    /// The one line `mixtrain` prints (once per command) for a directory whose manifest records no figures.
    public static func fallbackNote(directory: String, normalizer: PixelNormalizer) -> String {
        "\(directory)/\(Manifest.fileName) records no channel statistics (source.channelStats: it was made before mixprep "
            + "recorded them); normalising with the CIFAR-10 constants, \(normalizer.description)"
    }

    public var channels: Int { mean.count }

    /// `mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616)`.
    public var description: String { stats.description }

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
