import AugmentOps
import Foundation
import MixCore

/// Every policy op written again from DESIGN.md's "Policy ops (torchvision v2 semantics)"
/// alone, one pixel at a time — not the kernels' code — for the tests to recompute every
/// pixel of an op's output from its source and parameters.
public enum DesignReference {
    /// Test images from the counter-based RNG: smooth gradients plus noise (natural-ish),
    /// so blends, equalize and resizes see realistic histograms.
    public static func image(channels: Int, height: Int, width: Int, seed: UInt32) -> PlanarImage {
        var rng = CounterRNG(seed: 20, stream: .test, epoch: seed, position: 0)
        var img = try! PlanarImage(channels: channels, height: height, width: width)
        let fx = rng.uniform() * 4, fy = rng.uniform() * 4
        for c in 0..<channels {
            let phase = rng.uniform() * 6
            for y in 0..<height {
                for x in 0..<width {
                    let smooth = 127.5 + 100 * sin(phase + fx * Double(x) / Double(width) * 3 + fy * Double(y) / Double(height) * 3)
                    let v = smooth + (rng.uniform() - 0.5) * 60
                    img[c, y, x] = UInt8(max(0, min(255, v.rounded())))
                }
            }
        }
        return img
    }

    // MARK: geometry (DESIGN: output pixel (x, y) reads input pixel (round(sx), round(sy)), 0 outside)

    /// Nearest-neighbour gather: `map(x, y)` gives the input position, rounded half up
    /// (`floor(s + ½ + 10⁻⁹)`: exact halves up, whatever the arithmetic's last bits).
    public static func gather(_ src: PlanarImage, _ map: (Double, Double) -> (Double, Double)) -> PlanarImage {
        var out = src
        for y in 0..<src.height {
            for x in 0..<src.width {
                let (sx, sy) = map(Double(x), Double(y))
                let ix = Int((sx + 0.5 + 1e-9).rounded(.down)), iy = Int((sy + 0.5 + 1e-9).rounded(.down))
                let inside = ix >= 0 && ix < src.width && iy >= 0 && iy < src.height
                for c in 0..<src.channels { out[c, y, x] = inside ? src[c, iy, ix] : 0 }
            }
        }
        return out
    }

    /// ShearX: `(x + m·(y + ½), y)`; ShearY: `(x, y + m·(x + ½))`.
    public static func shear(_ src: PlanarImage, _ m: Double, horizontal: Bool) -> PlanarImage {
        gather(src) { x, y in horizontal ? (x + m * (y + 0.5), y) : (x, y + m * (x + 0.5)) }
    }

    /// Translate by `t = trunc(m)` pixels: `(x − t, y)` or `(x, y − t)`.
    public static func translate(_ src: PlanarImage, _ m: Double, horizontal: Bool) -> PlanarImage {
        let t = Double(Int(m))
        return gather(src) { x, y in horizontal ? (x - t, y) : (x, y - t) }
    }

    /// Rotate by θ degrees counter-clockwise about the centre `((W−1)/2, (H−1)/2)`.
    public static func rotate(_ src: PlanarImage, _ degrees: Double) -> PlanarImage {
        let t = degrees * .pi / 180, cx = Double(src.width - 1) / 2, cy = Double(src.height - 1) / 2
        return gather(src) { x, y in
            let u = x - cx, v = y - cy
            return (cos(t) * u - sin(t) * v + cx, sin(t) * u + cos(t) * v + cy)
        }
    }

    // MARK: colour (DESIGN: float32, products fused where it says, truncation to uint8)

    public static func trunc(_ v: Float) -> UInt8 { UInt8(min(max(v, 0), 255)) }

    public static func blend(_ x: UInt8, _ other: Float, _ f: Double) -> UInt8 {
        trunc(fmaf(other, Float(1 - f), Float(x) * Float(f)))
    }

    public static func grey(_ src: PlanarImage, _ y: Int, _ x: Int) -> Float {
        floorf(fmaf(Float(src[2, y, x]), 0.114, fmaf(Float(src[1, y, x]), 0.587, Float(src[0, y, x]) * 0.2989)))
    }

    public static func brightness(_ src: PlanarImage, _ f: Double) -> PlanarImage {
        var out = src
        for i in out.pixels.indices { out.pixels[i] = trunc(Float(src.pixels[i]) * Float(f)) }
        return out
    }

