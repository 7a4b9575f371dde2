// The one file in mixshards that imports libwebp.
import CWebP
import MixCore

/// WebP decoding (lossy and lossless) through libwebp.
public enum WebP {
    /// `RIFF????WEBP`: the container every WebP file is.
    static func isWebP(_ b: UnsafeRawBufferPointer) -> Bool {
        b.count >= 12 && Array(b[0..<4]) == Array("RIFF".utf8) && Array(b[8..<12]) == Array("WEBP".utf8)
    }

    /// The stored size, from the bitstream's header.
    static func header(_ bytes: UnsafeRawBufferPointer, name: String) throws -> (width: Int, height: Int) {
        var w: Int32 = 0, h: Int32 = 0, alpha: Int32 = 0, animated: Int32 = 0
        guard let base = bytes.baseAddress,
              mxs_webp_features(base.assumingMemoryBound(to: UInt8.self), bytes.count, &w, &h, &alpha, &animated) != 0 else {
            throw MixError.file(name, "corrupt WebP: libwebp cannot read its header")
        }
        guard animated == 0 else { throw MixError.file(name, "animated WebP is not supported (save its first frame as an image)") }
        return (Int(w), Int(h))
    }

    /// Decodes `bytes` to planar RGB; alpha, if any, is dropped (PIL's `convert("RGB")`).
    static func decode(_ bytes: UnsafeRawBufferPointer, width: Int, height: Int, name: String) throws -> DecodedImage {
        let count = 3 * width * height
        let rgb = try [UInt8](unsafeUninitializedCapacity: count) { out, n in
            guard WebPDecodeRGBInto(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count,
                                    out.baseAddress, count, Int32(3 * width)) != nil else {
                throw MixError.file(name, "corrupt WebP: libwebp cannot decode the image data (truncated or damaged)")
            }
            n = count
        }
        return rgb.withUnsafeBufferPointer { DecodedImage.planar(interleaved: $0.baseAddress!, width: width, height: height) }
    }

    /// libwebp's decoder version (e.g. 1.2.4), for the manifest.
    public static var libraryVersion: String {
        let v = WebPGetDecoderVersion()
        return "\(v >> 16).\((v >> 8) & 0xFF).\(v & 0xFF)"
    }
}
