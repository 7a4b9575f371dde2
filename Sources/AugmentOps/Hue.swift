import Foundation
import MixCore

/// Hue: `adjust_hue(img, h)` for RGB (grey images are unchanged). Each pixel, in float32:
/// `(r, g, b) = x·(1/255)`, to HSV as torchvision's `_rgb_to_hsv`, the hue shifted by `h`
/// modulo 1, back with `_hsv_to_rgb`, and each channel `⌊v·255.999⌋` (`to_dtype`'s scale).
public struct Hue: ImageKernel {
    /// The op's parameters (what the draw side records).
    public struct Params: Sendable, Hashable {
        /// The hue shift in turns, −0.5…0.5.
        public var factor: Double
        /// Parameters as given (checked by `apply`).
        public init(factor: Double) { self.factor = factor }
    }

    /// torch's float `remainder(a, 1)`: in [0, 1).
    @inline(__always) static func unitRemainder(_ a: Float) -> Float {
        let r = fmodf(a, 1)
        return r < 0 ? r + 1 : r
    }

    /// One pixel (bytes in, bytes out).
    static func shift(_ r8: UInt8, _ g8: UInt8, _ b8: UInt8, by hue: Float) -> (UInt8, UInt8, UInt8) {
        let k = Float(1.0 / 255.0)
        let r = Float(r8) * k, g = Float(g8) * k, b = Float(b8) * k
        let maxc = Swift.max(r, g, b), minc = Swift.min(r, g, b)
        let eqc = maxc == minc
        let range = maxc - minc
        let s = range / (eqc ? 1 : maxc)
        let divisor: Float = eqc ? 1 : range
        let rc = (maxc - r) / divisor, gc = (maxc - g) / divisor, bc = (maxc - b) / divisor
        let hr: Float = maxc == r ? bc - gc : 0
        let hg: Float = (maxc == g && maxc != r) ? (rc + 2) - bc : 0
        let hb: Float = (maxc != g && maxc != r) ? (gc + 4) - rc : 0
        var h = (hr + hg) + hb
        h = fmodf(h * Float(1.0 / 6.0) + 1, 1)
        h = unitRemainder(h + hue)
        // _hsv_to_rgb
        let h6 = h * 6
        let i = h6.rounded(.down)
        let f = h6 - i
        let sxf = s * f, oneMinusS = 1 - s
        let v = maxc
        let q = Swift.min(Swift.max((1 - sxf) * v, 0), 1)
        let t = Swift.min(Swift.max((sxf + oneMinusS) * v, 0), 1)
        let p = Swift.min(Swift.max(oneMinusS * v, 0), 1)
        let sector = ((Int(i) % 6) + 6) % 6
        let (ro, go, bo): (Float, Float, Float)
        switch sector {
        case 0: (ro, go, bo) = (v, t, p)
        case 1: (ro, go, bo) = (q, v, p)
        case 2: (ro, go, bo) = (p, v, t)
        case 3: (ro, go, bo) = (p, q, v)
        case 4: (ro, go, bo) = (t, p, v)
        default: (ro, go, bo) = (v, p, q)
        }
        let scale = Float(255.0 + 1.0 - 1e-3)
        return (UInt8(ro * scale), UInt8(go * scale), UInt8(bo * scale))
    }

    /// Writes the op with `p` on `src` into `dst` (see the type's definition); throws on invalid parameters.
    public static func apply(_ p: Params, src: PlanarImage, dst: inout PlanarImage) throws {
        guard (-0.5...0.5).contains(p.factor) else { throw MixError("hue factor must be in [-0.5, 0.5], not \(p.factor)") }
        guard src.channels == 3 else { dst = src; return }
        src.shaped(&dst)
        let hue = Float(p.factor), n = src.planeCount
        for i in 0..<n {
            let (r, g, b) = shift(src.pixels[i], src.pixels[n + i], src.pixels[2 * n + i], by: hue)
            dst.pixels[i] = r
            dst.pixels[n + i] = g
            dst.pixels[2 * n + i] = b
        }
    }
}
