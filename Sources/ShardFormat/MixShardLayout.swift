import ZlibKit

/// MixShard v1 (`.mxs`): the on-disk layout, defined in this one file.
///
/// ```
/// Header (64 B) | chunk 0 | chunk 1 | … | chunk N-1 | index (N × 32 B) | footer (32 B)
/// ```
/// All integers little-endian. A chunk's payload, before filter and
/// compression, holds for its n samples: images `n × C × H × W` bytes (sample,
/// plane, row), labels `n × K` float32, and when header flag bit 0 is set,
/// provenance `n × 12` bytes `{primary u32, partner u32, lambda f32}`. The
/// image filter applies to the image bytes only; then the whole payload is
/// compressed as one zlib stream (RFC 1950). See DESIGN.md for the rationale.
public enum MixShardLayout {
    public static let magic: [UInt8] = Array("MIXSHRD1".utf8)
    public static let endMagic: [UInt8] = Array("MIXSHEND".utf8)
    public static let version: UInt16 = 1
    public static let headerBytes = 64
    public static let indexEntryBytes = 32
    public static let footerBytes = 32
    public static let provenanceBytes = 12
    /// `epoch` field value of a test-split shard.
    public static let testEpoch: UInt32 = 0xFFFF_FFFF
    /// Header flag bit 0: the payload carries provenance.
    public static let flagProvenance: UInt32 = 1
    /// Tolerance on a label row's sum.
    public static let labelSumTolerance: Float = 1e-4

    // MARK: Format limits
    //
    // Reader and writer policy, not part of the byte layout: a reader refuses a
    // header or chunk beyond them before allocating anything for it, so memory
    // stays bounded by a small multiple of `maxChunkRawBytes` whatever a file
    // declares. The writer never exceeds them (`limitProblem`, checked by
    // `mixprep` before it writes a shard).

    /// Samples per chunk (header `samplesPerChunk`, index `sampleCount`).
    public static let maxSamplesPerChunk = 65_536
    /// Image planes (1 grey, 3 RGB, 4 RGBA).
    public static let maxChannels = 4
    /// Image height and width, each.
    public static let maxSide = 1024
    /// Label classes.
    public static let maxClasses = 1024
    /// A chunk's payload before compression (256 MiB). Full CIFAR-10 chunks of
    /// `maxSamplesPerChunk` samples with provenance take 205 MB.
    public static let maxChunkRawBytes = 1 << 28

    /// Why a shard of this shape and chunking cannot be written within the
    /// format limits, naming the pipeline key or source property; nil when it can.
    /// `samplesPerShard` caps the samples a chunk actually holds.
    public static func limitProblem(shape: SampleShape, samplesPerChunk: Int, samplesPerShard: Int, provenance: Bool) -> String? {
        if !(1...maxSamplesPerChunk).contains(samplesPerChunk) {
            return "shards.samples_per_chunk must be in 1...\(maxSamplesPerChunk) (got \(samplesPerChunk))"
        }
        if !(1...maxChannels).contains(shape.channels) { return "images have \(shape.channels) channels; the format allows 1...\(maxChannels)" }
        if !(1...maxSide).contains(shape.height) || !(1...maxSide).contains(shape.width) {
            return "images are \(shape.width)×\(shape.height); the format allows sides of 1...\(maxSide)"
        }
        if !(1...maxClasses).contains(shape.classCount) { return "\(shape.classCount) classes; the format allows 1...\(maxClasses)" }
        let perChunk = min(samplesPerChunk, max(samplesPerShard, 1))
        let perSample = shape.imageBytes + 4 * shape.classCount + (provenance ? provenanceBytes : 0)
        let (raw, overflow) = perChunk.multipliedReportingOverflow(by: perSample)
        if overflow || raw > maxChunkRawBytes {
            return "shards.samples_per_chunk = \(samplesPerChunk): a chunk of \(perChunk) samples of \(perSample) bytes exceeds "
                + "the format's \(maxChunkRawBytes >> 20) MiB per chunk; use at most \(maxChunkRawBytes / perSample) samples per chunk"
        }
        return nil
    }

    /// Header field offsets.
    enum Header {
        static let magic = 0, version = 8, headerBytes = 10, flags = 12
        static let sampleCount = 16, chunkCount = 20, samplesPerChunk = 24
        static let channels = 28, height = 30, width = 32, classCount = 34
        static let pixelType = 36, labelType = 37, codec = 38, imageFilter = 39, split = 40
        static let reserved1 = 41 // 7 bytes
        static let epoch = 48, shardIndex = 52
        static let reserved2 = 56 // 4 bytes
        static let crc = 60
    }

