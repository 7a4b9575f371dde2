import MixCore

/// A decoded image as 8-bit planar RGB, what every decoder in this module returns.
///
/// Colour follows PIL's `Image.convert("RGB")`, which is what torchvision's
/// `ImageFolder` gives a model: grey replicated, palettes expanded (transparency
/// ignored), alpha dropped (not composited), 16-bit samples reduced to their
/// high byte, CMYK converted by PIL's formula; the EXIF orientation is applied by
/// `ImageDecoder`, not by the codecs.
public struct DecodedImage: Equatable, Sendable {
    /// Columns.
    public let width: Int
    /// Rows.
    public let height: Int
    /// `3 × height × width` bytes: the R plane, then G, then B, each row-major.
    public var chw: [UInt8]
    /// Always 3.
    public var channels: Int { 3 }

    public init(width: Int, height: Int, chw: [UInt8]) {
        precondition(width >= 0 && height >= 0 && chw.count == 3 * width * height,
                     "DecodedImage: \(chw.count) bytes for 3×\(height)×\(width)")
        self.width = width
        self.height = height
        self.chw = chw
    }

    /// Planar RGB from `count` interleaved `(r, g, b)` triples at `rgb`.
    static func planar(interleaved rgb: UnsafePointer<UInt8>, width: Int, height: Int) -> DecodedImage {
        let plane = width * height
        let chw = [UInt8](unsafeUninitializedCapacity: 3 * plane) { out, n in
            let r = out.baseAddress!, g = r + plane, b = g + plane
            for p in 0..<plane {
                r[p] = rgb[3 * p]
                g[p] = rgb[3 * p + 1]
                b[p] = rgb[3 * p + 2]
            }
            n = 3 * plane
        }
        return DecodedImage(width: width, height: height, chw: chw)
    }
}

/// Interleaved 8-bit RGB as a decoder writes it, rows `stride` bytes apart with the
/// padding and 64 bytes after the last row zeroed: what libswscale resizes straight from
/// (packed RGB in, planar out, bit for bit what planar input gives), so the common path
/// of a JPEG needs no separate interleaved-to-planar pass.
struct PackedRGB {
    let width: Int
    let height: Int
    let stride: Int
    var bytes: [UInt8]

    /// A zeroed buffer for `width` × `height` pixels.
    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        stride = (3 * width + 63) / 64 * 64
        bytes = [UInt8](repeating: 0, count: stride * height + 64)
    }

    /// The image as planar RGB.
    func planar() -> DecodedImage {
        let plane = width * height
        let chw = [UInt8](unsafeUninitializedCapacity: 3 * plane) { out, n in
            bytes.withUnsafeBufferPointer { src in
                let r = out.baseAddress!, g = r + plane, b = g + plane
                for y in 0..<height {
                    let row = src.baseAddress! + y * stride
                    for x in 0..<width {
                        r[y * width + x] = row[3 * x]
                        g[y * width + x] = row[3 * x + 1]
                        b[y * width + x] = row[3 * x + 2]
                    }
                }
            }
            n = 3 * plane
        }
        return DecodedImage(width: width, height: height, chw: chw)
    }
}

/// What a decoder accepts, checked from the header before any pixel buffer is allocated.
public enum ImageLimits {
    /// The most pixels an image may have: Pillow's `Image.MAX_IMAGE_PIXELS` (89,478,485,
    /// about 9,459 × 9,459), beyond which Pillow warns of a decompression bomb. At 3 bytes
    /// a pixel a decode then allocates at most 256 MiB, whatever a crafted header claims.
    public static let maxPixels = 89_478_485

    /// Why a `width` × `height` image is refused, or nil.
    public static func sizeProblem(width: Int, height: Int) -> String? {
        guard width > 0, height > 0 else { return "has no pixels (\(width)×\(height))" }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels <= maxPixels else {
            return "is \(Wording.grouped(width))×\(Wording.grouped(height)) pixels, more than the \(Wording.grouped(maxPixels)) mixprep decodes (Pillow's decompression-bomb limit)"
        }
        return nil
    }
}
