// The one file in mixshards that imports FFmpeg's libswscale.
import CSwscale
import MixCore

/// The resampling filters, each as Pillow defines it for `Image.resize` (antialiased:
/// when shrinking, the filter's support widens with the scale).
public enum ResampleFilter: String, CaseIterable, Sendable, Codable {
    /// Pillow's BICUBIC (a = −0.5, Catmull–Rom), its default for `resize`.
    case bicubic
    /// Pillow's BILINEAR (a triangle filter; torchvision's `Resize` default, antialiased).
    case bilinear
    /// Pillow's LANCZOS (a = 3).
    case lanczos
}

/// Resizes planar RGB images with libswscale. Not thread-safe: one per thread (it keeps
/// its scaling context for the next image of the same sizes, which most datasets repeat).
///
/// libswscale scales the planes of `GBRP` separately, with no colour conversion, using
/// filters that widen when shrinking, as Pillow's do; with `SWS_BITEXACT` and
/// `SWS_ACCURATE_RND` its output is the same on every x86-64 CPU. On natural images it
/// is within one grey level of Pillow's `resize` (tests: `ResizeFixtureTests`).
public final class Resampler {
    private var context: OpaquePointer?
    private var key: [Int] = []
    /// Padded plane buffers, kept for the next image (grown when needed).
    private var src = UnsafeMutableBufferPointer<UInt8>(start: nil, count: 0)
    private var dst = UnsafeMutableBufferPointer<UInt8>(start: nil, count: 0)

    public init() { mxs_sws_quiet() }

    deinit {
        sws_freeContext(context)
        src.deallocate()
        dst.deallocate()
    }

    /// `buffer` with room for at least `count` bytes, zeroed when newly allocated.
    private static func reserve(_ buffer: inout UnsafeMutableBufferPointer<UInt8>, _ count: Int) -> UnsafeMutablePointer<UInt8> {
        if buffer.count < count {
            buffer.deallocate()
            buffer = .allocate(capacity: count)
            buffer.initialize(repeating: 0)
        }
        return buffer.baseAddress!
    }

    /// `image` resized to `width` × `height` with `filter`; the image itself when the size is unchanged.
    public func resize(_ image: DecodedImage, width: Int, height: Int, filter: ResampleFilter) throws -> DecodedImage {
        if image.width == width && image.height == height { return image }
        let (sw, sh) = (image.width, image.height)
        // Planes in padded buffers (rows aligned to 64 bytes, 64 bytes of slack after each
        // plane): SIMD code may read or write a little past a row's end. The padding is
        // zeroed for every image: libswscale's SIMD reads it and it shows in the result, so
        // stale bytes of the image before made a file's pixels depend on which files the
        // thread resized before (mixfuzz target `image`, stretching 1×5000 to 12×8).
        let srcStride = Self.aligned(sw), srcPlane = srcStride * sh + 64
        let src = Self.reserve(&self.src, 3 * srcPlane)
        image.chw.withUnsafeBufferPointer { chw in
            for c in 0..<3 {
                let plane = src + c * srcPlane
                for y in 0..<sh {
                    let row = plane + y * srcStride
                    row.update(from: chw.baseAddress! + (c * sh + y) * sw, count: sw)
                    (row + sw).update(repeating: 0, count: srcStride - sw)
                }
                (plane + srcStride * sh).update(repeating: 0, count: 64)
            }
        }
        // GBRP's plane order is G, B, R; ours is R, G, B.
        let planes: [UnsafePointer<UInt8>?] = [UnsafePointer(src + srcPlane), UnsafePointer(src + 2 * srcPlane), UnsafePointer(src), nil]
        return try scale(planes, strides: [srcStride, srcStride, srcStride, 0], format: mxs_sws_gbrp(),
                         from: (sw, sh), to: (width, height), filter: filter)
    }

