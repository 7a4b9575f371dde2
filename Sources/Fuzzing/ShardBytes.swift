import ZlibKit

/// MixShard bytes taken apart and put back together by the fuzzer, independently
/// of `ShardFormat`'s reader and writer (field offsets from DESIGN.md): so that
/// mutants can carry valid CRCs — header, index, and each chunk's raw CRC — and
/// get past the checksums to the size checks, the inflater, the label and
/// provenance checks and reference resolution.
public struct ShardBytes {
    /// Header field offsets and widths (DESIGN.md).
    public static let headerFields: [(offset: Int, width: Int)] = [
        (8, 2), (10, 2), (12, 4), (16, 4), (20, 4), (24, 4), (28, 2), (30, 2), (32, 2), (34, 2),
        (36, 1), (37, 1), (38, 1), (39, 1), (40, 1), (41, 1), (48, 4), (52, 4), (56, 4),
    ]
    /// Index entry field offsets and widths.
    public static let indexFields: [(offset: Int, width: Int)] = [(0, 8), (8, 4), (12, 4), (16, 4), (20, 4), (24, 4), (28, 4)]
    /// Footer field offsets and widths.
    public static let footerFields: [(offset: Int, width: Int)] = [(0, 8), (8, 4), (12, 4), (16, 4), (20, 4), (24, 8)]
    /// v3 sparse label record fields (12 bytes): classA, classB, weight.
    public static let sparseLabelFields: [(offset: Int, width: Int)] = [(0, 4), (4, 4), (8, 4)]
    /// The header's v3 label smoothing ε (f32; reserved zero in v1 and v2).
    public static let labelSmoothingField = (offset: 56, width: 4)
    /// v2 provenance record fields (32 bytes).
    /// v4 op-record fields (DESIGN.md, "Op record"): the primary's count, flags, crop box and its first
    /// two slots' ids and magnitudes, the partner's count and first slot, the erasing fill and box.
    public static let opRecordFields: [(offset: Int, width: Int)] = [
        (0, 1), (1, 1), (2, 2), (4, 2), (6, 2), (8, 2), (10, 2), (12, 4), (16, 1), (17, 1), (20, 4), (24, 1), (28, 4), (72, 1), (76, 4),
        (80, 1), (81, 1), (96, 1), (100, 4), (160, 1), (161, 1), (164, 2), (166, 2), (168, 2), (170, 2), (172, 4),
    ]

    public static let recordFields: [(offset: Int, width: Int)] = [
        (0, 4), (4, 4), (8, 4), (12, 1), (13, 1), (14, 2), (16, 2), (18, 2), (20, 2), (22, 2), (24, 2), (26, 2), (28, 2), (30, 2),
    ]

    /// One chunk: its index fields and its raw (inflated, unfiltered) payload.
    public struct Chunk {
        public var firstSample: UInt32
        public var sampleCount: UInt32
        public var imageCount: UInt32
        public var raw: [UInt8]
    }

    /// The 64 header bytes (the CRC is recomputed by `encoded`).
    public var header: [UInt8]
    public var chunks: [Chunk]

    func u16(_ at: Int) -> Int { Int(ByteMutator.read(header, at: at, width: 2)) }
    var version: Int { u16(8) }
    var codec: UInt8 { header[38] }
    var filter: UInt8 { header[39] }
    var width: Int { u16(32) }
    var imageBytes: Int { u16(28) * u16(30) * u16(32) }
    var classCount: Int { u16(34) }
    /// Labels stored as v3 sparse records (header `labelType` 2), not dense rows.
    var sparseLabels: Bool { header[37] == 2 }
    /// Bytes of one sample's label: a 12-byte record, or 4·K.
    var labelBytes: Int { sparseLabels ? 12 : 4 * classCount }
    var provenanceBytes: Int { header[12] & 1 == 0 ? 0 : (version == 1 ? 12 : 32) }
    /// v4: bytes of one op record (after the provenance records), 0 before or without provenance.
    var opRecordBytes: Int { header[12] & 1 == 0 || version < 4 ? 0 : 176 }

