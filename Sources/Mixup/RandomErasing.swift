#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MixCore

/// `augment.random_erasing`: torchvision v2 `RandomErasing(p, scale, ratio, value)` applied to
/// each sample's final pixels after mixing (as timm does), drawn from the counter-based RNG
/// (stream 11; the random fill's bytes from stream 12).
public struct ErasingConfig: Sendable, Equatable, Codable {
    /// Probability that a sample is erased (default 0.5).
    public var p: Double
    /// The erased area as a fraction of the image's, `[lo, hi]` (default (0.02, 0.33)).
    public var scale: [Double]
    /// The box's aspect ratio h/w, `[lo, hi]` (default (0.3, 3.3)).
    public var ratio: [Double]
    /// Fill with zeros (`value = 0`) or with random bytes (`value = "random"`).
    public var random: Bool

    public init(p: Double = 0.5, scale: [Double] = [0.02, 0.33], ratio: [Double] = [0.3, 3.3], random: Bool = false) {
        self.p = p
        self.scale = scale
        self.ratio = ratio
        self.random = random
    }

    public func problems(prefix: String) -> [String] {
        var out: [String] = []
        if !(p >= 0 && p <= 1) { out.append("\(prefix)p must be a number from 0 to 1 (got \(Wording.float(Float(p))))") }
        if !(scale.count == 2 && scale[0] >= 0 && scale[0] <= scale[1] && scale[1] <= 1) {
            out.append("\(prefix)scale must be two numbers [lo, hi] with 0 ≤ lo ≤ hi ≤ 1 (got [\(scale.map { Wording.float(Float($0)) }.joined(separator: ", "))])")
        }
        if !(ratio.count == 2 && ratio[0] > 0 && ratio[0] <= ratio[1]) {
            out.append("\(prefix)ratio must be two numbers [lo, hi] with 0 < lo ≤ hi (got [\(ratio.map { Wording.float(Float($0)) }.joined(separator: ", "))])")
        }
        return out
    }

    /// The erasing of one sample, torchvision's `RandomErasing.forward` and `make_params` on a
    /// C×H×W image from `rng`, with a fixed number of draws: u = `uniform()` (erased when
    /// u < p), ten attempts of two `uniform()` each (all drawn; the first with h < H and
    /// w < W is taken), then top = `uniformInt(H − h + 1)`, left = `uniformInt(W − w + 1)` for
    /// the box taken (bounds 1 when none is). Not erased when u ≥ p, when no attempt fits, or
    /// when the box taken is empty (h or w rounds to 0: torchvision erases nothing).
    public func draw(_ rng: inout CounterRNG, height: Int, width: Int) -> Erasing {
        let u = rng.uniform()
        // Erasing's aspect is h/w: the first side is the height.
        let attempts = BoxAttempts.draw(&rng, area: Double(height * width), scale: scale, ratio: ratio)
        let chosen: (h: Int, w: Int)? = attempts.first { (h: Int, w: Int) in h < height && w < width }
        let (h, w) = chosen ?? (height, width)
        let top = rng.uniformInt(below: height - h + 1)
        let left = rng.uniformInt(below: width - w + 1)
        guard u < p, chosen != nil, h > 0, w > 0 else { return .none }
        return Erasing(fill: random ? .random : .zero, box: CropBox(top: UInt16(top), left: UInt16(left), height: UInt16(h), width: UInt16(w)))
    }
}
