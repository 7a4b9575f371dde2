import MixCore

/// Which mixing policy an epoch uses. See DESIGN.md, "Mixing semantics".
public enum MixMode: String, Sendable, Codable, CaseIterable {
    /// The article's: each sample, with probability p, gets a uniform random partner and λ ~ Beta(α, α).
    case sample
    /// The paper's: blocks of `block` consecutive samples share one λ; partners are a permutation of the block.
    case batch
    /// A box of side ratio √(1−λ) pasted from the partner; λ becomes the exact kept fraction.
    case cutmix
    /// No mixing (the baseline).
    case none
}

/// The mixing section of a pipeline.
public struct MixConfig: Sendable, Equatable, Codable {
    public var mode: MixMode
    /// Probability that a sample is mixed (0...1), applied once per sample in every mode.
    public var p: Double
    /// Beta(α, α) parameter, from `minAlpha` to `maxAlpha`.
    public var alpha: Double
    /// Block size for `batch` mode.
    public var block: Int
    /// Label smoothing ε in [0, 1): y ← (1−ε)·y + ε/K.
    public var smoothing: Double

    public init(mode: MixMode = .sample, p: Double = 0.2, alpha: Double = 0.2, block: Int = 128, smoothing: Double = 0) {
        self.mode = mode
        self.p = p
        self.alpha = alpha
        self.block = block
        self.smoothing = smoothing
    }

    /// The smallest `alpha` accepted. At 0.001, 94% of the λ ~ Beta(α, α) a shard stores
    /// (as Float) are already exactly 0 or 1, so mixing mostly copies one of the two
    /// images, and below it that share tends to all; for α below about 1e-307 (a
    /// subnormal such as 1e-320) the sampler's log-space boost overflows and λ is NaN.
    /// Tests check the sampler at this bound against the exact Beta CDF.
    public static let minAlpha = 0.001
    /// The largest `alpha` accepted: λ is then 0.5 within 0.0004 (one standard deviation);
    /// near `Double.greatestFiniteMagnitude` the Gamma draws overflow and λ is NaN.
    public static let maxAlpha = 1_000_000.0

    /// Problems with the values, each naming its key; empty when valid.
    public func problems(prefix: String = "mix.") -> [String] {
        var out: [String] = []
        if !(alpha >= MixConfig.minAlpha && alpha <= MixConfig.maxAlpha) {
            out.append("\(prefix)alpha must be from \(MixConfig.minAlpha) to \(Wording.grouped(Int(MixConfig.maxAlpha))) (got \(alpha))")
        }
        if !(0...1).contains(p) { out.append("\(prefix)p must be in [0, 1] (got \(p))") }
        if !(smoothing >= 0 && smoothing < 1) { out.append("\(prefix)smoothing must be in [0, 1) (got \(smoothing))") }
        if block < 1 { out.append("\(prefix)block must be ≥ 1 (got \(block))") }
        return out
    }
}
