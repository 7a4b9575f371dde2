import MixCore

/// What happens to the sample at one position of an epoch.
public struct MixDecision: Sendable, Equatable {
    /// Position of the primary image in the source split.
    public var primary: Int
    /// Position of the partner (== primary when unmixed).
    public var partner: Int
    /// Weight of the primary in pixels and label; 1 when unmixed. For cutmix,
    /// the exact fraction of pixels kept from the primary.
    public var lambda: Float
    /// CutMix box `[x0, x1) × [y0, y1)` taken from the partner, if any.
    public var box: (x0: Int, y0: Int, x1: Int, y1: Int)?
    /// Whether the p-draw chose to mix this sample.
    public var mixed: Bool
    /// The geometric transform of the primary before mixing (`[augment]`).
    public var primaryTransform: ImageTransform
    /// The partner's transform (== `primaryTransform` when unmixed).
    public var partnerTransform: ImageTransform
    /// The primary's ops beyond crop and flip (`[augment]` v4 keys), applied after its transform.
    public var primaryOps: ImageOps = .none
    /// The partner's ops (== `primaryOps` when unmixed).
    public var partnerOps: ImageOps = .none
    /// Random erasing of the mixed pixels.
    public var erasing: Erasing = .none

    public init(primary: Int, partner: Int, lambda: Float, box: (x0: Int, y0: Int, x1: Int, y1: Int)?, mixed: Bool,
                primaryTransform: ImageTransform = .identity, partnerTransform: ImageTransform = .identity) {
        self.primary = primary
        self.partner = partner
        self.lambda = lambda
        self.box = box
        self.mixed = mixed
        self.primaryTransform = primaryTransform
        self.partnerTransform = partnerTransform
    }

    /// Position `i` unchanged (under `transform`).
    public static func unmixed(_ i: Int, transform: ImageTransform = .identity) -> MixDecision {
        MixDecision(primary: i, partner: i, lambda: 1, box: nil, mixed: false,
                    primaryTransform: transform, partnerTransform: transform)
    }

    /// An unmixed sample: the primary under its transform, nothing else (what a
    /// shard may store as a reference instead of pixels).
    public var isCopy: Bool { !mixed }

    /// Whether a shard may store the sample as a reference: a copy whose only change to its
    /// primary is its transform (no op but the identity, no erasing), so that no reader
    /// needs an op kernel to resolve it.
    public var canBeReference: Bool { !mixed && primaryOps.isIdentity && erasing.isNone }

    public static func == (a: MixDecision, b: MixDecision) -> Bool {
        a.primary == b.primary && a.partner == b.partner && a.lambda == b.lambda && a.mixed == b.mixed
            && a.box?.x0 == b.box?.x0 && a.box?.y0 == b.box?.y0 && a.box?.x1 == b.box?.x1 && a.box?.y1 == b.box?.y1
            && a.primaryTransform == b.primaryTransform && a.partnerTransform == b.partnerTransform
            && a.primaryOps == b.primaryOps && a.partnerOps == b.partnerOps && a.erasing == b.erasing
    }
}

/// The decisions of one epoch: a pure function of (config, seed, epoch, source size).
///
/// The order is a seeded permutation of the training set; every other draw
/// comes from a counter-based stream keyed by the position (or, in batch mode,
/// the block), so any position can be computed alone, in any order, on any
/// worker.
public struct EpochPlan: Sendable {
    public let config: MixConfig
    /// Geometric augmentation drawn per position before mixing.
    public let augment: AugmentConfig
    public let seed: UInt64
    public let epoch: Int
    public let count: Int
    public let height: Int
    public let width: Int
    /// `order[k]` is the primary of position k.
    public let order: [Int]

    public init(config: MixConfig, augment: AugmentConfig = AugmentConfig(), seed: UInt64, epoch: Int, count: Int,
                height: Int, width: Int) {
        self.config = config
        self.augment = augment
        self.seed = seed
        self.epoch = epoch
        self.count = count
        self.height = height
        self.width = width
        self.order = EpochPlan.permutation(count, seed: seed, epoch: epoch)
    }

