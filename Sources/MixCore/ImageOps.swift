/// The per-image augmentation ops of `[augment]` beyond crop and flip (issue 20): their
/// ids, the parameters a sample records for them (MixShard v4 op records), and the
/// random-erasing fill. Shared by the writer (Mixup draws and applies them) and the
/// readers (ShardFormat decodes and checks the records), as `ImageTransform` is.
///
/// The ids are fixed and shared with Python (`mixshards.layout.POLICY_OPS`) and the
/// `AugmentOps` kernels: 0–13 are torchvision TrivialAugmentWide's `_AUGMENTATION_SPACE`
/// in its order, 14 is colour jitter's hue, 15 the resized crop (recorded in its own
/// fields, never in an op slot).
public enum PolicyOp: UInt8, Sendable, CaseIterable, Codable {
    case identity = 0, shearX = 1, shearY = 2, translateX = 3, translateY = 4, rotate = 5
    case brightness = 6, color = 7, contrast = 8, sharpness = 9, posterize = 10, solarize = 11
    case autoContrast = 12, equalize = 13, hue = 14, resizedCrop = 15

    /// torchvision's name of the op (`_AUGMENTATION_SPACE` keys; "Hue" and "ResizedCrop" ours).
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

    /// The 14 ops TrivialAugmentWide and RandAugment draw from (ids 0–13, in id order).
    public static let policySpace: [PolicyOp] = (0...13).map { PolicyOp(rawValue: UInt8($0))! }
}

/// One op applied to an image, with the magnitude its kernel takes (binary32): torchvision's
/// `_apply_op(img, op_name, magnitude)` for ids 0–13 (e.g. Brightness adjusts by the factor
/// 1 + magnitude; Posterize keeps `magnitude` bits; Solarize's threshold is 255·magnitude),
/// and for colour jitter the factor minus 1 for brightness (6), saturation (7, "Color") and
/// contrast (8), the hue shift itself for 14. See DESIGN.md, "The draws of an epoch, exactly".
public struct AppliedOp: Sendable, Hashable {
    public var op: PolicyOp
    public var magnitude: Float

    public init(_ op: PolicyOp, _ magnitude: Float) {
        self.op = op
        self.magnitude = magnitude
    }
}

/// A crop box in source pixels, torchvision's `(top, left, height, width)` = `(i, j, h, w)`.
public struct CropBox: Sendable, Hashable {
    public var top: UInt16, left: UInt16, height: UInt16, width: UInt16

    public init(top: UInt16, left: UInt16, height: UInt16, width: UInt16) {
        self.top = top
        self.left = left
        self.height = height
        self.width = width
    }

    /// Whether the box holds a pixel and lies inside an image of `height` × `width`.
    public func fits(height h: Int, width w: Int) -> Bool {
        height > 0 && width > 0 && Int(top) + Int(height) <= h && Int(left) + Int(width) <= w
    }
}

/// The ops applied to one image (the primary or the partner) before mixing, in the order
/// they are applied: the resized crop (resampled back to the image's size), then the
/// image's `ImageTransform` (crop-pad shift and flip), then `ops` in order.
public struct ImageOps: Sendable, Hashable {
    /// `random_resized_crop`'s box, nil when off.
    public var resizedCrop: CropBox?
    /// The policy ops (TrivialAugment's one, RandAugment's N), then colour jitter's in its
    /// drawn order, at most `maxOps`.
    public var ops: [AppliedOp]

    public init(resizedCrop: CropBox? = nil, ops: [AppliedOp] = []) {
        self.resizedCrop = resizedCrop
        self.ops = ops
    }

    /// No op at all.
    public static let none = ImageOps()
    /// The op slots a record holds per image: RandAugment's at most 4 and colour jitter's 4.
    public static let maxOps = 8

    /// Whether the image is left as the transform made it: no resized crop, and every op the identity.
    public var isIdentity: Bool { resizedCrop == nil && ops.allSatisfy { $0.op == .identity } }
}

/// Random erasing of a sample's final pixels (after mixing, as timm does): a box filled with
/// zeros or with random bytes.
public struct Erasing: Sendable, Hashable {
    /// What the box is filled with (record byte: 1 zero, 2 random; 0 = not erased).
    public enum Fill: UInt8, Sendable, Hashable { case zero = 1, random = 2 }

    /// nil: not erased.
    public var fill: Fill?
    /// The erased box (all zero when not erased).
    public var box: CropBox

    public init(fill: Fill?, box: CropBox) {
        self.fill = fill
        self.box = box
    }

    public static let none = Erasing(fill: nil, box: CropBox(top: 0, left: 0, height: 0, width: 0))
    public var isNone: Bool { fill == nil }

    /// The stream the random fill's bytes come from: (seed, stream 12, epoch, position).
    public static func valueStream(seed: UInt64, epoch: Int, position k: Int) -> CounterRNG {
        CounterRNG(seed: seed, stream: .erasingValues, epoch: UInt32(truncatingIfNeeded: epoch), position: UInt32(k))
    }

    /// Fills the box of `image` (`channels × height × width`, planar): zeros, or (random)
    /// `uniformInt(256)` from `values` for each pixel of the box, plane by plane, row by
    /// row, left to right (DESIGN.md, "The draws of an epoch, exactly"). A trivial kernel:
    /// it is its own reference.
    public func apply(to image: UnsafeMutablePointer<UInt8>, channels: Int, height: Int, width: Int, values: inout CounterRNG) {
        guard let fill else { return }
        let (top, left, h, w) = (Int(box.top), Int(box.left), Int(box.height), Int(box.width))
        precondition(box.fits(height: height, width: width), "erasing box outside the image")
        for c in 0..<channels {
            for y in top..<(top + h) {
                let row = image + (c * height + y) * width + left
                switch fill {
                case .zero: row.update(repeating: 0, count: w)
                case .random: for x in 0..<w { row[x] = UInt8(values.uniformInt(below: 256)) }
                }
            }
        }
    }
}
