import MixCore

/// Posterize: `posterize(img, bits)` keeps the top `bits` bits of every byte (`x & mask`);
/// 8 bits (or more) is the image, 0 bits black.
public struct Posterize: ImageKernel {
    /// The op's parameters (what the draw side records).
    public struct Params: Sendable, Hashable {
        /// Bits kept, 0…8.
        public var bits: Int
        /// Parameters as given (checked by `apply`).
        public init(bits: Int) { self.bits = bits }
    }

    /// Writes the op with `p` on `src` into `dst` (see the type's definition); throws on invalid parameters.
    public static func apply(_ p: Params, src: PlanarImage, dst: inout PlanarImage) throws {
        guard (0...8).contains(p.bits) else { throw MixError("posterize keeps 0 to 8 bits, not \(p.bits)") }
        let mask = UInt8(truncatingIfNeeded: 0xFF00 >> p.bits)
        src.shaped(&dst)
        for i in src.pixels.indices { dst.pixels[i] = src.pixels[i] & mask }
    }
}

/// Solarize: `solarize(img, t)` inverts (`255 − x`) every byte with `x ≥ t`, the comparison
/// in float32; the policy op's threshold is `255·m`.
public struct Solarize: ImageKernel {
    /// The op's parameters (what the draw side records).
    public struct Params: Sendable, Hashable {
        /// The threshold, ≤ 255 (as torchvision requires).
        public var threshold: Double
        /// Parameters as given (checked by `apply`).
        public init(threshold: Double) { self.threshold = threshold }
    }

    /// Writes the op with `p` on `src` into `dst` (see the type's definition); throws on invalid parameters.
    public static func apply(_ p: Params, src: PlanarImage, dst: inout PlanarImage) throws {
        guard !p.threshold.isNaN, p.threshold <= 255 else { throw MixError("solarize threshold must be ≤ 255, not \(p.threshold)") }
        let t = Float(p.threshold)
        src.shaped(&dst)
        for i in src.pixels.indices {
            let x = src.pixels[i]
            dst.pixels[i] = Float(x) >= t ? 255 - x : x
        }
    }
}
