/// AutoContrast: `autocontrast(img)` stretches every channel to [0, 255] on its own:
/// `((x − min) / ((max − min)·(1/255))).clamp(0, 255)` truncated, in float32; a channel with
/// `max = min` is unchanged.
public struct AutoContrast: ImageKernel {
    /// No parameters.
    public typealias Params = Void

    /// Writes the op with `p` on `src` into `dst` (see the type's definition); throws on invalid parameters.
    public static func apply(_ p: Void, src: PlanarImage, dst: inout PlanarImage) throws {
        src.shaped(&dst)
        let n = src.planeCount
        for c in 0..<src.channels {
            let plane = src.pixels[(c * n)..<((c + 1) * n)]
            let lo = plane.min()!, hi = plane.max()!
            let (minimum, scale): (Float, Float) = lo == hi ? (0, 1) : (Float(lo), (Float(hi) - Float(lo)) * Float(1.0 / 255.0))
            for i in (c * n)..<((c + 1) * n) { dst.pixels[i] = truncatedByte((Float(src.pixels[i]) - minimum) / scale) }
        }
    }
}

/// Equalize: `equalize(img)`, per channel, Pillow's lookup table: with the histogram `hist`,
/// its running sum `cum`, `step = ⌊(N − hist[max value]) / 255⌋` (N pixels), `lut[0] = 0`,
/// `lut[k] = min(255, ⌊(cum[k−1] + ⌊step/2⌋) / step⌋)`; a channel with `step = 0` is unchanged.
public struct Equalize: ImageKernel {
    /// No parameters.
    public typealias Params = Void

    /// The lookup table of one channel, or nil when it stays unchanged (`step = 0`).
    public static func table(_ plane: ArraySlice<UInt8>) -> [UInt8]? {
        var hist = [Int](repeating: 0, count: 256)
        for v in plane { hist[Int(v)] += 1 }
        let top = plane.max()!
        let step = (plane.count - hist[Int(top)]) / 255
        guard step > 0 else { return nil }
        var lut = [UInt8](repeating: 0, count: 256)
        var cum = 0
        for k in 1..<256 {
            cum += hist[k - 1]
            lut[k] = UInt8(Swift.min(255, (cum + step / 2) / step))
        }
        return lut
    }

    /// Writes the op with `p` on `src` into `dst` (see the type's definition); throws on invalid parameters.
    public static func apply(_ p: Void, src: PlanarImage, dst: inout PlanarImage) throws {
        src.shaped(&dst)
        let n = src.planeCount
        for c in 0..<src.channels {
            let range = (c * n)..<((c + 1) * n)
            if let lut = table(src.pixels[range]) {
                for i in range { dst.pixels[i] = lut[Int(src.pixels[i])] }
            } else {
                for i in range { dst.pixels[i] = src.pixels[i] }
            }
        }
    }
}
