import MixCore

/// ColorJitter (torchvision v2): brightness, contrast, saturation and hue, each applied
/// when its factor is given, in the order of `order` (a permutation of 0…3: 0 brightness,
/// 1 contrast, 2 saturation, 3 hue), each on the previous one's uint8 output.
public struct ColorJitter: ImageKernel {
    /// The op's parameters (what the draw side records).
    public struct Params: Sendable, Hashable {
        /// Brightness factor (≥ 0), or nil to skip.
        public var brightness: Double?
        /// Contrast factor (≥ 0), or nil to skip.
        public var contrast: Double?
        /// Saturation factor (≥ 0), or nil to skip.
        public var saturation: Double?
        /// Hue factor (−0.5…0.5), or nil to skip.
        public var hue: Double?
        /// A permutation of 0…3 (`torch.randperm(4)` in torchvision).
        public var order: [Int]
        /// Parameters as given (checked by `apply`).
        public init(brightness: Double? = nil, contrast: Double? = nil, saturation: Double? = nil, hue: Double? = nil,
                    order: [Int] = [0, 1, 2, 3]) {
            self.brightness = brightness
            self.contrast = contrast
            self.saturation = saturation
            self.hue = hue
            self.order = order
        }
    }

    /// Writes the op with `p` on `src` into `dst` (see the type's definition); throws on invalid parameters.
    public static func apply(_ p: Params, src: PlanarImage, dst: inout PlanarImage) throws {
        guard p.order.sorted() == [0, 1, 2, 3] else { throw MixError("color_jitter order must be a permutation of 0…3, not \(p.order)") }
        var image = src
        var out = src
        for step in p.order {
            switch step {
            case 0: guard let f = p.brightness else { continue }; try Brightness.apply(.init(factor: f), src: image, dst: &out)
            case 1: guard let f = p.contrast else { continue }; try Contrast.apply(.init(factor: f), src: image, dst: &out)
            case 2: guard let f = p.saturation else { continue }; try Saturation.apply(.init(factor: f), src: image, dst: &out)
            default: guard let f = p.hue else { continue }; try Hue.apply(.init(factor: f), src: image, dst: &out)
            }
            swap(&image, &out)
        }
        dst = image
    }
}
