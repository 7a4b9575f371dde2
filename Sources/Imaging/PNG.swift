// The one file in mixshards that imports libpng. It uses only the simplified
// `png_image_*` API, whose errors are reported in `png_image.message` rather
// than through longjmp into Swift frames.
import CPNG
import MixCore

/// A decoded PNG as 8-bit planar RGB.
public struct DecodedImage: Equatable, Sendable {
    /// Columns.
    public let width: Int
    /// Rows.
    public let height: Int
    /// `3 × height × width` bytes: the R plane, then G, then B, each row-major.
    public var chw: [UInt8]
    /// Always 3: every PNG (grey, palette, alpha, 16-bit) is converted to RGB.
    public var channels: Int { 3 }
}

/// PNG encoding and decoding through libpng's simplified API.
///
/// Every error is a `MixError` that names the file (or the caller-supplied
/// name for in-memory data) and carries libpng's own message.
public enum PNG {
    /// The largest decoded image accepted, in bytes of 8-bit RGB (64 MiB, e.g.
    /// 4096 × 4096 pixels; shards hold images of sides up to 1024). A corrupt
    /// header can claim up to 10⁶ × 10⁶ pixels and the buffer is allocated
    /// before the pixel data is read, so this bounds what a 100-byte file costs
    /// (at the former 1 GiB, a mutated header made `mixfuzz`'s PNG target allocate hundreds of MB).
    public static let maxDecodedBytes = 1 << 26

    // MARK: Encoding

    /// Encodes `image` as an 8-bit RGB PNG.
    public static func encode(_ image: RGBImage) throws -> [UInt8] {
        try encodeInterleaved(image.pixels, width: image.width, height: image.height, channels: 3,
                              name: "<RGB image \(image.width)×\(image.height)>")
    }

    /// Encodes a greyscale image (`pixels`: `height` rows of `width` bytes) as an 8-bit grey PNG.
    public static func encodeGrey(_ pixels: [UInt8], width: Int, height: Int) throws -> [UInt8] {
        try encodeInterleaved(pixels, width: width, height: height, channels: 1,
                              name: "<grey image \(width)×\(height)>")
    }

    /// Writes `image` to `path` as a PNG, atomically (temporary file, fsync, rename).
    public static func write(_ image: RGBImage, to path: String) throws {
        let bytes: [UInt8]
        do {
            bytes = try encode(image)
        } catch let error as MixError {
            throw MixError.file(path, error.message)
        }
        try FileIO.writeAtomically(path, bytes)
    }

    /// Encodes 8-bit interleaved pixels with 1 (grey), 2 (grey+alpha), 3 (RGB)
    /// or 4 (RGBA) channels.
    static func encodeInterleaved(_ pixels: [UInt8], width: Int, height: Int, channels: Int,
                                  name: String) throws -> [UInt8] {
        guard width > 0, height > 0, width <= 0x7FFF_FFFF / max(1, channels), height <= 0x7FFF_FFFF else {
            throw MixError("\(name): cannot encode a PNG of size \(width)×\(height)")
        }
        precondition(pixels.count == width * height * channels,
                     "PNG: \(pixels.count) bytes for \(width)×\(height)×\(channels)")
        var image = png_image()
        image.version = mxs_png_image_version()
        image.width = UInt32(width)
        image.height = UInt32(height)
        switch channels {
        case 1: image.format = mxs_png_format_gray()
        case 2: image.format = mxs_png_format_ga()
        case 3: image.format = mxs_png_format_rgb()
        case 4: image.format = mxs_png_format_rgba()
        default: preconditionFailure("PNG: unsupported channel count \(channels)")
        }
        var capacity = mxs_png_image_png_size_max(&image)
        var out = [UInt8](repeating: 0, count: capacity)
        let ok = out.withUnsafeMutableBytes { dst in
            pixels.withUnsafeBytes { src in
                png_image_write_to_memory(&image, dst.baseAddress, &capacity, 0,
                                          src.baseAddress, Int32(width * channels), nil)
            }
        }
        guard ok != 0 else {
            png_image_free(&image)
            throw MixError("\(name): PNG encoding failed: \(message(of: &image, fallback: "libpng reported no message"))")
        }
        out.removeSubrange(capacity...)
        return out
    }

    // MARK: Decoding

    /// Decodes PNG `bytes` to 8-bit planar RGB. Grey and palette images are
    /// expanded, 16-bit samples reduced to 8 bits (as sRGB values unless the
    /// file's gAMA/sRGB chunks say otherwise), and alpha composited onto black
    /// by libpng. Never traps on malformed input. `name` (usually the file
    /// path) prefixes every error.
    public static func decode(_ bytes: [UInt8], name: String) throws -> DecodedImage {
        try bytes.withUnsafeBytes { try decode($0, name: name) }
    }

    /// Decodes PNG bytes held in any buffer (e.g. a memory-mapped file); see `decode(_:name:)`.
    public static func decode(_ bytes: UnsafeRawBufferPointer, name: String) throws -> DecodedImage {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw MixError.file(name, "not a PNG: the data is empty")
        }
        var image = png_image()
        image.version = mxs_png_image_version()
        // libpng reads `bytes` in both calls; they stay valid for this whole function.
        guard png_image_begin_read_from_memory(&image, base, bytes.count) != 0 else {
            let text = message(of: &image, fallback: "cannot read the PNG header")
            png_image_free(&image)
            throw MixError.file(name, "not a valid PNG: \(text)")
        }
        let width = Int(image.width), height = Int(image.height)
        image.format = mxs_png_format_rgb()
        // 16-bit files without gAMA/sRGB chunks hold sRGB-encoded samples in
        // practice; libpng would otherwise assume linear light and brighten them.
        image.flags |= mxs_png_image_flag_16bit_srgb()
        let size = Int(mxs_png_image_size(&image))
        guard width > 0, height > 0, size == width * height * 3, size <= maxDecodedBytes else {
            png_image_free(&image)
            throw MixError.file(name, "PNG of \(width)×\(height) pixels is too large to decode")
        }
        var rgb = [UInt8](repeating: 0, count: size)
        let ok = rgb.withUnsafeMutableBytes { dst in
            png_image_finish_read(&image, nil, dst.baseAddress, Int32(width * 3), nil)
        }
        guard ok != 0 else {
            let text = message(of: &image, fallback: "cannot decode the image data")
            png_image_free(&image)
            throw MixError.file(name, "corrupt PNG: \(text)")
        }
        // finish_read frees the control structure on success.
        return DecodedImage(width: width, height: height, chw: interleavedToPlanar(rgb, plane: width * height))
    }

    /// Reads and decodes the PNG file at `path`; see `decode(_:name:)`.
    public static func read(_ path: String) throws -> DecodedImage {
        try decode(try FileIO.read(path), name: path)
    }

    // MARK: Helpers

    /// libpng's message for the last failure, or `fallback` if it left none.
    private static func message(of image: inout png_image, fallback: String) -> String {
        let text = withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        return text.isEmpty ? fallback : text
    }

    /// `(r, g, b)` triples → R plane, G plane, B plane.
    private static func interleavedToPlanar(_ rgb: [UInt8], plane: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 3 * plane)
        for p in 0..<plane {
            out[p] = rgb[3 * p]
            out[plane + p] = rgb[3 * p + 1]
            out[2 * plane + p] = rgb[3 * p + 2]
        }
        return out
    }
}
