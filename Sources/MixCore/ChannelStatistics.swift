/// The per-channel statistics of a split's pixels, exactly: how many pixels of each
/// channel hold each byte value. From it, the mean and the population standard
/// deviation of `byte/255` over every pixel of the split (what numpy's `x.mean()` and
/// `x.std()` give over the split's bytes/255, channel by channel), computed from the
/// integer sums of x and x² and rounded to a number of decimal places exactly — never
/// through a float that could land a value on the wrong side of a rounding boundary.
///
/// Integer counts make the result independent of the order in which images are
/// counted, so of the thread count.
public struct ChannelStatistics: Sendable, Equatable {
    public let channels: Int
    /// `histogram[c·256 + b]`: the pixels of channel `c` holding byte `b`.
    public let histogram: [UInt64]

    public init(channels: Int, histogram: [UInt64]) {
        precondition(channels >= 1 && histogram.count == 256 * channels, "ChannelStatistics: histogram size")
        self.channels = channels
        self.histogram = histogram
    }

    /// Counts every pixel of `images` (planar, channel by channel), on up to `threads` threads.
    public init(_ images: ImageStore, threads: Int = 1) {
        let c = images.channels, plane = images.height * images.width, count = images.count
        let blocks = max(1, min(count, 64 * max(threads, 1)))
        let total = Locked([UInt64](repeating: 0, count: 256 * c))
        try? Parallel.forEach(count: blocks, threads: threads) { block in
            var local = [UInt64](repeating: 0, count: 256 * c)
            var image = [UInt8](repeating: 0, count: max(images.imageBytes, 1))
            local.withUnsafeMutableBufferPointer { h in
                image.withUnsafeMutableBufferPointer { buffer in
                    let px = buffer.baseAddress!
                    for k in (count * block / blocks)..<(count * (block + 1) / blocks) {
                        images.copy(k, into: px)
                        for ch in 0..<c {
                            let counts = h.baseAddress! + 256 * ch, src = px + ch * plane
                            for i in 0..<plane { counts[Int(src[i])] &+= 1 }
                        }
                    }
                }
            }
            total.withLock { t in for i in t.indices { t[i] &+= local[i] } }
        }
        self.init(channels: c, histogram: total.withLock { $0 })
    }

    /// Pixels counted in each channel (the split's images × height × width).
    public var pixelsPerChannel: UInt64 { histogram[0..<256].reduce(0, &+) }

    /// The most pixels per channel the exact arithmetic below holds in 128 bits: 2^52, which
    /// the format's limits never exceed (fewer than 2^32 images of at most 2^20 pixels).
    public static let maxPixelsPerChannel: UInt64 = 1 << 52

    /// Σx and Σx² over channel `c`'s bytes x.
    public func sums(_ c: Int) -> (x: UInt128, xx: UInt128) {
        precondition(pixelsPerChannel <= Self.maxPixelsPerChannel, "ChannelStatistics: more than 2^52 pixels per channel")
        var s: UInt128 = 0, ss: UInt128 = 0
        for b in 0..<256 {
            let n = UInt128(histogram[256 * c + b])
            s += n * UInt128(b)
            ss += n * UInt128(b * b)
        }
        return (s, ss)
    }

    /// The mean of channel `c`'s bytes/255 (nearest Double; nil without pixels).
    public func mean(_ c: Int) -> Double? {
        let n = pixelsPerChannel
        guard n > 0 else { return nil }
        return Double(sums(c).x) / (255 * Double(n))
    }

    /// The population standard deviation of channel `c`'s bytes/255 (to Double precision; nil without pixels).
    public func std(_ c: Int) -> Double? {
        let n = pixelsPerChannel
        guard n > 0 else { return nil }
        return Double(variationNumerator(c)).squareRoot() / (255 * Double(n))
    }

    /// `n·Σx² − (Σx)²` (never negative), the variance of bytes times n².
    func variationNumerator(_ c: Int) -> UInt128 {
        let (s, ss) = sums(c)
        return UInt128(pixelsPerChannel) * ss - s * s
    }

    /// The mean of channel `c`'s bytes/255 rounded to `places` decimals (ties away from
    /// zero), as `k / 10^places`; nil without pixels. Exact: k = ⌊(2·10^p·Σx + 255n) / (2·255n)⌋.
    public func roundedMean(_ c: Int, places: Int = 4) -> Double? {
        precondition((0...9).contains(places), "roundedMean: places")
        let n = pixelsPerChannel
        guard n > 0 else { return nil }
        let scale = UInt128(Self.power10(places)), d = 255 * UInt128(n)
        let k = (2 * scale * sums(c).x + d) / (2 * d)
        return Double(k) / Double(Self.power10(places))
    }

    /// The population standard deviation of channel `c`'s bytes/255 rounded to `places`
    /// decimals (ties away from zero), as `k / 10^places`; nil without pixels. Exact: with
    /// σ·10^p = 10^p·√V / D (V = n·Σx² − (Σx)², D = 255n), k is the largest integer with
    /// k − ½ ≤ σ·10^p, i.e. (2k − 1)²·D² ≤ 4·10^(2p)·V, compared in 256 bits.
    public func roundedStd(_ c: Int, places: Int = 4) -> Double? {
        precondition((0...9).contains(places), "roundedStd: places")
        let n = pixelsPerChannel
        guard n > 0 else { return nil }
        let v = variationNumerator(c), d = 255 * UInt128(n)
        let scale = UInt128(Self.power10(places)), rhsFactor = 4 * scale * scale
        let dd = d * d
        func atOrAbove(_ k: UInt128) -> Bool {  // k − ½ ≤ σ·10^p
            guard k > 0 else { return true }
            let lhs = ((2 * k - 1) * (2 * k - 1)).multipliedFullWidth(by: dd)
            let rhs = rhsFactor.multipliedFullWidth(by: v)
            return lhs.high < rhs.high || (lhs.high == rhs.high && lhs.low <= rhs.low)
        }
        // σ ≤ ½, so k ≤ 10^p / 2 + 1; start from the float estimate and step to the exact k.
        var k = UInt128(max(0, (Double(v).squareRoot() / Double(d) * Double(Self.power10(places))).rounded()))
        while k > 0 && !atOrAbove(k) { k -= 1 }
        while atOrAbove(k + 1) { k += 1 }
        return Double(k) / Double(Self.power10(places))
    }

    static func power10(_ p: Int) -> UInt64 {
        (0..<p).reduce(1) { r, _ in r * 10 }
    }
}
