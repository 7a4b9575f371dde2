import MixCore
import ZlibKit

/// MixShard v3 (`.mxs`; v1 and v2 still read): the on-disk layout, defined in this one file.
///
/// ```
/// Header (64 B) | chunk 0 | chunk 1 | … | chunk N-1 | index (N × 32 B) | footer (32 B)
/// ```
/// All integers little-endian. A chunk's payload, before filter and
/// compression, holds for its n samples: images `m × C × H × W` bytes (sample,
/// plane, row) of the m samples whose pixels are stored, labels — `n × 12`
/// bytes of sparse records `{classA u32, classB u32, weight f32}` (v3, header
/// `labelType` 2, the shard's label smoothing ε in header bytes 56..<60) or
/// `n × K` float32 (`labelType` 0: v1, v2, and readable in v3) — and when
/// header flag bit 0 is set, provenance `n × 32` bytes (v1: `n × 12`,
/// `{primary u32, partner u32, lambda f32}`, and m = n). A sparse record stands
/// for the dense row `LabelRow.write` makes of it (DESIGN.md, rule 12). A sample
/// whose provenance says "reference" stores no pixels: it is its primary
/// source image under its transform, read from the directory's source copy
/// (`source/train.mxs`, a shard of split `source`: uncompressed in v2, either in
/// v3). The image filter applies to the image bytes only; then the whole payload
/// is compressed as one zlib stream (RFC 1950). See DESIGN.md for the rationale.
public enum MixShardLayout {
    public static let magic: [UInt8] = Array("MIXSHRD1".utf8)
    public static let endMagic: [UInt8] = Array("MIXSHEND".utf8)
    /// The version this build writes.
    public static let version: UInt16 = 3
    /// The version written when a pipeline uses an `[augment]` op beyond crop and flip
    /// (`random_resized_crop`, `color_jitter`, `trivial_augment`, `rand_augment`,
    /// `random_erasing`): v3's layout plus an op record per sample after the provenance
    /// records. A pipeline without them is written as `version`, byte for byte as before.
    public static let opsVersion: UInt16 = 4
    /// The versions this build reads.
    public static let readableVersions: ClosedRange<UInt16> = 1...4
    /// The first version whose source copy may be compressed and filtered (v2's is codec
    /// none, filter none).
    public static let compressedSourceVersion: UInt16 = 3
    public static let headerBytes = 64
    public static let indexEntryBytes = 32
    public static let footerBytes = 32
    /// Bytes of one provenance record in `version`.
    public static func provenanceBytes(version: UInt16) -> Int { version == 1 ? 12 : 32 }
    /// Bytes of one op record (v4, with provenance): two image-op records and the erasing record.
    public static let opRecordBytes = 176
    /// Bytes of one sample's op record in `version` when the shard has provenance (0 before v4).
    public static func opRecordBytes(version: UInt16) -> Int { version >= opsVersion ? opRecordBytes : 0 }
    /// Bytes of one sparse label record (v3, `labelType` 2): `classA u32, classB u32, weight f32`.
    public static let sparseLabelBytes = 12
    /// Bytes of one sample's label in a shard of `classCount` classes stored as `labelType`.
    public static func labelBytes(_ labelType: LabelType, classCount: Int) -> Int {
        labelType == .sparse ? sparseLabelBytes : 4 * classCount
    }
    /// The label type `mixprep` writes in `version`: sparse records in v3, dense rows before.
    public static func labelType(writtenIn version: UInt16) -> LabelType { version >= 3 ? .sparse : .float32 }
    /// `epoch` field value of a test-split (and source) shard.
    public static let testEpoch: UInt32 = 0xFFFF_FFFF
    /// Header flag bit 0: the payload carries provenance.
    public static let flagProvenance: UInt32 = 1
    /// Header flag bit 1 (v2): some samples are references to the source copy (needs bit 0).
    public static let flagReferences: UInt32 = 2
    /// The source copy inside a shard directory (relative path).
    public static let sourceFile = "source/train.mxs"
    /// Tolerance on a label row's sum, up to 1,673 classes.
    public static let labelSumTolerance: Float = 1e-4

