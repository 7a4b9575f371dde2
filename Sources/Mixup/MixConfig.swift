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
    /// Beta(α, α) parameter, > 0.
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

    /// Problems with the values, each naming its key; empty when valid.
    public func problems(prefix: String = "mix.") -> [String] {
        var out: [String] = []
        if !(alpha > 0) || !alpha.isFinite { out.append("\(prefix)alpha must be > 0 (got \(alpha))") }
        if !(0...1).contains(p) { out.append("\(prefix)p must be in [0, 1] (got \(p))") }
        if !(smoothing >= 0 && smoothing < 1) { out.append("\(prefix)smoothing must be in [0, 1) (got \(smoothing))") }
        if block < 1 { out.append("\(prefix)block must be ≥ 1 (got \(block))") }
        return out
    }
}
