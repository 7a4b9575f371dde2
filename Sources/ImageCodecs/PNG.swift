// The one file in mixshards that imports libpng. Encoding uses the simplified
// `png_image_*` API, whose errors come back in `png_image.message`; decoding uses
// the full API through `mxs_png_decode_rgb8` (CPNG/shim.h), which catches libpng's
// longjmp in C so that it never crosses a Swift frame.
import CPNG
import MixCore

/// PNG encoding (libpng's simplified API) and decoding (its full API).
///
/// Every error is a `MixError` that names the file (or the caller-supplied
/// name for in-memory data) and carries libpng's own message.
public enum PNG {
    // MARK: Encoding

    /// Encodes a greyscale image (`pixels`: `height` rows of `width` bytes) as an 8-bit grey PNG.
    public static func encodeGrey(_ pixels: [UInt8], width: Int, height: Int) throws -> [UInt8] {
        try encodeInterleaved(pixels, width: width, height: height, channels: 1,
                              name: "<grey image \(width)×\(height)>")
    }

    /// Encodes 8-bit interleaved pixels with 1 (grey), 2 (grey+alpha), 3 (RGB)
    /// or 4 (RGBA) channels.
    public static func encodeInterleaved(_ pixels: [UInt8], width: Int, height: Int, channels: Int,
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
        // The worst case (a little above the raw size) is reserved but not written: only the
        // pages the compressed stream fills become resident, so a large image costs its own
        // bytes plus its PNG's, not twice its own.
        var capacity = mxs_png_image_png_size_max(&image)
        var ok: Int32 = 0
        let out = [UInt8](unsafeUninitializedCapacity: capacity) { dst, count in
            ok = pixels.withUnsafeBytes { src in
                png_image_write_to_memory(&image, dst.baseAddress, &capacity, 0,
                                          src.baseAddress, Int32(width * channels), nil)
            }
            count = ok != 0 ? capacity : 0
        }
        guard ok != 0 else {
            png_image_free(&image)
            throw MixError("\(name): PNG encoding failed: \(message(of: &image, fallback: "libpng reported no message"))")
        }
        return Array(out)  // exactly the PNG's bytes, releasing the reservation
    }

    // MARK: Decoding

    /// The header fields a decoder sizes its buffers from (IHDR).
    struct Header: Equatable {
        var width: Int
        var height: Int
        var bitDepth: Int
        var colorType: Int
        var interlaced: Bool
        /// Samples per pixel in the file (grey 1, grey+alpha 2, RGB 3, RGBA 4, palette 1).
        var samples: Int { [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType] ?? 0 }
    }

    /// The PNG signature.
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Reads the IHDR chunk that must follow the signature; nil when the bytes do not start so.
    static func header(_ bytes: UnsafeRawBufferPointer) -> Header? {
        guard bytes.count >= 33, Array(bytes[0..<8]) == signature,
              Array(bytes[12..<16]) == Array("IHDR".utf8), be32(bytes, 8) == 13 else { return nil }
        return Header(width: Int(be32(bytes, 16)), height: Int(be32(bytes, 20)), bitDepth: Int(bytes[24]),
                      colorType: Int(bytes[25]), interlaced: bytes[28] != 0)
    }

    static func be32(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }

    /// The most a deflate stream can expand: 1032 output bytes per input byte (RFC 1951's
    /// longest match, 258 bytes, coded in 2 bits). A file shorter than its scanlines ÷ 1032 cannot
    /// hold them, so it is refused before its pixel buffer is allocated.
    static let maxDeflateRatio = 1032

    /// Decodes PNG `bytes` to 8-bit planar RGB as PIL's `convert("RGB")` would: grey
    /// replicated (1-, 2- and 4-bit grey scaled to 0–255), palettes expanded with their
    /// transparency ignored, alpha dropped, 16-bit samples reduced to their high byte, no
    /// gamma correction. Never traps on malformed input. `name` (usually the file path)
    /// prefixes every error.
    public static func decode(_ bytes: [UInt8], name: String) throws -> DecodedImage {
        try bytes.withUnsafeBytes { try decode($0, name: name) }
    }

    /// Decodes PNG bytes held in any buffer (e.g. a memory-mapped file); see `decode(_:name:)`.
    public static func decode(_ bytes: UnsafeRawBufferPointer, name: String) throws -> DecodedImage {
        try decodeWithEXIF(bytes, name: name).image
    }

    /// The image and the contents of its eXIf chunk (a TIFF block, for its orientation), if any.
    static func decodeWithEXIF(_ bytes: UnsafeRawBufferPointer, name: String) throws -> (image: DecodedImage, exif: [UInt8]?) {
        guard bytes.count > 0 else { throw MixError.file(name, "not a PNG: the file is empty") }
        guard let h = header(bytes) else {
            throw MixError.file(name, bytes.count >= 8 && Array(bytes[0..<8]) == signature
                                ? "corrupt PNG: no valid IHDR chunk after the signature" : "not a PNG: wrong signature")
        }
        if let problem = ImageLimits.sizeProblem(width: h.width, height: h.height) {
            throw MixError.file(name, "PNG " + problem)
        }
        let bits = h.width.multipliedReportingOverflow(by: max(h.samples, 1) * max(h.bitDepth, 1))
        let scanlines = h.height * (1 + (bits.partialValue + 7) / 8)
        guard !bits.overflow, bytes.count.multipliedReportingOverflow(by: maxDeflateRatio).partialValue >= scanlines else {
            throw MixError.file(name, "truncated PNG: \(bytes.count) bytes cannot hold the image data of \(h.width)×\(h.height) pixels")
        }
        let capacity = 3 * h.width * h.height
        var width: png_uint_32 = 0, height: png_uint_32 = 0
        var exif = [UInt8](repeating: 0, count: 1 << 16), exifSize = 0
        var message = [CChar](repeating: 0, count: 256)
        let rgb = try [UInt8](unsafeUninitializedCapacity: capacity) { out, n in
            let ok = mxs_png_decode_rgb8(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count,
                                         out.baseAddress, capacity, &width, &height,
                                         &exif, exif.count, &exifSize, &message, message.count)
            guard ok != 0 else {
                let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                throw MixError.file(name, "corrupt PNG: " + (text.isEmpty ? "libpng reported no message" : text))
            }
            guard Int(width) == h.width, Int(height) == h.height else {
                throw MixError.file(name, "corrupt PNG: decoded \(width)×\(height), the header says \(h.width)×\(h.height)")
            }
            n = capacity
        }
        let image = rgb.withUnsafeBufferPointer { DecodedImage.planar(interleaved: $0.baseAddress!, width: h.width, height: h.height) }
        return (image, exifSize > 0 ? Array(exif[0..<exifSize]) : nil)
    }

    /// Reads and decodes the PNG file at `path`; see `decode(_:name:)`.
    public static func read(_ path: String) throws -> DecodedImage {
        try decode(try FileIO.read(path), name: path)
    }

    /// libpng's version, for the manifest.
    public static var libraryVersion: String { String(cString: png_get_libpng_ver(nil)) }

    // MARK: Helpers

    /// libpng's message for the last failure, or `fallback` if it left none.
    private static func message(of image: inout png_image, fallback: String) -> String {
        let text = withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        return text.isEmpty ? fallback : text
    }
}