    /// Tolerance on the binary32 sum of a row of `classCount` weights: 1e-4, or
    /// (K + 4)·2⁻²⁴ when larger (K ≥ 1,674). Summed left to right in binary32, a row that
    /// rule 12 gives is off by at most about that much (each of the K − 1 additions rounds
    /// by at most 2⁻²⁴ below 2, the weights' own rounding adds a few 2⁻²⁴): at K = 21,841
    /// and ε = 0.1 a true row sums to 1 − 2.4e-4 in binary32, which 1e-4 would refuse.
    public static func labelSumTolerance(classCount k: Int) -> Float {
        max(labelSumTolerance, Float(k + 4) * 0x1p-24)
    }

    /// The first of `samples` label rows of `classCount` weights that breaks the rules
    /// every reader checks — each weight a number in [0, 1] (so not NaN or infinite), the
    /// row summing to 1 within `labelSumTolerance(classCount:)` (summed in binary32, left
    /// to right) — as its sample (0-based) and the problem; nil when every row keeps them.
    public static func labelRowProblem(_ labels: [Float], samples n: Int, classCount k: Int) -> (sample: Int, text: String)? {
        let tolerance = labelSumTolerance(classCount: k)
        return labels.withUnsafeBufferPointer { labels in
            for s in 0..<n {
                var sum: Float = 0
                for j in 0..<k {
                    let w = labels[s * k + j]
                    guard w >= 0 && w <= 1 else {
                        return (s, "label weight \(Wording.float(w)) of class \(j) is not in [0, 1]")
                    }
                    sum += w
                }
                if !(abs(sum - 1) <= tolerance) { return (s, "label row sums to \(sum), not 1") }
            }
            return nil
        }
    }

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
    /// Label classes: what the header's u16 counts.
    public static let maxClasses = 65_535
    /// A chunk's payload before compression (256 MiB), and the dense float32 rows a
    /// chunk's labels expand to (`n·4·K`), which readers yield. Full CIFAR-10 chunks of
    /// `maxSamplesPerChunk` samples with provenance take 205 MB.
    public static let maxChunkRawBytes = 1 << 28

