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
        let packed = interleaved(src)
        var out = [UInt8](repeating: 0, count: packed.count)
        let ok = packed.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                mxs_vips_affine_nearest(s.baseAddress!, o.baseAddress!, Int32(src.channels), Int32(src.width), Int32(src.height),
                                        fa, fb, fc, fd, fx, fy) == 0
            }
        }
        guard ok else { throw MixError("libvips affine map of a \(src.width)×\(src.height) image failed: \(lastError())") }
        dst = try planar(out, channels: src.channels, height: src.height, width: src.width)
    }

    /// `src` resized to `height` × `width`, bilinear, the horizontal pass then the vertical,
    /// each rounded to bytes: an enlarged side samples input position `(i + ½)·N/n − ½`
    /// (edges extended), a shrunk side goes through libvips' reduce (antialiased, linear kernel).
    static func resizeBilinear(_ src: PlanarImage, height: Int, width: Int) throws -> PlanarImage {
        try PlanarImage.check(channels: src.channels, height: height, width: width)
        if height == src.height && width == src.width { return src }
        try start()
        let packed = interleaved(src)
        var out = [UInt8](repeating: 0, count: src.channels * height * width)
        let ok = packed.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                mxs_vips_resize(s.baseAddress!, o.baseAddress!, Int32(src.channels), Int32(src.width), Int32(src.height),
                                Int32(width), Int32(height)) == 0
            }
        }
        guard ok else { throw MixError("libvips resize of a \(src.width)×\(src.height) image to \(width)×\(height) failed: \(lastError())") }
        return try planar(out, channels: src.channels, height: height, width: width)
    }

    /// Planar to interleaved (one libvips call per image instead of one per channel: each
    /// call costs about a millisecond of libvips' set-up, whatever the image's size).
    static func interleaved(_ src: PlanarImage) -> [UInt8] {
        let c = src.channels, n = src.planeCount
        if c == 1 { return src.pixels }
        var out = [UInt8](repeating: 0, count: c * n)
        for ch in 0..<c { for i in 0..<n { out[i * c + ch] = src.pixels[ch * n + i] } }
        return out
    }

    /// Interleaved to planar.
    static func planar(_ bytes: [UInt8], channels c: Int, height: Int, width: Int) throws -> PlanarImage {
        let n = height * width
        if c == 1 { return try PlanarImage(channels: 1, height: height, width: width, pixels: bytes) }
        var out = [UInt8](repeating: 0, count: c * n)
        for ch in 0..<c { for i in 0..<n { out[ch * n + i] = bytes[i * c + ch] } }
        return try PlanarImage(channels: c, height: height, width: width, pixels: out)
    }
}
