// The one file in mixshards that imports libjpeg-turbo (its TurboJPEG API).
import CJPEG
import MixCore

/// JPEG decoding through libjpeg-turbo, with its scaled decode (the IDCT at 1/2, 1/4
/// or 1/8 size, as Pillow's `Image.draft` uses it) when the target is much smaller.
public enum JPEG {
    /// The SOI marker every JPEG starts with.
    static let signature: [UInt8] = [0xFF, 0xD8, 0xFF]

    /// What the header says, before any pixel is decoded.
    struct Header {
        var width: Int
        var height: Int
        /// CMYK or YCCK: decoded as CMYK, then converted to RGB.
        var cmyk: Bool
    }

    /// A TurboJPEG decompressor; one per thread (a handle is not thread-safe).
    final class Decompressor {
        let handle: tjhandle

        init() throws {
            guard let h = tjInitDecompress() else { throw MixError("libjpeg-turbo: cannot create a decompressor") }
            handle = h
        }

        deinit { tjDestroy(handle) }

        var lastError: String { String(cString: tjGetErrorStr2(handle)) }
    }

    /// Reads the header of `bytes` (named `name` in errors).
    static func header(_ bytes: UnsafeRawBufferPointer, name: String, with d: Decompressor) throws -> Header {
        var w: Int32 = 0, h: Int32 = 0, subsamp: Int32 = 0, colorspace: Int32 = 0
        guard let base = bytes.baseAddress, bytes.count > 0 else { throw MixError.file(name, "not a JPEG: the file is empty") }
        guard tjDecompressHeader3(d.handle, base.assumingMemoryBound(to: UInt8.self), UInt(bytes.count),
                                  &w, &h, &subsamp, &colorspace) == 0 else {
            throw MixError.file(name, (endsWithEOI(bytes) ? "corrupt JPEG: " : "truncated JPEG (no end-of-image marker): ") + d.lastError)
        }
        let cs = Int(colorspace)
        return Header(width: Int(w), height: Int(h), cmyk: cs == Int(TJCS_CMYK.rawValue) || cs == Int(TJCS_YCCK.rawValue))
    }

    /// Decodes `bytes` to planar RGB at 1/`scale` of its stored size (`scale` 1, 2, 4 or 8;
    /// each side rounded up, as libjpeg and Pillow do). Grey is replicated; CMYK and
    /// YCCK are converted as PIL converts a CMYK JPEG (see `cmykToRGB`). A file that ends
    /// before its image data does is an error (Pillow: "image file is truncated"); other
    /// libjpeg warnings (e.g. extraneous bytes before a marker) are not.
    static func decode(_ bytes: UnsafeRawBufferPointer, header: Header, scale: Int, name: String,
                       with d: Decompressor) throws -> PackedRGB {
        precondition([1, 2, 4, 8].contains(scale), "JPEG scale must be 1, 2, 4 or 8")
        let sw = (header.width + scale - 1) / scale, sh = (header.height + scale - 1) / scale
        var out = PackedRGB(width: sw, height: sh)
        var cmyk = header.cmyk ? [UInt8](repeating: 0, count: 4 * sw * sh) : []
        let pitch = header.cmyk ? 4 * sw : out.stride
        let format = header.cmyk ? TJPF_CMYK : TJPF_RGB
        var warning: String?
        func run(_ dst: UnsafeMutablePointer<UInt8>) throws {
            let r = tjDecompress2(d.handle, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt(bytes.count),
                                  dst, Int32(sw), Int32(pitch), Int32(sh), format.rawValue, mxs_jpeg_decode_flags())
            if r != 0 {
                let message = d.lastError
                // TurboJPEG 2.1 calls any failure after a warning a warning (its flag stays set),
                // leaving rows unwritten; the message is then the error's, not a warning's.
                guard tjGetErrorCode(d.handle) == Int32(TJERR_WARNING.rawValue), isWarning(message) else {
                    throw MixError.file(name, (endsWithEOI(bytes) ? "corrupt JPEG: " : "truncated JPEG (no end-of-image marker): ") + message)
                }
                warning = message
            }
        }
        if header.cmyk {
            try cmyk.withUnsafeMutableBufferPointer { try run($0.baseAddress!) }
        } else {
            try out.bytes.withUnsafeMutableBufferPointer { try run($0.baseAddress!) }
        }
        // libjpeg reports the first warning of an image; a cut file warns and ends without EOI.
        if let warning, warning.contains("Premature end of JPEG file") || !endsWithEOI(bytes) {
            throw MixError.file(name, "truncated JPEG: " + warning)
        }
        if header.cmyk { cmyk.withUnsafeBufferPointer { cmykToRGB($0.baseAddress!, into: &out) } }
        return out
    }

    /// libjpeg's warnings (`JWRN_*` in jerror.h), by their text up to the first value; no
    /// error's text starts so. libjpeg keeps the first warning's text, and an error's replaces it.
    static let warningTexts = ["Corrupt JPEG data: ", "Premature end of JPEG file", "Invalid SOS parameters for sequential JPEG",
                               "Unknown Adobe color transform code ", "Inconsistent progression sequence for component ",
                               "Warning: unknown JFIF revision number ", "Application transferred too many scanlines"]

    /// Whether `message` is one of libjpeg's warnings (the image was decoded whole).
    /// Without this check mixfuzz's `image` target got uninitialised memory as pixels:
    /// "Invalid SOS parameters" then "Huffman table 0x02 was not defined" came back as a warning.
    static func isWarning(_ message: String) -> Bool {
        warningTexts.contains { message.hasPrefix($0) }
    }

    /// Whether the data ends with the EOI marker (FF D9), as a whole JPEG does.
    static func endsWithEOI(_ b: UnsafeRawBufferPointer) -> Bool {
        b.count >= 2 && b[b.count - 2] == 0xFF && b[b.count - 1] == 0xD9
    }

    /// CMYK as libjpeg returns it (Adobe's inverted convention: 0 = full ink) to RGB, as
    /// Pillow does it: it reads the samples inverted ("CMYK;I") and converts with
    /// `R = 255 − K' − C'·(255 − K')/255` (`cmyk2rgb`, with its rounded ÷255), which on the
    /// stored values c, k is `k − (255 − c)·k/255`. A colour-managed conversion would need
    /// the file's ICC profile; neither PIL's `convert("RGB")` nor torchvision applies one.
    static func cmykToRGB(_ p: UnsafePointer<UInt8>, into out: inout PackedRGB) {
        let (w, stride) = (out.width, out.stride)
        out.bytes.withUnsafeMutableBufferPointer { dst in
            for y in 0..<out.height {
                for x in 0..<w {
                    let i = y * w + x
                    let k = Int(p[4 * i + 3])
                    for c in 0..<3 {
                        let t = (255 - Int(p[4 * i + c])) * k + 128
                        dst[y * stride + 3 * x + c] = UInt8(max(0, min(255, k - (((t >> 8) + t) >> 8))))
                    }
                }
            }
        }
    }

    /// The libjpeg-turbo version the build was made against, for the manifest.
    public static var libraryVersion: String { String(cString: mxs_jpeg_version()) }
}
