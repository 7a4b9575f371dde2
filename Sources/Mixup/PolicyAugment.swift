import MixCore

/// `augment.rand_augment`: torchvision v2 `RandAugment(num_ops, magnitude)` with 31
/// magnitude bins.
public struct RandAugmentConfig: Sendable, Equatable, Codable {
    /// Ops applied per image, N (torchvision's `num_ops`, default 2), at most `maxOps`.
    public var ops: Int
    /// The magnitude bin M, 0 … 30 (default 9).
    public var magnitude: Int

    public init(ops: Int = 2, magnitude: Int = 9) {
        self.ops = ops
        self.magnitude = magnitude
    }

    /// The most ops a record holds for RandAugment (the other 4 slots are colour jitter's).
    public static let maxOps = 4

    public func problems(prefix: String) -> [String] {
        var out: [String] = []
        if !(1...RandAugmentConfig.maxOps).contains(ops) { out.append("\(prefix)ops must be \(Wording.range(1, RandAugmentConfig.maxOps)) (got \(ops))") }
        if !(0..<PolicyAugment.bins).contains(magnitude) {
            out.append("\(prefix)magnitude must be \(Wording.range(0, PolicyAugment.bins - 1)) (got \(magnitude))")
        }
        return out
    }
}

/// TrivialAugmentWide and RandAugment: their op spaces (torchvision v2 `_AUGMENTATION_SPACE`,
/// 31 bins) and draws from the counter-based RNG (stream 10).
public enum PolicyAugment {
    /// Magnitude bins of both policies (torchvision's `num_magnitude_bins` default).
    public static let bins = 31

    /// torch's `linspace(a, b, 31)` in binary32, as ATen's CPU kernel computes it: step = (b − a) / 30
    /// (binary32), value i = a + step·i for i < 15, else b − step·(30 − i), each one fused
    /// multiply-add (the product not rounded). Checked against torch 2.15 on every bin of both
    /// policies' tables (python/tests/test_mixing.py).
    public static func linspace(_ a: Float, _ b: Float, _ i: Int) -> Float {
        let step = (b - a) / Float(bins - 1)
        return i < bins / 2 ? a.addingProduct(step, Float(i)) : b.addingProduct(-step, Float(bins - 1 - i))
    }

    /// Posterize's bits at bin i: 8 − round(i / ((31 − 1) / d)), ties to even (torch.round),
    /// with d = 6 for TrivialAugmentWide and 4 for RandAugment.
    static func posterizeBits(_ i: Int, divisions d: Double) -> Float {
        Float(8 - Int((Double(i) / (Double(bins - 1) / d)).rounded(.toNearestOrEven)))
    }

    /// TrivialAugmentWide's magnitude of `op` at bin i and whether it is signed.
    public static func trivialMagnitude(_ op: PolicyOp, bin i: Int) -> (magnitude: Float, signed: Bool) {
        switch op {
        case .shearX, .shearY: (linspace(0, 0.99, i), true)
        case .translateX, .translateY: (linspace(0, 32, i), true)
        case .rotate: (linspace(0, 135, i), true)
        case .brightness, .color, .contrast, .sharpness: (linspace(0, 0.99, i), true)
        case .posterize: (posterizeBits(i, divisions: 6), false)
        case .solarize: (linspace(1, 0, i), false)
        default: (0, false)
        }
    }

    /// RandAugment's magnitude of `op` at bin i for an image of `height` × `width`, and whether it is signed.
    public static func randMagnitude(_ op: PolicyOp, bin i: Int, height: Int, width: Int) -> (magnitude: Float, signed: Bool) {
        switch op {
        case .shearX, .shearY: (linspace(0, 0.3, i), true)
        case .translateX: (linspace(0, Float(150.0 / 331.0 * Double(width)), i), true)
        case .translateY: (linspace(0, Float(150.0 / 331.0 * Double(height)), i), true)
        case .rotate: (linspace(0, 30, i), true)
        case .brightness, .color, .contrast, .sharpness: (linspace(0, 0.9, i), true)
        case .posterize: (posterizeBits(i, divisions: 4), false)
        case .solarize: (linspace(1, 0, i), false)
        default: (0, false)
        }
    }

    /// TrivialAugmentWide's op of one image: op = `uniformInt(14)`, bin = `uniformInt(31)`,
    /// coin = `uniformInt(2)` — always all three; the magnitude is negated when the op is
    /// signed and coin = 1 (torchvision draws the bin and the coin only when they matter).
    public static func drawTrivial(_ rng: inout CounterRNG) -> AppliedOp {
        let op = PolicyOp.policySpace[rng.uniformInt(below: PolicyOp.policySpace.count)]
        let bin = rng.uniformInt(below: bins)
        let coin = rng.uniformInt(below: 2) == 1
        let (m, signed) = trivialMagnitude(op, bin: bin)
        return AppliedOp(op, signed && coin ? -m : m)
    }

    /// RandAugment's N ops of one image: per op, op = `uniformInt(14)`, coin = `uniformInt(2)`
    /// (always both); the magnitude is bin M's, negated when signed and coin = 1.
    public static func drawRand(_ rng: inout CounterRNG, config: RandAugmentConfig, height: Int, width: Int) -> [AppliedOp] {
        (0..<config.ops).map { _ in
            let op = PolicyOp.policySpace[rng.uniformInt(below: PolicyOp.policySpace.count)]
            let coin = rng.uniformInt(below: 2) == 1
            let (m, signed) = randMagnitude(op, bin: config.magnitude, height: height, width: width)
            return AppliedOp(op, signed && coin ? -m : m)
        }
    }
}
