/// Where the fields of a JPEG, PNG or WebP file and of an EXIF (TIFF) block are,
/// for the `image` target's structure-aware mutations. Lenient walks that stop at
/// the first thing they do not understand: they find places to edit, they do not
/// judge the file (that is the decoders' job).
enum ImageLayout {
    /// A marker segment of a JPEG, SOI to SOS: `at` is its `FF`, `data` what follows
    /// its length field (cut at the end of the file).
    struct Segment: Equatable {
        var marker: UInt8
        var at: Int
        var data: Range<Int>
        /// The offset of the big-endian length field.
        var lengthField: Int { at + 2 }
        /// Start of frame (SOF0–SOF15 but DHT, JPG and DAC).
        var isFrame: Bool { (0xC0...0xCF).contains(marker) && ![0xC4, 0xC8, 0xCC].contains(marker) }
    }

    /// A chunk of a PNG (`at` is its length field) or a RIFF file (`at` is its four-character code).
    struct Chunk: Equatable {
        var type: [UInt8]
        var at: Int
        var data: Range<Int>
    }

    /// The segments from SOI up to and including SOS, and where the entropy-coded
    /// data of the first scan starts (nil when there is no SOS).
    static func jpegSegments(_ b: [UInt8]) -> (segments: [Segment], scan: Int?) {
        guard b.count >= 4, b[0] == 0xFF, b[1] == 0xD8 else { return ([], nil) }
        var segments: [Segment] = []
        var at = 2
        while at + 4 <= b.count, b[at] == 0xFF {
            let marker = b[at + 1]
            if marker == 0xFF { at += 1; continue }
            if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) { at += 2; continue }
            if marker == 0xD9 { break }
            let length = Int(b[at + 2]) << 8 | Int(b[at + 3])
            guard length >= 2 else { break }
            let end = min(b.count, at + 2 + length)
            segments.append(Segment(marker: marker, at: at, data: (at + 4)..<max(at + 4, end)))
            if marker == 0xDA { return (segments, end) }
            at += 2 + length
        }
        return (segments, nil)
    }

    /// The chunks of a PNG whose length field fits in the file (data cut at its end).
    static func pngChunks(_ b: [UInt8]) -> [Chunk] {
        var chunks: [Chunk] = []
        var at = 8
        while at + 8 <= b.count {
            let length = Int(ByteMutator.read(Array(b[at..<(at + 4)].reversed()), at: 0, width: 4))
            let start = at + 8
            chunks.append(Chunk(type: Array(b[(at + 4)..<start]), at: at, data: start..<min(b.count, start + length)))
            guard length <= b.count - start else { break }
            at = start + length + 4
        }
        return chunks
    }

    /// The chunks after `RIFF????WEBP` (data cut at the end of the file; padded to even sizes).
    static func riffChunks(_ b: [UInt8]) -> [Chunk] {
        guard b.count >= 12, Array(b[0..<4]) == Array("RIFF".utf8), Array(b[8..<12]) == Array("WEBP".utf8) else { return [] }
        var chunks: [Chunk] = []
        var at = 12
        while at + 8 <= b.count {
            let size = Int(ByteMutator.read(b, at: at + 4, width: 4))
            let start = at + 8
            chunks.append(Chunk(type: Array(b[at..<(at + 4)]), at: at, data: start..<min(b.count, start + size)))
            guard size <= b.count - start else { break }
            at = start + size + (size & 1)
        }
        return chunks
    }

    static let exifHeader = Array("Exif\0\0".utf8)

    /// The TIFF blocks of the EXIF metadata in an image file: every JPEG APP1
    /// `Exif\0\0` segment, PNG `eXIf` chunk and WebP `EXIF` chunk (without the
    /// `Exif\0\0` some writers keep); the whole input when it is a bare TIFF block.
    static func tiffBlocks(_ b: [UInt8]) -> [Range<Int>] {
        if isTIFF(b[...]) { return [0..<b.count] }
        var blocks: [Range<Int>] = []
        for s in jpegSegments(b).segments where s.marker == 0xE1 && b[s.data].starts(with: exifHeader) {
            blocks.append((s.data.lowerBound + 6)..<s.data.upperBound)
        }
        if b.starts(with: [0x89, 0x50, 0x4E, 0x47]) {
            for c in pngChunks(b) where c.type == Array("eXIf".utf8) { blocks.append(c.data) }
        }
        for c in riffChunks(b) where c.type == Array("EXIF".utf8) {
            blocks.append(b[c.data].starts(with: exifHeader) ? (c.data.lowerBound + 6)..<c.data.upperBound : c.data)
        }
        return blocks
    }

    static func isTIFF(_ b: ArraySlice<UInt8>) -> Bool {
        b.starts(with: [0x49, 0x49, 0x2A, 0x00]) || b.starts(with: [0x4D, 0x4D, 0x00, 0x2A])
    }

    /// IFD0 of a TIFF block: its byte order, where the IFD offset and the entry count
    /// are, and the (in-bounds) entries; offsets are into the whole input.
    struct IFD {
        var bigEndian: Bool
        /// The offset of the u32 IFD0 offset (block start + 4).
        var offsetField: Int
        /// The offset of the u16 entry count, when it is inside the block.
        var countField: Int?
        /// The offset of each whole 12-byte entry inside the block.
        var entries: [Int]
    }

    static func ifd0(_ b: [UInt8], block: Range<Int>) -> IFD? {
        guard block.count >= 8, block.upperBound <= b.count else { return nil }
        let big = b[block.lowerBound] == 0x4D
        func read(_ at: Int, _ width: Int) -> Int? {
            guard at >= block.lowerBound, at + width <= block.upperBound else { return nil }
            let bytes = Array(b[at..<(at + width)])
            return Int(ByteMutator.read(big ? bytes.reversed() : bytes, at: 0, width: width))
        }
        var ifd = IFD(bigEndian: big, offsetField: block.lowerBound + 4, countField: nil, entries: [])
        guard let offset = read(block.lowerBound + 4, 4), offset <= block.count - 2 else { return ifd }
        let countAt = block.lowerBound + offset
        ifd.countField = countAt
        let n = read(countAt, 2) ?? 0
        for i in 0..<min(n, 64) {
            let entry = countAt + 2 + 12 * i
            guard entry + 12 <= block.upperBound else { break }
            ifd.entries.append(entry)
        }
        return ifd
    }

    /// The IFD0 entries tagged 0x0112 (orientation) of every TIFF block of `b`, with their byte order.
    static func orientationEntries(_ b: [UInt8]) -> [(entry: Int, bigEndian: Bool)] {
        tiffBlocks(b).compactMap { ifd0(b, block: $0) }.flatMap { ifd in
            ifd.entries.filter { e in
                let tag = ifd.bigEndian ? Int(b[e]) << 8 | Int(b[e + 1]) : Int(b[e]) | Int(b[e + 1]) << 8
                return tag == 0x0112
            }.map { ($0, ifd.bigEndian) }
        }
    }
}