    /// Index entry field offsets (within an entry).
    enum Index {
        static let offset = 0, storedBytes = 8, rawBytes = 12, firstSample = 16
        static let sampleCount = 20, rawCRC = 24, reserved = 28
    }

    /// Footer field offsets.
    enum Footer {
        static let indexOffset = 0, chunkCount = 8, indexCRC = 12, sampleCount = 16
        static let reserved = 20, magic = 24
    }
}

/// Pixel storage (header byte 36).
public enum PixelType: UInt8, Sendable { case uint8 = 0 }

/// Label storage (header byte 37). Only float32 is written; float16 is reserved.
public enum LabelType: UInt8, Sendable { case float32 = 0, float16 = 1 }

/// Payload compression (header byte 38).
public enum Codec: UInt8, Sendable, CaseIterable { case none = 0, zlib = 1 }

/// Image filter applied before compression (header byte 39).
public enum ImageFilter: UInt8, Sendable, CaseIterable {
    case none = 0
    /// Within each row of each plane, byte[x] − byte[x−1] mod 256; first byte kept.
    case delta = 1
}

/// Which split a shard holds (header byte 40).
public enum Split: UInt8, Sendable { case train = 0, test = 1 }

/// The 64-byte header, decoded.
public struct ShardHeader: Equatable, Sendable {
    public var flags: UInt32
    public var sampleCount: UInt32
    public var chunkCount: UInt32
    public var samplesPerChunk: UInt32
    public var channels: UInt16
    public var height: UInt16
    public var width: UInt16
    public var classCount: UInt16
    public var pixelType: PixelType = .uint8
    public var labelType: LabelType = .float32
    public var codec: Codec
    public var imageFilter: ImageFilter
    public var split: Split
    public var epoch: UInt32
    public var shardIndex: UInt32

    public init(flags: UInt32, sampleCount: UInt32, chunkCount: UInt32, samplesPerChunk: UInt32,
                channels: UInt16, height: UInt16, width: UInt16, classCount: UInt16,
                codec: Codec, imageFilter: ImageFilter, split: Split, epoch: UInt32, shardIndex: UInt32) {
        self.flags = flags
        self.sampleCount = sampleCount
        self.chunkCount = chunkCount
        self.samplesPerChunk = samplesPerChunk
        self.channels = channels
        self.height = height
        self.width = width
        self.classCount = classCount
        self.codec = codec
        self.imageFilter = imageFilter
        self.split = split
        self.epoch = epoch
        self.shardIndex = shardIndex
    }

    public var hasProvenance: Bool { flags & MixShardLayout.flagProvenance != 0 }
    /// Bytes of one image (C·H·W); at most 65535³, so never overflows an Int.
    public var imageBytes: Int { Int(channels) * Int(height) * Int(width) }
    /// Raw payload bytes of one sample (image, label row, provenance); never overflows.
    public var sampleBytes: Int { imageBytes + 4 * Int(classCount) + (hasProvenance ? MixShardLayout.provenanceBytes : 0) }
    /// Raw payload bytes of `n` samples, nil when the product overflows.
    public func checkedRawBytes(samples n: Int) -> Int? {
        let (v, overflow) = n.multipliedReportingOverflow(by: sampleBytes)
        return overflow || n < 0 ? nil : v
    }
    /// Raw payload bytes of `n` samples of a header within the format limits
    /// (the writer's, or one `decode` accepted).
    public func rawBytes(samples n: Int) -> Int {
        guard let v = checkedRawBytes(samples: n) else { preconditionFailure("rawBytes of \(n) samples overflows") }
        return v
    }
}

/// One 32-byte index entry.
public struct ChunkIndexEntry: Equatable, Sendable {
    public var offset: UInt64
    public var storedBytes: UInt32
    public var rawBytes: UInt32
    public var firstSample: UInt32
    public var sampleCount: UInt32
    public var rawCRC: UInt32

    public init(offset: UInt64, storedBytes: UInt32, rawBytes: UInt32, firstSample: UInt32, sampleCount: UInt32, rawCRC: UInt32) {
        self.offset = offset
        self.storedBytes = storedBytes
        self.rawBytes = rawBytes
        self.firstSample = firstSample
        self.sampleCount = sampleCount
        self.rawCRC = rawCRC
    }
}

/// The 32-byte footer.
public struct ShardFooter: Equatable, Sendable {
    public var indexOffset: UInt64
    public var chunkCount: UInt32
    public var indexCRC: UInt32
    public var sampleCount: UInt32
}

