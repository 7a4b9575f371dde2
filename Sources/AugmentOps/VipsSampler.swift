// The one file in mixshards that imports libvips.
import CVips
import MixCore

/// The resampling of the policy ops' geometry, done by libvips (project rule: no
/// hand-written resampler): nearest-neighbour affine maps (shear, translate, rotate) and
/// one-axis bilinear resizes (resized crop). Thread-safe: every call builds its own vips
/// images; libvips' operation cache is off (`mxs_vips_start`).
public enum VipsSampler {
    /// libvips' version, for reports and manifests.
    public static var libraryVersion: String { String(cString: mxs_vips_version()) }

    /// Added to the nearest-neighbour rounding so that exact halves go up (see `affineNearest`).
    public static let tieBreak = 1e-9

    static func start() throws {
        guard mxs_vips_start() == 0 else { throw MixError("libvips did not start: \(lastError())") }
    }

    static func lastError() -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        mxs_vips_error(&buffer, Int32(buffer.count))
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Every plane of `src` through the inverse map `x = m[0]·X + m[1]·Y + m[2]`,
    /// `y = m[3]·X + m[4]·Y + m[5]` (input pixel indices from output pixel indices),
    /// nearest neighbour rounding half up (input pixel `floor(x + ½ + 10⁻⁹), floor(y + ½ + 10⁻⁹)`),
    /// 0 where that lies outside. The 10⁻⁹ decides exact halves (an even side's centre is one,
    /// so 45° and 135° rotations meet them) upward whatever the last bits of the arithmetic;
    /// it is far above double rounding noise and far below any real coordinate step.
    /// Throws when the matrix is singular or libvips fails.
    static func affineNearest(_ src: PlanarImage, inverse m: [Double], into dst: inout PlanarImage) throws {
        try start()
        // vips samples floor(x): add ½ (and the tie-breaker) to the inverse map, then hand vips its forward map.
        let (a, b, c, d) = (m[0], m[1], m[3], m[4])
        let (tx, ty) = (m[2] + 0.5 + tieBreak, m[5] + 0.5 + tieBreak)
        let det = a * d - b * c
        guard det.isFinite, abs(det) > 1e-12 else { throw MixError("affine map \(m) is singular") }
        let (fa, fb, fc, fd) = (d / det, -b / det, -c / det, a / det)
        let (fx, fy) = (-(fa * tx + fb * ty), -(fc * tx + fd * ty))
        src.shaped(&dst)
        let plane = src.planeCount, w = Int32(src.width), h = Int32(src.height)
        var failed = false
        src.pixels.withUnsafeBufferPointer { s in
            dst.pixels.withUnsafeMutableBufferPointer { o in
                for ch in 0..<src.channels where !failed {
                    failed = mxs_vips_affine_nearest(s.baseAddress! + ch * plane, o.baseAddress! + ch * plane, w, h,
                                                     fa, fb, fc, fd, fx, fy) != 0
                }
            }
        }
        if failed { throw MixError("libvips affine map of a \(src.width)×\(src.height) image failed: \(lastError())") }
    }

    /// `src` resized to `height` × `width`, bilinear (antialiased when shrinking): the
    /// horizontal pass, then the vertical, each skipped when that side keeps its size.
    static func resizeBilinear(_ src: PlanarImage, height: Int, width: Int) throws -> PlanarImage {
        try PlanarImage.check(channels: src.channels, height: height, width: width)
        try start()
        var image = src
        if width != image.width { image = try resizeAxis(image, to: width, horizontal: true) }
        if height != image.height { image = try resizeAxis(image, to: height, horizontal: false) }
        return image
    }

    private static func resizeAxis(_ src: PlanarImage, to n: Int, horizontal: Bool) throws -> PlanarImage {
        let (oh, ow) = horizontal ? (src.height, n) : (n, src.width)
        var out = try PlanarImage(channels: src.channels, height: oh, width: ow)
        let inPlane = src.planeCount, outPlane = oh * ow
        var failed = false
        src.pixels.withUnsafeBufferPointer { s in
            out.pixels.withUnsafeMutableBufferPointer { o in
                for ch in 0..<src.channels where !failed {
                    failed = mxs_vips_resize_axis(s.baseAddress! + ch * inPlane, o.baseAddress! + ch * outPlane,
                                                  Int32(src.width), Int32(src.height), Int32(n), horizontal ? 1 : 0) != 0
                }
            }
        }
        if failed { throw MixError("libvips resize of a \(src.width)×\(src.height) image to \(ow)×\(oh) failed: \(lastError())") }
        return out
    }
}
