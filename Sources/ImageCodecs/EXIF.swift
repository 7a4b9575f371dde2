/// EXIF orientation (tag 0x0112), read from the metadata blocks that JPEG, PNG and WebP
/// files carry, in Swift: every offset is checked against the block's length, so a
/// crafted block is at worst ignored (mixfuzz's `image` target reads it).
public enum EXIF {
    /// The orientation stored in a TIFF-structured EXIF block (`II*\0` or `MM\0*`, then
    /// IFD0), or nil when the block holds none or is malformed. Values 1–8 only; like
    /// Pillow, the tag is read as SHORT (or LONG) with one value.
    public static func orientation(tiff b: ArraySlice<UInt8>) -> Orientation? {
        let base = b.startIndex
        guard b.count >= 8 else { return nil }
        let little: Bool
        switch (b[base], b[base + 1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= b.count else { return nil }
            let x = Int(b[base + at]), y = Int(b[base + at + 1])
            return little ? x | y << 8 : x << 8 | y
        }
        func u32(_ at: Int) -> Int? {
            guard let lo = u16(little ? at : at + 2), let hi = u16(little ? at + 2 : at) else { return nil }
            return hi << 16 | lo
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return nil }
        for i in 0..<count {
            let entry = ifd + 2 + 12 * i
            guard let tag = u16(entry) else { return nil }
            guard tag == 0x0112 else { continue }
            guard let type = u16(entry + 2), let n = u32(entry + 4), n == 1 else { return nil }
            let value: Int?
            switch type {
            case 3: value = u16(entry + 8)  // SHORT, left-justified in the value field
            case 4: value = u32(entry + 8)  // LONG
            default: value = nil
            }
            return value.flatMap { Orientation(rawValue: $0) }
        }
        return nil
    }
}

/// What a JPEG's marker segments before its first scan say (Pillow reads the same ones).
struct JPEGMarkers: Equatable {
    /// The TIFF block of the first APP1 segment that starts with `Exif\0\0`.
    var exif: ArraySlice<UInt8>?
    /// Whether an APP14 `Adobe` segment is present.
    var adobe = false

    /// Walks the segments from SOI up to SOS (or the end, or the first malformed one).
    init(_ b: UnsafeRawBufferPointer) {
        guard b.count >= 4, b[0] == 0xFF, b[1] == 0xD8 else { return }
        var at = 2
        while at + 4 <= b.count {
            guard b[at] == 0xFF else { return }
            let marker = b[at + 1]
            if marker == 0xFF { at += 1; continue }  // fill byte
            if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) { at += 2; continue }
            if marker == 0xDA || marker == 0xD9 { return }  // start of scan, end of image
            let length = Int(b[at + 2]) << 8 | Int(b[at + 3])
            let data = at + 4, end = at + 2 + length
            guard length >= 2, end <= b.count else { return }
            if marker == 0xE1, exif == nil, end - data >= 6, Array(b[data..<(data + 6)]) == Array("Exif\0\0".utf8) {
                exif = ArraySlice(Array(b[(data + 6)..<end]))
            } else if marker == 0xEE, end - data >= 5, Array(b[data..<(data + 5)]) == Array("Adobe".utf8) {
                adobe = true
            }
            at = end
        }
    }
}

/// The EXIF block of a WebP file: its `EXIF` chunk (RIFF), if any.
enum WebPChunks {
    static func exif(_ b: UnsafeRawBufferPointer) -> ArraySlice<UInt8>? {
        guard b.count >= 12, Array(b[0..<4]) == Array("RIFF".utf8), Array(b[8..<12]) == Array("WEBP".utf8) else { return nil }
        var at = 12
        while at + 8 <= b.count {
            let size = Int(b[at + 4]) | Int(b[at + 5]) << 8 | Int(b[at + 6]) << 16 | Int(b[at + 7]) << 24
            let data = at + 8
            guard size >= 0, size <= b.count - data else { return nil }
            if Array(b[at..<(at + 4)]) == Array("EXIF".utf8) {
                var block = ArraySlice(Array(b[data..<(data + size)]))
                // Some writers keep JPEG's "Exif\0\0" prefix inside the chunk.
                if block.count >= 6, Array(block.prefix(6)) == Array("Exif\0\0".utf8) { block = block.dropFirst(6) }
                return block
            }
            at = data + size + (size & 1)  // chunks are padded to even sizes
        }
        return nil
    }
}