    /// A seeded Fisher–Yates permutation of 0..<n.
    public static func permutation(_ n: Int, seed: UInt64, epoch: Int) -> [Int] {
        var rng = CounterRNG(seed: seed, stream: .order, epoch: UInt32(truncatingIfNeeded: epoch))
        var a = Array(0..<n)
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) {
                a.swapAt(i, rng.uniformInt(below: i + 1))
            }
        }
        return a
    }

    /// The decision for position `k`: the mixing, then the transforms of primary and partner,
    /// then (v4) their ops and the sample's erasing.
    public func decision(at k: Int) -> MixDecision {
        var d = mixing(at: k)
        if augment.isActive {
            let t = augment.transforms(seed: seed, epoch: epoch, position: k)
            d.primaryTransform = t.primary
            d.partnerTransform = d.mixed ? t.partner : t.primary
        }
        if augment.recordsOps {
            let o = augment.ops(seed: seed, epoch: epoch, position: k, height: height, width: width)
            d.primaryOps = o.primary
            d.partnerOps = d.mixed ? o.partner : o.primary
            d.erasing = o.erasing
        }
        return d
    }

    /// The mixing decision for position `k` (identity transforms).
    func mixing(at k: Int) -> MixDecision {
        let primary = order[k]
        var unmixed = MixDecision.unmixed(primary)
        if config.mode == .none || config.p == 0 { return unmixed }
        var rng = CounterRNG(seed: seed, stream: .sample, epoch: UInt32(truncatingIfNeeded: epoch), position: UInt32(k))
        guard rng.uniform() < config.p else { return unmixed }
        unmixed.mixed = true
        switch config.mode {
        case .none:
            return unmixed
        case .sample:
            let partner = rng.uniformInt(below: count)
            let lambda = Float(rng.beta(config.alpha, config.alpha))
            return MixDecision(primary: primary, partner: partner, lambda: lambda, box: nil, mixed: true)
        case .batch:
            let b = k / config.block
            let start = b * config.block
            let size = min(config.block, count - start)
            var blockRNG = CounterRNG(seed: seed, stream: .block, epoch: UInt32(truncatingIfNeeded: epoch), position: UInt32(b))
            let lambda = Float(blockRNG.beta(config.alpha, config.alpha))
            // The block's permutation: a Fisher–Yates over its positions, from the block's stream.
            var perm = Array(0..<size)
            if size > 1 {
                for i in stride(from: size - 1, to: 0, by: -1) { perm.swapAt(i, blockRNG.uniformInt(below: i + 1)) }
            }
            let partner = order[start + perm[k - start]]
            return MixDecision(primary: primary, partner: partner, lambda: lambda, box: nil, mixed: true)
        case .cutmix:
            let partner = rng.uniformInt(below: count)
            let lambda = rng.beta(config.alpha, config.alpha)
            let ratio = (1 - lambda).squareRoot()
            let cutW = Int(Double(width) * ratio)
            let cutH = Int(Double(height) * ratio)
            let cx = rng.uniformInt(below: width)
            let cy = rng.uniformInt(below: height)
            let x0 = max(cx - cutW / 2, 0), x1 = min(cx + cutW / 2, width)
            let y0 = max(cy - cutH / 2, 0), y1 = min(cy + cutH / 2, height)
            let area = (x1 - x0) * (y1 - y0)
            return MixDecision(primary: primary, partner: partner, lambda: EpochPlan.cutmixLambda(boxArea: area, width: width, height: height),
                               box: area > 0 ? (x0, y0, x1, y1) : nil, mixed: true)
        }
    }

    /// CutMix's λ: the fraction of the primary's pixels that a box of `boxArea` pixels
    /// leaves, `(W·H − area) / (W·H)` as one binary32 division (both integers are exact
    /// in binary32 for images within the format limits). `verify` checks every cutmix
    /// record's λ against it.
    public static func cutmixLambda(boxArea: Int, width: Int, height: Int) -> Float {
        Float(width * height - boxArea) / Float(width * height)
    }
}