    /// Why a shard of this shape and chunking cannot be written within the
    /// format limits, naming the pipeline key or source property; nil when it can.
    /// `samplesPerShard` caps the samples a chunk actually holds.
    public static func limitProblem(shape: SampleShape, samplesPerChunk: Int, samplesPerShard: Int, provenance: Bool,
                                    version: UInt16 = MixShardLayout.version, labelType: LabelType? = nil) -> String? {
        if !(1...maxSamplesPerChunk).contains(samplesPerChunk) {
            return "shards.samples_per_chunk must be \(Wording.range(1, maxSamplesPerChunk)) (got \(samplesPerChunk))"
        }
        if !(1...maxChannels).contains(shape.channels) { return "images have \(shape.channels) channels; the format allows \(Wording.range(1, maxChannels))" }
        if !(1...maxSide).contains(shape.height) || !(1...maxSide).contains(shape.width) {
            return "images are \(shape.width)×\(shape.height) (width×height); the format allows sides \(Wording.range(1, maxSide))"
        }
        if !(1...maxClasses).contains(shape.classCount) { return "\(shape.classCount) classes; the format allows \(Wording.range(1, maxClasses))" }
        let perChunk = min(samplesPerChunk, max(samplesPerShard, 1))
        let labels = labelType ?? self.labelType(writtenIn: version)
        let perSample = shape.imageBytes + labelBytes(labels, classCount: shape.classCount)
            + (provenance ? provenanceBytes(version: version) + opRecordBytes(version: version) : 0)
        let (raw, overflow) = perChunk.multipliedReportingOverflow(by: perSample)
        if overflow || raw > maxChunkRawBytes {
            return "shards.samples_per_chunk = \(samplesPerChunk): a chunk of \(perChunk) samples of \(perSample) bytes exceeds "
                + "the format's \(maxChunkRawBytes >> 20) MiB per chunk; use at most \(maxChunkRawBytes / perSample) samples per chunk"
        }
        // Sparse records are small, but readers yield the dense rows they stand for.
        if perChunk * 4 * shape.classCount > maxChunkRawBytes {
            return "shards.samples_per_chunk = \(samplesPerChunk): the label rows of a chunk of \(perChunk) samples of "
                + "\(Wording.grouped(shape.classCount)) classes take \(perChunk * 4 * shape.classCount) bytes as float32, beyond the format's "
                + "\(maxChunkRawBytes >> 20) MiB per chunk; use at most \(maxChunkRawBytes / (4 * shape.classCount)) samples per chunk"
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
        /// v3: the label smoothing ε (f32) of sparse labels; reserved (zero) in v1 and v2.
        static let labelSmoothing = 56
        static let crc = 60
    }

    /// Index entry field offsets (within an entry).
    enum Index {
        static let offset = 0, storedBytes = 8, rawBytes = 12, firstSample = 16
        static let sampleCount = 20, rawCRC = 24
        /// v2: samples of the chunk whose pixels are stored (the others are references); v1: reserved, 0.
        static let imageCount = 28
    }

    /// Provenance record field offsets (v2, 32 bytes).
    enum Record {
        static let primary = 0, partner = 4, lambda = 8, kind = 12, flags = 13, reserved = 14
        static let primaryDX = 16, primaryDY = 18, partnerDX = 20, partnerDY = 22
        static let boxX0 = 24, boxY0 = 26, boxX1 = 28, boxY1 = 30
        /// `flags` bits.
        static let primaryFlip: UInt8 = 1, partnerFlip: UInt8 = 2, reference: UInt8 = 4
    }

    /// Op record field offsets (v4, 176 bytes per sample, after the chunk's provenance records):
    /// the primary's image ops at 0, the partner's at `partner`, the erasing record at `erasing`.
    enum Ops {
        static let primary = 0, partner = 80, erasing = 160
        /// Within an image-op record (80 bytes): the op count, flags, the resized crop's box,
        /// then `ImageOps.maxOps` slots of 8 bytes `{id u8, reserved u8×3, magnitude f32}`.
        static let count = 0, flags = 1, reserved = 2, cropTop = 4, cropLeft = 6, cropHeight = 8, cropWidth = 10
        static let reserved2 = 12, slots = 16, slotBytes = 8, slotMagnitude = 4
        static let imageBytes = 80
        /// `flags` bit: the resized crop's box is set.
        static let resizedCrop: UInt8 = 1
        /// Within the erasing record (16 bytes): fill (0 none, 1 zero, 2 random), the box, reserved.
        static let fill = 0, eraseReserved = 1, eraseTop = 4, eraseLeft = 6, eraseHeight = 8, eraseWidth = 10, eraseReserved2 = 12
    }

    /// Sparse label record field offsets (v3, `labelType` 2, 12 bytes).
    enum SparseLabel {
        static let classA = 0, classB = 4, weight = 8
    }

    /// Footer field offsets.
    enum Footer {
        static let indexOffset = 0, chunkCount = 8, indexCRC = 12, sampleCount = 16
        static let reserved = 20, magic = 24
    }
}

/// Pixel storage (header byte 36).
public enum PixelType: UInt8, Sendable { case uint8 = 0 }

/// Label storage (header byte 37): dense float32 rows (v1, v2; still read in v3), or
/// sparse records (v3 only) of what each row is made of. float16 is reserved.
public enum LabelType: UInt8, Sendable {
    case float32 = 0, float16 = 1
    /// v3: `{classA u32, classB u32, weight f32}` per sample, ε in the header (`LabelRecord`).
    case sparse = 2
}

/// Payload compression (header byte 38).
public enum Codec: UInt8, Sendable, CaseIterable { case none = 0, zlib = 1 }

/// Image filter applied before compression (header byte 39).
public enum ImageFilter: UInt8, Sendable, CaseIterable {
    case none = 0
    /// Within each row of each plane, byte[x] − byte[x−1] mod 256; first byte kept.
    case delta = 1
}

/// Which split a shard holds (header byte 40).
public enum Split: UInt8, Sendable {
    case train = 0, test = 1
    /// v2: the source copy that reference samples point into (`source/train.mxs`).
    case source = 2
}

/// The 64-byte header, decoded.
public struct ShardHeader: Equatable, Sendable {
    /// Format version: 3 is written; 1 and 2 are still read.
    public var version: UInt16 = MixShardLayout.version
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
    /// v3: the label smoothing ε that sparse records expand with (binary32, in [0, 1]);
    /// 0 with dense labels, and in v1 and v2 (whose header has reserved bytes there).
    public var labelSmoothing: Float = 0
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
    /// Whether some samples are references to the source copy (v2).
    public var hasReferences: Bool { flags & MixShardLayout.flagReferences != 0 }
    /// Bytes of one provenance record (0 without provenance).
    public var provenanceBytes: Int { hasProvenance ? MixShardLayout.provenanceBytes(version: version) : 0 }
    /// Bytes of one op record (v4 with provenance; else 0).
    public var opRecordBytes: Int { hasProvenance ? MixShardLayout.opRecordBytes(version: version) : 0 }
    /// Bytes of one image (C·H·W); at most 65535³, so never overflows an Int.
    public var imageBytes: Int { Int(channels) * Int(height) * Int(width) }
    /// Bytes of one sample's label: a sparse record (12) or a dense row (4·K).
    public var labelBytes: Int { MixShardLayout.labelBytes(labelType, classCount: Int(classCount)) }
    /// Raw payload bytes of one sample with its pixels (image, label, provenance); never overflows.
    public var sampleBytes: Int { imageBytes + labelBytes + provenanceBytes + opRecordBytes }
    /// Raw payload bytes of `n` samples of which `images` store pixels (default: all), nil when it overflows.
    public func checkedRawBytes(samples n: Int, images: Int? = nil) -> Int? {
        let m = images ?? n
        guard n >= 0, m >= 0, m <= n else { return nil }
        let (a, o1) = m.multipliedReportingOverflow(by: imageBytes)
        let (b, o2) = n.multipliedReportingOverflow(by: labelBytes + provenanceBytes + opRecordBytes)
        let (v, o3) = a.addingReportingOverflow(b)
        return o1 || o2 || o3 ? nil : v
    }
    /// Raw payload bytes of `n` samples (of which `images` store pixels) of a header
    /// within the format limits (the writer's, or one `decode` accepted).
    public func rawBytes(samples n: Int, images: Int? = nil) -> Int {
        guard let v = checkedRawBytes(samples: n, images: images) else { preconditionFailure("rawBytes of \(n) samples overflows") }
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
    /// v2: samples whose pixels the chunk stores (the rest are references). Written 0 in v1.
    public var imageCount: UInt32

    public init(offset: UInt64, storedBytes: UInt32, rawBytes: UInt32, firstSample: UInt32, sampleCount: UInt32, rawCRC: UInt32,
                imageCount: UInt32) {
        self.offset = offset
        self.storedBytes = storedBytes
        self.rawBytes = rawBytes
        self.firstSample = firstSample
        self.sampleCount = sampleCount
        self.rawCRC = rawCRC
        self.imageCount = imageCount
    }
}

/// The 32-byte footer.
public struct ShardFooter: Equatable, Sendable {
    public var indexOffset: UInt64
    public var chunkCount: UInt32
    public var indexCRC: UInt32
    public var sampleCount: UInt32
}

/// How a sample's pixels were made from its primary and partner (v2 provenance `kind`).
public enum MixKind: UInt8, Sendable {
    /// The primary under its transform (unmixed): partner = primary, λ = 1.
    case copy = 0
    /// round(λ·a + (1−λ)·b) of the transformed primary a and partner b.
    case blend = 1
    /// The transformed primary with `box` pasted from the transformed partner.
    case cutmix = 2
}

/// A CutMix box `[x0, x1) × [y0, y1)`, in pixels.
public struct CutBox: Equatable, Sendable {
    public var x0: UInt16, y0: UInt16, x1: UInt16, y1: UInt16

