import MixCore

/// torchvision v2's blends on uint8 images, in float32 as torch computes them:
/// `_blend(img1, img2, r) = (img1·r + (1 − r)·img2).clamp(0, 255).to(uint8)` — the
/// product `img1·r` rounded to float32, then one fused multiply–add (ATen's vectorised
/// `add(alpha:)`), then truncation (`.to(uint8)` truncates; nothing rounds).
@inline(__always) func blend(_ x: UInt8, _ other: Float, ratio: Float, oneMinus: Float) -> UInt8 {
    truncatedByte((Float(x) * ratio).addingProduct(other, oneMinus))
}

/// torchvision's `rgb_to_grayscale` in float32, floored (as `adjust_saturation` and
/// `adjust_contrast` use it for uint8): `⌊0.2989·R + 0.587·G + 0.114·B⌋`, the products
/// of G and B fused into the sum (ATen's `add_(alpha:)`).
@inline(__always) func grey(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> Float {
    let l = (Float(r) * Float(0.2989)).addingProduct(Float(g), Float(0.587)).addingProduct(Float(b), Float(0.114))
    return l.rounded(.down)
}

/// Brightness: `adjust_brightness(img, f)` = `(img·f).clamp(0, 255).to(uint8)`; the policy
/// op's factor is `1 + m`.
public struct Brightness: ImageKernel {
    /// The op's parameters (what the draw side records).
    public struct Params: Sendable, Hashable {
        /// The factor (≥ 0): 0 black, 1 the image.
        public var factor: Double
        /// Parameters as given (checked by `apply`).
        public init(factor: Double) { self.factor = factor }
    }

    /// Writes the op with `p` on `src` into `dst` (see the type's definition); throws on invalid parameters.
    public static func apply(_ p: Params, src: PlanarImage, dst: inout PlanarImage) throws {
        guard p.factor.isFinite, p.factor >= 0 else { throw MixError("brightness factor must be ≥ 0, not \(p.factor)") }
        src.shaped(&dst)
        let f = Float(p.factor)
        for i in src.pixels.indices { dst.pixels[i] = truncatedByte(Float(src.pixels[i]) * f) }
    }
}

/// Colour (saturation): `adjust_saturation(img, f)` = `_blend(img, ⌊grey(img)⌋, f)` per
/// channel; grey images are returned unchanged (as Pillow).
public struct Saturation: ImageKernel {
    /// The op's parameters (what the draw side records).
    public struct Params: Sendable, Hashable {
        /// The factor (≥ 0): 0 grey, 1 the image.
        public var factor: Double
        /// Parameters as given (checked by `apply`).
        public init(factor: Double) { self.factor = factor }
    }

    /// Writes the op with `p` on `src` into `dst` (see the type's definition); throws on invalid parameters.
    public static func apply(_ p: Params, src: PlanarImage, dst: inout PlanarImage) throws {
        guard p.factor.isFinite, p.factor >= 0 else { throw MixError("saturation factor must be ≥ 0, not \(p.factor)") }
        guard src.channels == 3 else { dst = src; return }
        src.shaped(&dst)
        let r = Float(p.factor), s = Float(1 - p.factor), n = src.planeCount
        for i in 0..<n {
            let l = grey(src.pixels[i], src.pixels[n + i], src.pixels[2 * n + i])
            for c in 0..<3 { dst.pixels[c * n + i] = blend(src.pixels[c * n + i], l, ratio: r, oneMinus: s) }
        }
    }
}

/// Contrast: `adjust_contrast(img, f)` = `_blend(img, mean, f)`, `mean` the float32 mean of
/// the floored grey image (of the image itself when grey) over all pixels.
public struct Contrast: ImageKernel {
    /// The op's parameters (what the draw side records).
    public struct Params: Sendable, Hashable {
        /// The factor (≥ 0): 0 the mean grey, 1 the image.
        public var factor: Double
        /// Parameters as given (checked by `apply`).
        public init(factor: Double) { self.factor = factor }
    }

    /// The mean torchvision blends with (summed in double, rounded to float32 once; torch
    /// sums float32 pairwise, which can differ in the last bit).
    public static func mean(_ src: PlanarImage) -> Float {
        let n = src.planeCount
        var sum = 0.0
        if src.channels == 3 {
            for i in 0..<n { sum += Double(grey(src.pixels[i], src.pixels[n + i], src.pixels[2 * n + i])) }
        } else {
            for v in src.pixels { sum += Double(v) }
        }
        return Float(sum / Double(n))
    }

    /// Writes the op with `p` on `src` into `dst` (see the type's definition); throws on invalid parameters.
    public static func apply(_ p: Params, src: PlanarImage, dst: inout PlanarImage) throws {
        guard p.factor.isFinite, p.factor >= 0 else { throw MixError("contrast factor must be ≥ 0, not \(p.factor)") }
        src.shaped(&dst)
        let m = mean(src), r = Float(p.factor), s = Float(1 - p.factor)
        for i in src.pixels.indices { dst.pixels[i] = blend(src.pixels[i], m, ratio: r, oneMinus: s) }
    }
}