    /// Pixels a chunk stores: v1 writes imageCount 0 for "all".
    func storedImages(_ c: Chunk) -> Int { Int(version == 1 && c.imageCount == 0 ? c.sampleCount : c.imageCount) }

    /// Bytes of a chunk's stored pixels (saturating: crafted headers can make it overflow).
    func storedRegion(_ c: Chunk) -> Int {
        let (v, overflow) = storedImages(c).multipliedReportingOverflow(by: imageBytes)
        return overflow ? Int.max : v
    }

    /// Takes a well-formed shard apart; nil when it is not one (or a chunk inflates beyond `maxRaw`).
    public static func parse(_ b: [UInt8], maxRaw: Int = 8 << 20) -> ShardBytes? {
        guard b.count >= 96 else { return nil }
        let footer = b.count - 32
        let io = Int(clamping: ByteMutator.read(b, at: footer, width: 8))
        let n = Int(ByteMutator.read(b, at: footer + 8, width: 4))
        guard io >= 64, n <= (footer - io) / 32, io + 32 * n == footer else { return nil }
        var shard = ShardBytes(header: Array(b[0..<64]), chunks: [])
        for i in 0..<n {
            let e = io + 32 * i
            let offset = Int(clamping: ByteMutator.read(b, at: e, width: 8))
            let stored = Int(ByteMutator.read(b, at: e + 8, width: 4))
            let rawBytes = Int(ByteMutator.read(b, at: e + 12, width: 4))
            guard offset >= 64, offset <= io, stored <= io - offset, rawBytes <= maxRaw else { return nil }
            var chunk = Chunk(firstSample: UInt32(ByteMutator.read(b, at: e + 16, width: 4)),
                              sampleCount: UInt32(ByteMutator.read(b, at: e + 20, width: 4)),
                              imageCount: UInt32(ByteMutator.read(b, at: e + 28, width: 4)), raw: [])
            guard let raw = shard.inflate(Array(b[offset..<(offset + stored)]), rawBytes: rawBytes, chunk: chunk) else { return nil }
            chunk.raw = raw
            shard.chunks.append(chunk)
        }
        return shard
    }

    /// A chunk's stored bytes back to its raw payload (inflate, undo the delta filter); nil when they do not decode.
    func inflate(_ stored: [UInt8], rawBytes: Int, chunk: Chunk) -> [UInt8]? {
        var raw: [UInt8]
        switch codec {
        case 0:
            raw = stored
        case 1:
            raw = [UInt8](repeating: 0, count: rawBytes)
            do {
                try stored.withUnsafeBytes { s in try raw.withUnsafeMutableBytes { try Zlib.decompress(s, into: $0) } }
            } catch {
                return nil
            }
        default:
            return nil
        }
        if filter == 1 { ShardBytes.delta(&raw, count: min(raw.count, storedRegion(chunk)), width: width, decode: true) }
        return raw
    }

    /// The delta image filter (DESIGN.md): within each row of `width` bytes, byte[x] − byte[x−1].
    static func delta(_ b: inout [UInt8], count: Int, width: Int, decode: Bool) {
        guard width > 0, count > 0 else { return }
        var row = 0
        while row < count {
            let end = min(row + width, count)
            if decode {
                var x = row + 1
                while x < end { b[x] = b[x] &+ b[x - 1]; x += 1 }
            } else {
                var x = end - 1
                while x > row { b[x] = b[x] &- b[x - 1]; x -= 1 }
            }
            row += width
        }
    }

