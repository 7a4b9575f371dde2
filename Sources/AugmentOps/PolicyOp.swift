import MixCore

/// The policy ops, with ids fixed for the shards' provenance records (and the Python
/// reader): 0–13 in the order of torchvision's TrivialAugmentWide `_AUGMENTATION_SPACE`,
/// then the ops of `color_jitter` and `random_resized_crop`. Never renumber.
public enum PolicyOp: UInt8, CaseIterable, Sendable, Codable {
    case identity = 0
    case shearX = 1
    case shearY = 2
    case translateX = 3
    case translateY = 4
    case rotate = 5
    case brightness = 6
    /// Saturation (torchvision's "Color").
    case color = 7
    case contrast = 8
    case sharpness = 9
    case posterize = 10
    case solarize = 11
    case autoContrast = 12
    case equalize = 13
    /// color_jitter's hue shift (magnitude: the hue factor, −0.5…0.5).
    case hue = 14
    /// random_resized_crop's crop box and resize: not a one-number op (`ResizedCrop`).
    case resizedCrop = 15

    /// torchvision's name for the op (`_AUGMENTATION_SPACE`'s keys; the last two are ours).
    public var name: String {
        switch self {
        case .identity: "Identity"
        case .shearX: "ShearX"
        case .shearY: "ShearY"
        case .translateX: "TranslateX"
        case .translateY: "TranslateY"
        case .rotate: "Rotate"
        case .brightness: "Brightness"
        case .color: "Color"
        case .contrast: "Contrast"
        case .sharpness: "Sharpness"
        case .posterize: "Posterize"
        case .solarize: "Solarize"
        case .autoContrast: "AutoContrast"
        case .equalize: "Equalize"
        case .hue: "Hue"
        case .resizedCrop: "ResizedCrop"
        }
    }

    /// Applies the op with `magnitude` as torchvision's `_apply_image_or_video_transform`
    /// receives it: shear the tangent (sheared by `degrees(atan(m))` about the top-left
    /// corner), translate pixels (truncated toward zero), rotate degrees, brightness / colour
    /// / contrast / sharpness the factor `1 + m`, posterize bits (truncated), solarize the
    /// threshold `255·m`, hue the hue factor; identity, autoContrast and equalize ignore it.
    /// Geometry fills with 0. `resizedCrop` takes a box, not a magnitude: use `ResizedCrop`.
    public func apply(magnitude m: Double, src: PlanarImage, dst: inout PlanarImage) throws {
        guard m.isFinite else { throw MixError("\(name) magnitude must be finite, not \(m)") }
        switch self {
        case .identity: dst = src
        case .shearX, .shearY: try Shear.apply(.init(magnitude: m, horizontal: self == .shearX), src: src, dst: &dst)
        case .translateX, .translateY: try Translate.apply(.init(magnitude: m, horizontal: self == .translateX), src: src, dst: &dst)
        case .rotate: try Rotate.apply(.init(degrees: m), src: src, dst: &dst)
        case .brightness: try Brightness.apply(.init(factor: 1 + m), src: src, dst: &dst)
        case .color: try Saturation.apply(.init(factor: 1 + m), src: src, dst: &dst)
        case .contrast: try Contrast.apply(.init(factor: 1 + m), src: src, dst: &dst)
        case .sharpness: try Sharpness.apply(.init(factor: 1 + m), src: src, dst: &dst)
        case .posterize:
            guard abs(m) < 1e6 else { throw MixError("posterize keeps 0 to 8 bits, not \(m)") }
            try Posterize.apply(.init(bits: Int(m.rounded(.towardZero))), src: src, dst: &dst)
        case .solarize: try Solarize.apply(.init(threshold: 255 * m), src: src, dst: &dst)
        case .autoContrast: try AutoContrast.apply((), src: src, dst: &dst)
        case .equalize: try Equalize.apply((), src: src, dst: &dst)
        case .hue: try Hue.apply(.init(factor: m), src: src, dst: &dst)
        case .resizedCrop: throw MixError("ResizedCrop takes a crop box, not a magnitude: use ResizedCrop.apply")
        }
    }

    /// `apply(magnitude:src:dst:)` returning a new image.
    public func applied(magnitude: Double, to src: PlanarImage) throws -> PlanarImage {
        var dst = src
        try apply(magnitude: magnitude, src: src, dst: &dst)
        return dst
    }
}