    public init(x0: UInt16, y0: UInt16, x1: UInt16, y1: UInt16) {
        self.x0 = x0
        self.y0 = y0
        self.x1 = x1
        self.y1 = y1
    }

    public static let empty = CutBox(x0: 0, y0: 0, x1: 0, y1: 0)
    public var area: Int { (Int(x1) - Int(x0)) * (Int(y1) - Int(y0)) }
}

/// Where a sample came from, enough to recompute every pixel from the source:
/// positions in the source split, the weight of the primary, how they were
/// combined and the geometric transform of each (v2; v1 records only the first
/// three, and its `kind` is inferred: copy when unmixed, else blend).
/// An unmixed sample has `partner == primary`, `lambda == 1`, kind copy and
/// equal transforms.
public struct Provenance: Equatable, Sendable {
    public var primary: UInt32
    public var partner: UInt32
    public var lambda: Float
    public var kind: MixKind
    public var primaryTransform: ImageTransform
    public var partnerTransform: ImageTransform
    /// The CutMix box (kind cutmix), else empty.
    public var box: CutBox
    /// Stored as a reference (no pixels in the chunk): kind copy only.
    public var isReference: Bool
    /// v4: the primary's ops before mixing (after the resized crop, its transform), `.none` before v4.
    public var primaryOps: ImageOps = .none
    /// v4: the partner's ops (= `primaryOps` for a copy).
    public var partnerOps: ImageOps = .none
    /// v4: random erasing of the sample's final pixels.
    public var erasing: Erasing = .none

