import MixCore

/// Sharpness: `adjust_sharpness(img, f)`. The blurred image is the 3 × 3 kernel
/// `[1 1 1; 1 5 1; 1 1 1] / 13` on the interior pixels, rounded to the nearest integer
/// (it is never a half: 13 is odd); interior output `(x + (1 − f)·(blur − x)).clamp(0, 255)`
/// truncated, in float32 with the product fused; the one-pixel border is kept, and an image
/// with a side ≤ 2 is returned unchanged.
public struct Sharpness: ImageKernel {
    /// The op's parameters (what the draw side records).
    public struct Params: Sendable, Hashable {
        /// The factor (≥ 0): 0 blurred, 1 the image, 2 sharpened.
        public var factor: Double
        /// Parameters as given (checked by `apply`).
        public init(factor: Double) { self.factor = factor }
    }

    /// Writes the op with `p` on `src` into `dst` (see the type's definition); throws on invalid parameters.
    public static func apply(_ p: Params, src: PlanarImage, dst: inout PlanarImage) throws {
        guard p.factor.isFinite, p.factor >= 0 else { throw MixError("sharpness factor must be ≥ 0, not \(p.factor)") }
        dst = src
        let h = src.height, w = src.width
        guard h > 2, w > 2 else { return }
        let alpha = Float(1 - p.factor)
        for c in 0..<src.channels {
            let base = c * h * w
            for y in 1..<(h - 1) {
                for x in 1..<(w - 1) {
                    var s = 0
                    for dy in -1...1 {
                        let row = base + (y + dy) * w + x
                        s += Int(src.pixels[row - 1]) + Int(src.pixels[row]) + Int(src.pixels[row + 1])
                    }
                    let centre = src.pixels[base + y * w + x]
                    s += 4 * Int(centre)
                    let blur = Float((Double(s) / 13).rounded())
                    let v = Float(centre)
                    dst.pixels[base + y * w + x] = truncatedByte(v.addingProduct(blur - v, alpha))
                }
            }
        }
    }
}
