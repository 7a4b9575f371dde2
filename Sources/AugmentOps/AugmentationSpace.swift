import MixCore

/// The magnitude tables of torchvision v2's TrivialAugmentWide and RandAugment
/// (`_AUGMENTATION_SPACE`), as data, reproducing torch's float32 `linspace` bit for bit.
public enum AugmentationSpace: String, CaseIterable, Sendable, Codable {
    case trivialAugmentWide
    case randAugment

    /// torchvision's default number of magnitude bins for both.
    public static let defaultBins = 31

    /// The ops the policy draws from, in `_AUGMENTATION_SPACE` order (both: ids 0…13).
    public var ops: [PolicyOp] { (0...13).map { PolicyOp(rawValue: $0)! } }

    /// One entry of the table: the range `linspace(0, end, bins)` of a signed op, posterize's
    /// bits, solarize's `linspace(1, 0, bins)`, or none (identity, autoContrast, equalize).
    public enum Magnitudes: Sendable, Equatable {
        case none
        /// `linspace(start, end, bins)`; `signed` ops are negated with probability ½.
        case linspace(start: Double, end: Double, signed: Bool)
        /// `round(8 − i / ((bins − 1) / divisor))` bits (divisor 6 for TrivialAugmentWide, 4 for RandAugment).
        case posterize(divisor: Double)
    }

    /// The table entry of `op` for an image of `height` × `width` (RandAugment's translate
    /// range depends on the size).
    public func magnitudes(_ op: PolicyOp, height: Int, width: Int) -> Magnitudes {
        let wide = self == .trivialAugmentWide
        switch op {
        case .identity, .autoContrast, .equalize, .hue, .resizedCrop: return .none
        case .shearX, .shearY: return .linspace(start: 0, end: wide ? 0.99 : 0.3, signed: true)
        case .translateX: return .linspace(start: 0, end: wide ? 32 : 150.0 / 331.0 * Double(width), signed: true)
        case .translateY: return .linspace(start: 0, end: wide ? 32 : 150.0 / 331.0 * Double(height), signed: true)
        case .rotate: return .linspace(start: 0, end: wide ? 135 : 30, signed: true)
        case .brightness, .color, .contrast, .sharpness: return .linspace(start: 0, end: wide ? 0.99 : 0.9, signed: true)
        case .posterize: return .posterize(divisor: wide ? 6 : 4)
        case .solarize: return .linspace(start: 1, end: 0, signed: false)
        }
    }

    /// Whether the op's magnitude is negated with probability ½ (`signed` in the table).
    public func isSigned(_ op: PolicyOp) -> Bool {
        if case .linspace(_, _, true) = magnitudes(op, height: 1, width: 1) { return true }
        return false
    }

    /// The magnitude `_apply_image_or_video_transform` receives for `op` at `bin` (0 ≤ bin <
    /// bins), negated when `negative` (for signed ops only; ignored otherwise): the float32
    /// table value widened to double, as torchvision's `float(magnitudes[bin])`. 0 for ops
    /// without magnitudes.
    public func magnitude(_ op: PolicyOp, bin: Int, negative: Bool = false, bins: Int = AugmentationSpace.defaultBins,
                          height: Int, width: Int) throws -> Double {
        guard bins >= 2 else { throw MixError("the number of magnitude bins must be at least 2, not \(bins)") }
        guard (0..<bins).contains(bin) else { throw MixError("magnitude bin \(bin) is outside 0…\(bins - 1)") }
        switch magnitudes(op, height: height, width: width) {
        case .none: return 0
        case .linspace(let start, let end, let signed):
            let v = Double(Self.linspace(start: start, end: end, steps: bins, index: bin))
            return signed && negative ? -v : v
        case .posterize(let divisor):
            let q = Float(bin) / Float(Double(bins - 1) / divisor)
            return Double((8 - q).rounded(.toNearestOrEven))
        }
    }

    /// Element `index` of torch's CPU `linspace(start, end, steps)` in float32: with
    /// `step = (end − start) / (steps − 1)` in float32, `start + step·i` below `steps / 2`
    /// and `end − step·(steps − 1 − i)` from there, each one fused multiply–add.
    public static func linspace(start: Double, end: Double, steps: Int, index i: Int) -> Float {
        let s = Float(start), e = Float(end)
        let step = (e - s) / Float(steps - 1)
        if i < steps / 2 { return s.addingProduct(step, Float(i)) }
        return e.addingProduct(-step, Float(steps - 1 - i))
    }
}