    /// `image` (packed RGB, padding zeroed) resized to `width` × `height`, as planar RGB:
    /// libswscale reads packed RGB and writes planes, bit for bit what planar input gives.
    func resize(_ image: PackedRGB, width: Int, height: Int, filter: ResampleFilter) throws -> DecodedImage {
        try image.bytes.withUnsafeBufferPointer { b in
            try scale([b.baseAddress, nil, nil, nil], strides: [image.stride, 0, 0, 0], format: mxs_sws_rgb24(),
                      from: (image.width, image.height), to: (width, height), filter: filter)
        }
    }

    /// Scales the source planes `src` (of `format`) to planar RGB of size `to`.
    private func scale(_ src: [UnsafePointer<UInt8>?], strides: [Int], format: Int32, from: (Int, Int), to: (Int, Int),
                       filter: ResampleFilter) throws -> DecodedImage {
        let (sw, sh) = from, (width, height) = to
        let flags: Int32
        var params: [Double]
        switch filter {
        case .bicubic: (flags, params) = (mxs_sws_bicubic(), [0, 0.5])  // B = 0, C = 0.5: Catmull–Rom
        case .bilinear: (flags, params) = (mxs_sws_bilinear(), [0, 0])
        case .lanczos: (flags, params) = (mxs_sws_lanczos(), [3, 0])
        }
        let newKey = [sw, sh, width, height, Int(flags), Int(format)]
        if newKey != key || context == nil {
            context = sws_getCachedContext(context, Int32(sw), Int32(sh), AVPixelFormat(format),
                                           Int32(width), Int32(height), AVPixelFormat(mxs_sws_gbrp()),
                                           flags | mxs_sws_exact_flags(), nil, nil, &params)
            key = newKey
        }
        guard let context else {
            key = []
            throw MixError("libswscale cannot resize \(sw)×\(sh) to \(width)×\(height)")
        }
        let dstStride = Self.aligned(width), dstPlane = dstStride * height + 64
        let dst = Self.reserve(&self.dst, 3 * dstPlane)
        defer {
            // Buffers of a huge image are not kept for the next, small ones (a thread would
            // otherwise hold up to twice 256 MiB after one outlier).
            if self.src.count > Self.keptBytes { self.src.deallocate(); self.src = .init(start: nil, count: 0) }
            if self.dst.count > Self.keptBytes { self.dst.deallocate(); self.dst = .init(start: nil, count: 0) }
        }
        var srcPlanes = src
        var srcStrides = strides.map(Int32.init)
        var dstPlanes: [UnsafeMutablePointer<UInt8>?] = [dst + dstPlane, dst + 2 * dstPlane, dst, nil]
        var dstStrides: [Int32] = [Int32(dstStride), Int32(dstStride), Int32(dstStride), 0]
        let rows = sws_scale(context, &srcPlanes, &srcStrides, 0, Int32(sh), &dstPlanes, &dstStrides)
        guard rows == Int32(height) else {
            throw MixError("libswscale resized \(sw)×\(sh) to \(rows) rows, not \(height)")
        }
        let chw = [UInt8](unsafeUninitializedCapacity: 3 * width * height) { out, n in
            for c in 0..<3 {
                for y in 0..<height {
                    (out.baseAddress! + (c * height + y) * width).update(from: dst + c * dstPlane + y * dstStride, count: width)
                }
            }
            n = 3 * width * height
        }
        return DecodedImage(width: width, height: height, chw: chw)
    }

    static func aligned(_ n: Int) -> Int { (n + 63) / 64 * 64 }

    /// The largest plane buffers kept from one image to the next (16 MiB: 1,500 × 1,500 RGB).
    static let keptBytes = 16 << 20

    /// libswscale's version (e.g. 6.7.100) and FFmpeg's, for the manifest.
    public static var libraryVersion: String {
        let v = swscale_version()
        return "\(v >> 16).\((v >> 8) & 0xFF).\(v & 0xFF) (FFmpeg \(String(cString: av_version_info())))"
    }
}
