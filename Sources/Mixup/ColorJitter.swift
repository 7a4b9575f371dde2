import MixCore

/// `augment.color_jitter`: torchvision v2 `ColorJitter(brightness, contrast, saturation, hue)`,
/// drawn from the counter-based RNG (stream 9). A component of 0 is off, as torchvision's None.
public struct ColorJitterConfig: Sendable, Equatable, Codable {
    /// Factors in [max(0, 1 − b), 1 + b] for brightness, contrast and saturation; hue shift in [−h, h].
    public var brightness: Double
    public var contrast: Double
    public var saturation: Double
    public var hue: Double

    public init(brightness: Double = 0, contrast: Double = 0, saturation: Double = 0, hue: Double = 0) {
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self.hue = hue
    }

    public var isActive: Bool { brightness > 0 || contrast > 0 || saturation > 0 || hue > 0 }

    public func problems(prefix: String) -> [String] {
        var out: [String] = []
        for (key, v) in [("brightness", brightness), ("contrast", contrast), ("saturation", saturation)] where !(v >= 0 && v <= 1_000) {
            out.append("\(prefix)\(key) must be a number from 0 to 1000 (got \(Wording.float(Float(v))))")
        }
        if !(hue >= 0 && hue <= 0.5) { out.append("\(prefix)hue must be a number from 0 to 0.5 (got \(Wording.float(Float(hue))))") }
        return out
    }

    /// The ops of one image, in the drawn order: `fn_idx`, a Fisher–Yates shuffle of
    /// 0 … 3 (`uniformInt(4)`, `uniformInt(3)`, `uniformInt(2)`), then the four factors
    /// f = lo + (hi − lo)·`uniform()` in the order brightness, contrast, saturation, hue —
    /// always all seven draws. Component 0 is brightness (op 6, magnitude f − 1),
    /// 1 contrast (op 8, f − 1), 2 saturation (op 7 "Color", f − 1), 3 hue (op 14, f);
    /// the components that are off are left out. Magnitudes are rounded to binary32.
    public func draw(_ rng: inout CounterRNG) -> [AppliedOp] {
        var order = [0, 1, 2, 3]
        for i in stride(from: 3, to: 0, by: -1) { order.swapAt(i, rng.uniformInt(below: i + 1)) }
        func factor(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * rng.uniform() }
        let b = factor(max(0, 1 - brightness), 1 + brightness)
        let c = factor(max(0, 1 - contrast), 1 + contrast)
        let s = factor(max(0, 1 - saturation), 1 + saturation)
        let h = factor(-hue, hue)
        var ops: [AppliedOp] = []
        for component in order {
            switch component {
            case 0 where brightness > 0: ops.append(AppliedOp(.brightness, Float(b - 1)))
            case 1 where contrast > 0: ops.append(AppliedOp(.contrast, Float(c - 1)))
            case 2 where saturation > 0: ops.append(AppliedOp(.color, Float(s - 1)))
            case 3 where hue > 0: ops.append(AppliedOp(.hue, Float(h)))
            default: break
            }
        }
        return ops
    }
}