/// Where a sample came from: positions in the source split and the weight of the primary.
/// An unmixed sample has `partner == primary` and `lambda == 1`.
public struct Provenance: Equatable, Sendable {
    public var primary: UInt32
    public var partner: UInt32
    public var lambda: Float

    public init(primary: UInt32, partner: UInt32, lambda: Float) {
        self.primary = primary
        self.partner = partner
        self.lambda = lambda
    }
}

// MARK: - Little-endian byte helpers

extension Array where Element == UInt8 {
    @inline(__always) mutating func putLE<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        var v = value.littleEndian
        Swift.withUnsafeBytes(of: &v) { src in
            for i in 0..<src.count { self[offset + i] = src[i] }
        }
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always) func le<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

// MARK: - Encoding and decoding of the fixed-size parts

extension ShardHeader {
    /// The 64 header bytes, CRC included.
    public func encoded() -> [UInt8] {
        typealias H = MixShardLayout.Header
        var b = [UInt8](repeating: 0, count: MixShardLayout.headerBytes)
        b.replaceSubrange(H.magic..<H.magic + 8, with: MixShardLayout.magic)
        b.putLE(MixShardLayout.version, at: H.version)
        b.putLE(UInt16(MixShardLayout.headerBytes), at: H.headerBytes)
        b.putLE(flags, at: H.flags)
        b.putLE(sampleCount, at: H.sampleCount)
        b.putLE(chunkCount, at: H.chunkCount)
        b.putLE(samplesPerChunk, at: H.samplesPerChunk)
        b.putLE(channels, at: H.channels)
        b.putLE(height, at: H.height)
        b.putLE(width, at: H.width)
        b.putLE(classCount, at: H.classCount)
        b[H.pixelType] = pixelType.rawValue
        b[H.labelType] = labelType.rawValue
        b[H.codec] = codec.rawValue
        b[H.imageFilter] = imageFilter.rawValue
        b[H.split] = split.rawValue
        b.putLE(epoch, at: H.epoch)
        b.putLE(shardIndex, at: H.shardIndex)
        let crc = b.withUnsafeBytes { Zlib.crc32(UnsafeRawBufferPointer(rebasing: $0[0..<H.crc])) }
        b.putLE(crc, at: H.crc)
        return b
    }

    /// Decodes and checks a header; `fail` builds the error (it knows the file).
    static func decode(_ b: UnsafeRawBufferPointer, fail: (String) -> Error) throws -> ShardHeader {
        typealias H = MixShardLayout.Header
        guard b.count >= MixShardLayout.headerBytes else {
            throw fail("header: file is \(b.count) bytes, shorter than the 64-byte header")
        }
        guard Array(b[H.magic..<H.magic + 8]) == MixShardLayout.magic else {
            throw fail("header: bad magic (not a MixShard file)")
        }
        let version = b.le(UInt16.self, at: H.version)
        guard version == MixShardLayout.version else {
            throw fail("header: unsupported version \(version) (this reader knows \(MixShardLayout.version))")
        }
        let stored = b.le(UInt32.self, at: H.crc)
        let computed = Zlib.crc32(UnsafeRawBufferPointer(rebasing: b[0..<H.crc]))
        guard stored == computed else {
            throw fail("header: CRC mismatch (stored \(hex(stored)), computed \(hex(computed)))")
        }
        let headerBytes = b.le(UInt16.self, at: H.headerBytes)
        guard Int(headerBytes) == MixShardLayout.headerBytes else { throw fail("header: headerBytes is \(headerBytes), expected 64") }
        guard let pixelType = PixelType(rawValue: b[H.pixelType]) else { throw fail("header: unknown pixelType \(b[H.pixelType])") }
        guard let labelType = LabelType(rawValue: b[H.labelType]), labelType == .float32 else {
            throw fail("header: unsupported labelType \(b[H.labelType])")
        }
        guard let codec = Codec(rawValue: b[H.codec]) else { throw fail("header: unknown codec \(b[H.codec])") }
        guard let filter = ImageFilter(rawValue: b[H.imageFilter]) else { throw fail("header: unknown imageFilter \(b[H.imageFilter])") }
        guard let split = Split(rawValue: b[H.split]) else { throw fail("header: unknown split \(b[H.split])") }
        var h = ShardHeader(
            flags: b.le(UInt32.self, at: H.flags), sampleCount: b.le(UInt32.self, at: H.sampleCount),
            chunkCount: b.le(UInt32.self, at: H.chunkCount), samplesPerChunk: b.le(UInt32.self, at: H.samplesPerChunk),
            channels: b.le(UInt16.self, at: H.channels), height: b.le(UInt16.self, at: H.height),
            width: b.le(UInt16.self, at: H.width), classCount: b.le(UInt16.self, at: H.classCount),
            codec: codec, imageFilter: filter, split: split,
            epoch: b.le(UInt32.self, at: H.epoch), shardIndex: b.le(UInt32.self, at: H.shardIndex))
        h.pixelType = pixelType
        h.labelType = labelType
        guard h.flags & ~MixShardLayout.flagProvenance == 0 else { throw fail("header: unknown flags \(hex(h.flags))") }
        guard h.channels > 0, h.height > 0, h.width > 0, h.classCount > 0 else {
            throw fail("header: zero image dimension or class count")
        }
        guard h.samplesPerChunk > 0 || h.sampleCount == 0 else { throw fail("header: samplesPerChunk is 0") }
        typealias L = MixShardLayout
        guard h.samplesPerChunk <= L.maxSamplesPerChunk else {
            throw fail("header: samplesPerChunk \(h.samplesPerChunk) exceeds the format limit \(L.maxSamplesPerChunk)")
        }
        guard Int(h.channels) <= L.maxChannels, Int(h.height) <= L.maxSide, Int(h.width) <= L.maxSide else {
            throw fail("header: image shape \(h.channels)×\(h.height)×\(h.width) exceeds the format limits "
                       + "(\(L.maxChannels) channels, sides of \(L.maxSide))")
        }
        guard Int(h.classCount) <= L.maxClasses else {
            throw fail("header: classCount \(h.classCount) exceeds the format limit \(L.maxClasses)")
        }
        let perChunk = min(Int(h.samplesPerChunk), Int(h.sampleCount))
        guard let raw = h.checkedRawBytes(samples: perChunk), raw <= L.maxChunkRawBytes else {
            throw fail("header: chunks of \(perChunk) samples of \(h.sampleBytes) bytes exceed the format's "
                       + "\(L.maxChunkRawBytes >> 20) MiB per chunk")
        }
        return h
    }
}

