import MixCore

/// The geometric augmentation of a pipeline (`[augment]`), applied to each
/// source image before mixing — primary and partner independently.
///
/// Draws come from `CounterRNG(seed, .augment, epoch, position k)`: the primary's
/// (dx, dy, flip), then the partner's, always six draws whatever is enabled, so
/// turning flips on never moves a crop and vice versa. See DESIGN.md, "Mixing semantics".
public struct AugmentConfig: Sendable, Equatable, Codable {
    /// Pad by this many zero pixels on every side, then crop back to H×W at a
    /// uniformly drawn offset (0: off). `augment.crop_pad`.
    public var cropPad: Int
    /// Mirror left–right with probability 1/2. `augment.flip`.
    public var flip: Bool

    public init(cropPad: Int = 0, flip: Bool = false) {
        self.cropPad = cropPad
        self.flip = flip
    }

    /// The largest `crop_pad` the format can record (offsets are stored as int16).
    public static let maxCropPad = 1023

    /// Whether any transform is drawn.
    public var isActive: Bool { cropPad > 0 || flip }

    /// A short description, e.g. `crop (pad 4) + flip` or `none`.
    public var summary: String {
        var parts: [String] = []
        if cropPad > 0 { parts.append("crop (pad \(cropPad))") }
        if flip { parts.append("flip") }
        return parts.isEmpty ? "none" : parts.joined(separator: " + ")
    }

    /// Problems with the values, each naming its key; empty when valid.
    public func problems(prefix: String = "augment.") -> [String] {
        (0...AugmentConfig.maxCropPad).contains(cropPad) ? []
            : ["\(prefix)crop_pad must be \(Wording.range(0, AugmentConfig.maxCropPad)) (got \(cropPad))"]
    }

    /// Why these settings cannot apply to images of this size, naming the key; nil when they can.
    public func shapeProblem(height: Int, width: Int, prefix: String = "augment.") -> String? {
        cropPad < min(height, width) ? nil
            : "\(prefix)crop_pad = \(cropPad) must be smaller than the image side (\(width)×\(height))"
    }

    /// The transforms of the primary and the partner at position `k` of `epoch`.
    public func transforms(seed: UInt64, epoch: Int, position k: Int) -> (primary: ImageTransform, partner: ImageTransform) {
        guard isActive else { return (.identity, .identity) }
        var rng = CounterRNG(seed: seed, stream: .augment, epoch: UInt32(truncatingIfNeeded: epoch), position: UInt32(k))
        let span = 2 * cropPad + 1
        func draw() -> ImageTransform {
            let dx = rng.uniformInt(below: span) - cropPad
            let dy = rng.uniformInt(below: span) - cropPad
            let f = rng.uniformInt(below: 2) == 1
            return ImageTransform(dx: Int16(dx), dy: Int16(dy), flip: flip && f)
        }
        let primary = draw()
        let partner = draw()
        return (primary, partner)
    }

    enum CodingKeys: String, CodingKey { case cropPad = "crop_pad", flip }
}