    /// The file: header (CRC recomputed), the chunks filtered and compressed as
    /// the header says, an index with offsets, sizes and raw CRCs that match,
    /// and a footer. `rawBytesOverride` replaces chunk `i`'s declared raw size.
    public func encoded(rawBytesOverride: [Int: UInt32] = [:], footerSampleCount: UInt32? = nil) -> [UInt8] {
        var out = header
        var index: [UInt8] = []
        for (i, c) in chunks.enumerated() {
            var filtered = c.raw
            if filter == 1 { ShardBytes.delta(&filtered, count: min(filtered.count, storedRegion(c)), width: width, decode: false) }
            let stored = codec == 1 ? filtered.withUnsafeBytes { Zlib.compress($0, level: 1) } : filtered
            var e = [UInt8](repeating: 0, count: 32)
            ByteMutator.write(&e, UInt64(out.count), at: 0, width: 8)
            ByteMutator.write(&e, UInt64(stored.count), at: 8, width: 4)
            ByteMutator.write(&e, UInt64(rawBytesOverride[i] ?? UInt32(truncatingIfNeeded: c.raw.count)), at: 12, width: 4)
            ByteMutator.write(&e, UInt64(c.firstSample), at: 16, width: 4)
            ByteMutator.write(&e, UInt64(c.sampleCount), at: 20, width: 4)
            ByteMutator.write(&e, UInt64(Zlib.crc32(c.raw)), at: 24, width: 4)
            ByteMutator.write(&e, UInt64(c.imageCount), at: 28, width: 4)
            index += e
            out += stored
        }
        var footer = [UInt8](repeating: 0, count: 32)
        ByteMutator.write(&footer, UInt64(out.count), at: 0, width: 8)
        ByteMutator.write(&footer, UInt64(chunks.count), at: 8, width: 4)
        ByteMutator.write(&footer, UInt64(Zlib.crc32(index)), at: 12, width: 4)
        ByteMutator.write(&footer, footerSampleCount.map(UInt64.init) ?? ByteMutator.read(header, at: 16, width: 4), at: 16, width: 4)
        footer.replaceSubrange(24..<32, with: Array("MIXSHEND".utf8))
        out += index + footer
        ShardBytes.fixHeaderCRC(&out)
        return out
    }

    /// Recomputes the header CRC (bytes 60..<64 over 0..<60).
    public static func fixHeaderCRC(_ b: inout [UInt8]) {
        guard b.count >= 64 else { return }
        let crc = b.withUnsafeBytes { Zlib.crc32(UnsafeRawBufferPointer(rebasing: $0[0..<60])) }
        ByteMutator.write(&b, UInt64(crc), at: 60, width: 4)
    }

    /// Recomputes whatever checksums the bytes still have room for: the header
    /// CRC, each chunk's raw CRC when `deep` and the chunk still decodes, and the
    /// index CRC in the footer — so a mutant fails on its content, not its checksums.
    public static func fixChecksums(_ b: inout [UInt8], deep: Bool) {
        fixHeaderCRC(&b)
        guard b.count >= 96 else { return }
        let footer = b.count - 32
        let io = Int(clamping: ByteMutator.read(b, at: footer, width: 8))
        guard io >= 64, io <= footer else { return }
        if deep {
            let view = ShardBytes(header: Array(b[0..<64]), chunks: [])
            var e = io
            while e + 32 <= footer {
                let offset = Int(clamping: ByteMutator.read(b, at: e, width: 8))
                let stored = Int(ByteMutator.read(b, at: e + 8, width: 4))
                let rawBytes = Int(ByteMutator.read(b, at: e + 12, width: 4))
                if offset >= 0, offset <= b.count, stored <= b.count - offset, rawBytes <= 8 << 20 {
                    let chunk = Chunk(firstSample: 0, sampleCount: UInt32(ByteMutator.read(b, at: e + 20, width: 4)),
                                      imageCount: UInt32(ByteMutator.read(b, at: e + 28, width: 4)), raw: [])
                    if let raw = view.inflate(Array(b[offset..<(offset + stored)]), rawBytes: rawBytes, chunk: chunk) {
                        ByteMutator.write(&b, UInt64(Zlib.crc32(raw)), at: e + 24, width: 4)
                    }
                }
                e += 32
            }
        }
        let crc = b.withUnsafeBytes { Zlib.crc32(UnsafeRawBufferPointer(rebasing: $0[io..<footer])) }
        ByteMutator.write(&b, UInt64(crc), at: footer + 12, width: 4)
    }
}
