#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MixCore

/// `augment.random_resized_crop`: torchvision v2 `RandomResizedCrop(size = the image's,
/// scale, ratio)`, drawn from the counter-based RNG (stream 8). Its kernel (crop, then
/// resample back to H×W) is `AugmentOps`'.
public struct ResizedCropConfig: Sendable, Equatable, Codable {
    /// The crop's area as a fraction of the image's, `[lo, hi]` (torchvision's default (0.08, 1)).
    public var scale: [Double]
    /// The crop's aspect ratio w/h, `[lo, hi]` (default (3/4, 4/3)).
    public var ratio: [Double]

    public init(scale: [Double] = [0.08, 1.0], ratio: [Double] = [3.0 / 4.0, 4.0 / 3.0]) {
        self.scale = scale
        self.ratio = ratio
    }

    public func problems(prefix: String) -> [String] {
        var out: [String] = []
        if !(scale.count == 2 && scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1) {
            out.append("\(prefix)scale must be two numbers [lo, hi] with 0 < lo ≤ hi ≤ 1 (got [\(scale.map { Wording.float(Float($0)) }.joined(separator: ", "))])")
        }
        if !(ratio.count == 2 && ratio[0] > 0 && ratio[0] <= ratio[1]) {
            out.append("\(prefix)ratio must be two numbers [lo, hi] with 0 < lo ≤ hi (got [\(ratio.map { Wording.float(Float($0)) }.joined(separator: ", "))])")
        }
        return out
    }

    /// One image's box, torchvision's `RandomResizedCrop.make_params` on an H×W image from
    /// `rng`, with a fixed number of draws: ten attempts of two `uniform()` each (all ten
    /// drawn; the first that fits is taken), then top = `uniformInt(H − h + 1)` and
    /// left = `uniformInt(W − w + 1)` for the box taken (drawn even when the centre fallback
    /// replaces them). DESIGN.md, "The draws of an epoch, exactly".
    public func draw(_ rng: inout CounterRNG, height: Int, width: Int) -> CropBox {
        // The crop's aspect is w/h: the first side is the width.
        let attempts = BoxAttempts.draw(&rng, area: Double(height * width), scale: scale, ratio: ratio)
        let chosen: (w: Int, h: Int)? = attempts.first { (w: Int, h: Int) in w > 0 && w <= width && h > 0 && h <= height }
        let (h, w) = chosen.map { ($0.h, $0.w) } ?? ResizedCropConfig.fallback(height: height, width: width, ratio: ratio)
        let top = rng.uniformInt(below: height - h + 1)
        let left = rng.uniformInt(below: width - w + 1)
        if chosen != nil { return CropBox(top: UInt16(top), left: UInt16(left), height: UInt16(h), width: UInt16(w)) }
        return CropBox(top: UInt16((height - h) / 2), left: UInt16((width - w) / 2), height: UInt16(h), width: UInt16(w))
    }

    /// torchvision's fallback when no attempt fits: the whole image, or its centre with the
    /// ratio clamped to [lo, hi].
    static func fallback(height: Int, width: Int, ratio: [Double]) -> (h: Int, w: Int) {
        let inRatio = Double(width) / Double(height)
        if inRatio < ratio[0] {
            return (min(height, max(1, Int((Double(width) / ratio[0]).rounded(.toNearestOrEven)))), width)
        } else if inRatio > ratio[1] {
            return (height, min(width, max(1, Int((Double(height) * ratio[1]).rounded(.toNearestOrEven)))))
        }
        return (height, width)
    }
}