extension ChunkIndexEntry {
    func write(into b: inout [UInt8], at base: Int) {
        typealias I = MixShardLayout.Index
        b.putLE(offset, at: base + I.offset)
        b.putLE(storedBytes, at: base + I.storedBytes)
        b.putLE(rawBytes, at: base + I.rawBytes)
        b.putLE(firstSample, at: base + I.firstSample)
        b.putLE(sampleCount, at: base + I.sampleCount)
        b.putLE(rawCRC, at: base + I.rawCRC)
        b.putLE(UInt32(0), at: base + I.reserved)
    }

    static func read(_ b: UnsafeRawBufferPointer, at base: Int) -> ChunkIndexEntry {
        typealias I = MixShardLayout.Index
        return ChunkIndexEntry(
            offset: b.le(UInt64.self, at: base + I.offset), storedBytes: b.le(UInt32.self, at: base + I.storedBytes),
            rawBytes: b.le(UInt32.self, at: base + I.rawBytes), firstSample: b.le(UInt32.self, at: base + I.firstSample),
            sampleCount: b.le(UInt32.self, at: base + I.sampleCount), rawCRC: b.le(UInt32.self, at: base + I.rawCRC))
    }
}

extension ShardFooter {
    func encoded() -> [UInt8] {
        typealias F = MixShardLayout.Footer
        var b = [UInt8](repeating: 0, count: MixShardLayout.footerBytes)
        b.putLE(indexOffset, at: F.indexOffset)
        b.putLE(chunkCount, at: F.chunkCount)
        b.putLE(indexCRC, at: F.indexCRC)
        b.putLE(sampleCount, at: F.sampleCount)
        b.putLE(UInt32(0), at: F.reserved)
        b.replaceSubrange(F.magic..<F.magic + 8, with: MixShardLayout.endMagic)
        return b
    }

    static func decode(_ b: UnsafeRawBufferPointer, fail: (String) -> Error) throws -> ShardFooter {
        typealias F = MixShardLayout.Footer
        guard Array(b[F.magic..<F.magic + 8]) == MixShardLayout.endMagic else {
            throw fail("footer: bad end magic (file truncated or not a MixShard file)")
        }
        return ShardFooter(indexOffset: b.le(UInt64.self, at: F.indexOffset), chunkCount: b.le(UInt32.self, at: F.chunkCount),
                           indexCRC: b.le(UInt32.self, at: F.indexCRC), sampleCount: b.le(UInt32.self, at: F.sampleCount))
    }
}

func hex(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - s.count) + s
}