    public static func saturation(_ src: PlanarImage, _ f: Double) -> PlanarImage {
        guard src.channels == 3 else { return src }
        var out = src
        for y in 0..<src.height {
            for x in 0..<src.width {
                let l = grey(src, y, x)
                for c in 0..<3 { out[c, y, x] = blend(src[c, y, x], l, f) }
            }
        }
        return out
    }

    public static func contrast(_ src: PlanarImage, _ f: Double) -> PlanarImage {
        var sum = 0.0
        for y in 0..<src.height {
            for x in 0..<src.width { sum += src.channels == 3 ? Double(grey(src, y, x)) : Double(src[0, y, x]) }
        }
        let mean = Float(sum / Double(src.height * src.width))
        var out = src
        for i in out.pixels.indices { out.pixels[i] = blend(src.pixels[i], mean, f) }
        return out
    }

    public static func sharpness(_ src: PlanarImage, _ f: Double) -> PlanarImage {
        var out = src
        guard src.height > 2, src.width > 2 else { return out }
        for c in 0..<src.channels {
            for y in 1..<(src.height - 1) {
                for x in 1..<(src.width - 1) {
                    var s = 0.0
                    for dy in -1...1 { for dx in -1...1 { s += Double(src[c, y + dy, x + dx]) * (dx == 0 && dy == 0 ? 5 : 1) } }
                    let blur = Float((s / 13).rounded())
                    let v = Float(src[c, y, x])
                    out[c, y, x] = trunc(fmaf(blur - v, Float(1 - f), v))
                }
            }
        }
        return out
    }

    public static func posterize(_ src: PlanarImage, _ bits: Int) -> PlanarImage {
        var out = src
        let drop = 8 - bits
        for i in out.pixels.indices { out.pixels[i] = drop >= 8 ? 0 : UInt8((Int(src.pixels[i]) >> drop) << drop) }
        return out
    }

    public static func solarize(_ src: PlanarImage, _ threshold: Double) -> PlanarImage {
        var out = src
        for i in out.pixels.indices where Float(src.pixels[i]) >= Float(threshold) { out.pixels[i] = 255 - src.pixels[i] }
        return out
    }

    public static func autoContrast(_ src: PlanarImage) -> PlanarImage {
        var out = src
        for c in 0..<src.channels {
            var lo: UInt8 = 255, hi: UInt8 = 0
            for y in 0..<src.height { for x in 0..<src.width { lo = min(lo, src[c, y, x]); hi = max(hi, src[c, y, x]) } }
            guard lo < hi else { continue }
            let scale = (Float(hi) - Float(lo)) * Float(1.0 / 255.0)
            for y in 0..<src.height { for x in 0..<src.width { out[c, y, x] = trunc((Float(src[c, y, x]) - Float(lo)) / scale) } }
        }
        return out
    }

    public static func equalize(_ src: PlanarImage) -> PlanarImage {
        var out = src
        for c in 0..<src.channels {
            var values: [Int] = []
            for y in 0..<src.height { for x in 0..<src.width { values.append(Int(src[c, y, x])) } }
            let top = values.max()!
            let step = values.filter { $0 != top }.count / 255
            guard step > 0 else { continue }
            for y in 0..<src.height {
                for x in 0..<src.width {
                    let v = Int(src[c, y, x])
                    let below = values.filter { $0 < v }.count
                    out[c, y, x] = v == 0 ? 0 : UInt8(min(255, (below + step / 2) / step))
                }
            }
        }
        return out
    }