    /// Whether the record has any v4 op (which only a v4 shard can store).
    public var hasOps: Bool { primaryOps != .none || partnerOps != .none || !erasing.isNone }

    public init(primary: UInt32, partner: UInt32, lambda: Float, kind: MixKind? = nil,
                primaryTransform: ImageTransform = .identity, partnerTransform: ImageTransform? = nil,
                box: CutBox = .empty, isReference: Bool = false) {
        self.primary = primary
        self.partner = partner
        self.lambda = lambda
        self.kind = kind ?? (primary == partner && lambda == 1 ? .copy : .blend)
        self.primaryTransform = primaryTransform
        self.partnerTransform = partnerTransform ?? primaryTransform
        self.box = box
        self.isReference = isReference
    }

    /// Whether the sample is not a plain copy of its primary.
    public var isMixed: Bool { kind != .copy }
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
        b.putLE(version, at: H.version)
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
        b.putLE(labelSmoothing.bitPattern, at: H.labelSmoothing)
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
        guard MixShardLayout.readableVersions.contains(version) else {
            throw fail("header: unsupported version \(version) (this reader knows versions "
                       + "\(Wording.range(Int(MixShardLayout.readableVersions.lowerBound), Int(MixShardLayout.readableVersions.upperBound))))")
        }
        let stored = b.le(UInt32.self, at: H.crc)
        let computed = Zlib.crc32(UnsafeRawBufferPointer(rebasing: b[0..<H.crc]))
        guard stored == computed else {
            throw fail("header: CRC mismatch (stored \(hex(stored)), computed \(hex(computed)))")
        }
        let headerBytes = b.le(UInt16.self, at: H.headerBytes)
        guard Int(headerBytes) == MixShardLayout.headerBytes else { throw fail("header: headerBytes is \(headerBytes), expected 64") }
        guard let pixelType = PixelType(rawValue: b[H.pixelType]) else { throw fail("header: unknown pixelType \(b[H.pixelType])") }
        // Dense float32 rows in every version, sparse records in v3 only; float16 is reserved.
        guard let labelType = LabelType(rawValue: b[H.labelType]), labelType == .float32 || (labelType == .sparse && version >= 3) else {
            throw fail("header: unsupported labelType \(b[H.labelType])"
                       + (b[H.labelType] == LabelType.float16.rawValue ? " (float16, reserved)"
                          : b[H.labelType] == LabelType.sparse.rawValue ? " (sparse, MixShard v3 only; this file is v\(version))" : ""))
        }
        let smoothingBits = b.le(UInt32.self, at: H.labelSmoothing)
        let smoothing = Float(bitPattern: smoothingBits)
        if version < 3 {
            guard smoothingBits == 0 else { throw fail("header: reserved bytes 56..<60 are not zero (v\(version))") }
        } else if labelType == .sparse {
            // Sign bit clear: −0 is not what a writer of ε ∈ [0, 1] writes.
            guard smoothing >= 0 && smoothing <= 1 && smoothingBits >> 31 == 0 else {
                throw fail("header: labelSmoothing \(Wording.float(smoothing)) is not a number from 0 to 1")
            }
        } else {
            guard smoothingBits == 0 else {
                throw fail("header: labelSmoothing \(Wording.float(smoothing)) with dense labels (must be 0: dense rows hold their smoothing)")
            }
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
        h.version = version
        h.pixelType = pixelType
        h.labelType = labelType
        h.labelSmoothing = smoothing
        let knownFlags = version == 1 ? MixShardLayout.flagProvenance : MixShardLayout.flagProvenance | MixShardLayout.flagReferences
        guard h.flags & ~knownFlags == 0 else { throw fail("header: unknown flags \(hex(h.flags))") }
        guard !h.hasReferences || h.hasProvenance else { throw fail("header: references flag without provenance") }
        guard version >= 2 || split != .source else { throw fail("header: unknown split \(split.rawValue)") }
        guard h.channels > 0, h.height > 0, h.width > 0, h.classCount > 0 else {
            throw fail("header: zero image dimension or class count")
        }
        guard h.samplesPerChunk > 0 || h.sampleCount == 0 else { throw fail("header: samplesPerChunk is 0") }
        typealias L = MixShardLayout
        guard h.samplesPerChunk <= L.maxSamplesPerChunk else {
            throw fail("header: samplesPerChunk \(h.samplesPerChunk) exceeds the format limit \(L.maxSamplesPerChunk)")
        }
        guard Int(h.channels) <= L.maxChannels, Int(h.height) <= L.maxSide, Int(h.width) <= L.maxSide else {
            throw fail("header: image shape \(Wording.image(channels: Int(h.channels), height: Int(h.height), width: Int(h.width))) exceeds the format limits "
                       + "(at most \(L.maxChannels) channels and sides of \(Wording.grouped(L.maxSide)))")
        }
        guard Int(h.classCount) <= L.maxClasses else {
            throw fail("header: classCount \(h.classCount) exceeds the format limit \(L.maxClasses)")
        }
        let perChunk = min(Int(h.samplesPerChunk), Int(h.sampleCount))
        guard let raw = h.checkedRawBytes(samples: perChunk), raw <= L.maxChunkRawBytes else {
            throw fail("header: chunks of \(perChunk) samples of \(h.sampleBytes) bytes exceed the format's "
                       + "\(L.maxChunkRawBytes >> 20) MiB per chunk")
        }
        // Readers yield dense rows: what sparse records expand to is bounded too (65,536 × 4 × 65,535 fits an Int).
        guard perChunk * 4 * Int(h.classCount) <= L.maxChunkRawBytes else {
            throw fail("header: chunks of \(perChunk) samples expand to label rows of \(perChunk * 4 * Int(h.classCount)) bytes "
                       + "(\(Wording.grouped(Int(h.classCount))) classes), beyond the format's \(L.maxChunkRawBytes >> 20) MiB per chunk")
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
        b.putLE(imageCount, at: base + I.imageCount)
    }

    static func read(_ b: UnsafeRawBufferPointer, at base: Int) -> ChunkIndexEntry {
        typealias I = MixShardLayout.Index
        return ChunkIndexEntry(
            offset: b.le(UInt64.self, at: base + I.offset), storedBytes: b.le(UInt32.self, at: base + I.storedBytes),
            rawBytes: b.le(UInt32.self, at: base + I.rawBytes), firstSample: b.le(UInt32.self, at: base + I.firstSample),
            sampleCount: b.le(UInt32.self, at: base + I.sampleCount), rawCRC: b.le(UInt32.self, at: base + I.rawCRC),
            imageCount: b.le(UInt32.self, at: base + I.imageCount))
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

extension Provenance {
    /// Writes the record (`MixShardLayout.provenanceBytes(version:)` bytes) at `at`.
    public func write(into buf: UnsafeMutableRawBufferPointer, at: Int, version: UInt16) {
        typealias R = MixShardLayout.Record
        buf.storeBytes(of: primary.littleEndian, toByteOffset: at + R.primary, as: UInt32.self)
        buf.storeBytes(of: partner.littleEndian, toByteOffset: at + R.partner, as: UInt32.self)
        buf.storeBytes(of: lambda.bitPattern.littleEndian, toByteOffset: at + R.lambda, as: UInt32.self)
        guard version >= 2 else { return }
        var flags: UInt8 = 0
        if primaryTransform.flip { flags |= R.primaryFlip }
        if partnerTransform.flip { flags |= R.partnerFlip }
        if isReference { flags |= R.reference }
        buf[at + R.kind] = kind.rawValue
        buf[at + R.flags] = flags
        buf.storeBytes(of: UInt16(0), toByteOffset: at + R.reserved, as: UInt16.self)
        buf.storeBytes(of: primaryTransform.dx.littleEndian, toByteOffset: at + R.primaryDX, as: Int16.self)
        buf.storeBytes(of: primaryTransform.dy.littleEndian, toByteOffset: at + R.primaryDY, as: Int16.self)
        buf.storeBytes(of: partnerTransform.dx.littleEndian, toByteOffset: at + R.partnerDX, as: Int16.self)
        buf.storeBytes(of: partnerTransform.dy.littleEndian, toByteOffset: at + R.partnerDY, as: Int16.self)
        buf.storeBytes(of: box.x0.littleEndian, toByteOffset: at + R.boxX0, as: UInt16.self)
        buf.storeBytes(of: box.y0.littleEndian, toByteOffset: at + R.boxY0, as: UInt16.self)
        buf.storeBytes(of: box.x1.littleEndian, toByteOffset: at + R.boxX1, as: UInt16.self)
        buf.storeBytes(of: box.y1.littleEndian, toByteOffset: at + R.boxY1, as: UInt16.self)
    }

    /// Reads and checks the record at `at`; `fail` builds the error (it knows file, chunk and sample).
    static func read(_ b: UnsafeRawBufferPointer, at: Int, header h: ShardHeader, fail: (String) -> Error) throws -> Provenance {
        typealias R = MixShardLayout.Record
        let primary = b.le(UInt32.self, at: at + R.primary)
        let partner = b.le(UInt32.self, at: at + R.partner)
        let lambda = Float(bitPattern: b.le(UInt32.self, at: at + R.lambda))
        guard h.version >= 2 else {
            // v1 records carry no kind or transforms, but their λ is a weight all the same (statistics bin it).
            guard lambda >= 0 && lambda <= 1 else { throw fail("provenance: lambda \(lambda) is not in [0, 1]") }
            return Provenance(primary: primary, partner: partner, lambda: lambda)
        }
        guard let kind = MixKind(rawValue: b[at + R.kind]) else { throw fail("provenance kind \(b[at + R.kind]) is unknown") }
        let flags = b[at + R.flags]
        guard flags & ~(R.primaryFlip | R.partnerFlip | R.reference) == 0, b.le(UInt16.self, at: at + R.reserved) == 0 else {
            throw fail("provenance has unknown flags \(flags) or non-zero reserved bytes")
        }
        let p = Provenance(
            primary: primary, partner: partner, lambda: lambda, kind: kind,
            primaryTransform: ImageTransform(dx: b.le(Int16.self, at: at + R.primaryDX), dy: b.le(Int16.self, at: at + R.primaryDY),
                                             flip: flags & R.primaryFlip != 0),
            partnerTransform: ImageTransform(dx: b.le(Int16.self, at: at + R.partnerDX), dy: b.le(Int16.self, at: at + R.partnerDY),
                                             flip: flags & R.partnerFlip != 0),
            box: CutBox(x0: b.le(UInt16.self, at: at + R.boxX0), y0: b.le(UInt16.self, at: at + R.boxY0),
                        x1: b.le(UInt16.self, at: at + R.boxX1), y1: b.le(UInt16.self, at: at + R.boxY1)),
            isReference: flags & R.reference != 0)
        if let problem = p.problem(height: Int(h.height), width: Int(h.width)) { throw fail("provenance: \(problem)") }
        if p.isReference && !h.hasReferences { throw fail("provenance: a reference in a shard without the references flag") }
        return p
    }

    /// What is inconsistent in a v2 record for images of this size; nil when it is consistent.
    public func problem(height: Int, width: Int) -> String? {
        for t in [primaryTransform, partnerTransform] where abs(Int(t.dx)) >= width || abs(Int(t.dy)) >= height {
            return "shift (\(t.dx), \(t.dy)) is not within the \(width)×\(height) image"
        }
        if !(lambda >= 0 && lambda <= 1) { return "lambda \(lambda) is not in [0, 1]" }
        switch kind {
        case .copy:
            if partner != primary || lambda != 1 || partnerTransform != primaryTransform {
                return "a copy must have partner = primary, lambda 1 and one transform"
            }
        case .blend:
            if box != .empty { return "a blend has a cutmix box" }
        case .cutmix:
            if !(box.x0 <= box.x1 && Int(box.x1) <= width && box.y0 <= box.y1 && Int(box.y1) <= height) {
                return "cutmix box [\(box.x0), \(box.x1)) × [\(box.y0), \(box.y1)) is not within the \(width)×\(height) image"
            }
        }
        if isReference && kind != .copy { return "only an unmixed sample can be a reference" }
        return nil
    }
}

func hex(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - s.count) + s
}
