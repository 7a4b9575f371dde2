import MixCore

/// The policy ops' kernels by id. `PolicyOp` (ids fixed for the shards' op records and the
/// Python reader: 0–13 in the order of torchvision's TrivialAugmentWide `_AUGMENTATION_SPACE`,
/// 14 colour jitter's hue, 15 the resized crop) lives in MixCore, where the records are.
extension PolicyOp {
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