    /// Hue through HSV in double (DESIGN's float32 steps are the kernel's; this is the
    /// textbook definition, for a bound rather than equality).
    public static func hue(_ src: PlanarImage, _ shift: Double) -> PlanarImage {
        guard src.channels == 3 else { return src }
        var out = src
        for y in 0..<src.height {
            for x in 0..<src.width {
                let r = Double(src[0, y, x]) / 255, g = Double(src[1, y, x]) / 255, b = Double(src[2, y, x]) / 255
                let v = max(r, g, b), mn = min(r, g, b), d = v - mn
                let s = v == 0 ? 0 : d / v
                var h = 0.0
                if d > 0 {
                    if v == r { h = (g - b) / d } else if v == g { h = 2 + (b - r) / d } else { h = 4 + (r - g) / d }
                    h /= 6
                }
                h = (h + shift).truncatingRemainder(dividingBy: 1)
                if h < 0 { h += 1 }
                let h6 = h * 6, i = Int(h6.rounded(.down)) % 6, f = h6 - h6.rounded(.down)
                let p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f))
                let rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
                out[0, y, x] = UInt8(rgb.0 * 255.999)
                out[1, y, x] = UInt8(rgb.1 * 255.999)
                out[2, y, x] = UInt8(rgb.2 * 255.999)
            }
        }
        return out
    }

    /// Bilinear resize of a crop, Pillow's / torch's antialiased definition in double:
    /// output pixel i of n (from an input of size N along an axis) has centre
    /// `(i + ½)·N/n`, support `max(N/n, 1)`, triangle weights `max(0, 1 − |j + ½ − centre| / max(N/n, 1))`
    /// over input pixels j, normalised; the horizontal pass, then the vertical, each rounded to uint8.
    public static func resizedCrop(_ src: PlanarImage, top: Int, left: Int, height: Int, width: Int, outHeight: Int, outWidth: Int) -> PlanarImage {
        var box = try! PlanarImage(channels: src.channels, height: height, width: width)
        for c in 0..<src.channels { for y in 0..<height { for x in 0..<width { box[c, y, x] = src[c, top + y, left + x] } } }
        func weights(_ n: Int, _ size: Int) -> [[(Int, Double)]] {
            let scale = Double(size) / Double(n), support = max(scale, 1)
            return (0..<n).map { i in
                let centre = (Double(i) + 0.5) * scale
                var w: [(Int, Double)] = []
                for j in 0..<size {
                    let k = max(0, 1 - abs(Double(j) + 0.5 - centre) / support)
                    if k > 0 { w.append((j, k)) }
                }
                let total = w.reduce(0) { $0 + $1.1 }
                return w.map { ($0.0, $0.1 / total) }
            }
        }
        var mid = box
        if outWidth != width {
            mid = try! PlanarImage(channels: src.channels, height: height, width: outWidth)
            let w = weights(outWidth, width)
            for c in 0..<src.channels { for y in 0..<height { for x in 0..<outWidth {
                mid[c, y, x] = UInt8(max(0, min(255, w[x].reduce(0) { $0 + $1.1 * Double(box[c, y, $1.0]) }.rounded())))
            } } }
        }
        var out = mid
        if outHeight != height {
            out = try! PlanarImage(channels: src.channels, height: outHeight, width: outWidth)
            let w = weights(outHeight, height)
            for c in 0..<src.channels { for y in 0..<outHeight { for x in 0..<outWidth {
                out[c, y, x] = UInt8(max(0, min(255, w[y].reduce(0) { $0 + $1.1 * Double(mid[c, $1.0, x]) }.rounded())))
            } } }
        }
        return out
    }

    /// Op `op` with the magnitude a v4 op record holds, as DESIGN's "Policy ops" reads it:
    /// shear the tangent, translate whole pixels (truncated), rotate degrees, the colour
    /// ops the factor `1 + m`, posterize `trunc(m)` bits, solarize the threshold `255·m`,
    /// hue the shift itself; identity, autoContrast and equalize ignore it.
    public static func apply(_ op: PolicyOp, magnitude m: Double, _ src: PlanarImage) -> PlanarImage {
        switch op {
        case .identity: src
        case .shearX: shear(src, m, horizontal: true)
        case .shearY: shear(src, m, horizontal: false)
        case .translateX: translate(src, m, horizontal: true)
        case .translateY: translate(src, m, horizontal: false)
        case .rotate: rotate(src, m)
        case .brightness: brightness(src, 1 + m)
        case .color: saturation(src, 1 + m)
        case .contrast: contrast(src, 1 + m)
        case .sharpness: sharpness(src, 1 + m)
        case .posterize: posterize(src, Int(m.rounded(.towardZero)))
        case .solarize: solarize(src, 255 * m)
        case .autoContrast: autoContrast(src)
        case .equalize: equalize(src)
        case .hue: hue(src, m)
        case .resizedCrop: preconditionFailure("the resized crop takes a box: use resizedCrop")
        }
    }
}
