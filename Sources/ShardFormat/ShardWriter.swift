import MixCore
import ZlibKit

/// How a shard is stored: everything the header records about encoding.
public struct ShardEncoding: Sendable, Equatable {
    public var codec: Codec
    /// zlib level 1...9 (ignored for `.none`).
    public var level: Int
    /// deflate strategy (an encoder choice: readers need not know it).
    public var strategy: DeflateStrategy
    public var filter: ImageFilter
    public var samplesPerChunk: Int
    public var provenance: Bool
    /// Format version to write: 3 (default), 2 for readers that predate v3 (dense label
    /// rows: sparse labels are expanded; a v2 source copy is uncompressed), or 1 for
    /// readers that predate v2 (no transforms, boxes or references can be recorded in v1).
    public var version: UInt16 = MixShardLayout.version

    public init(codec: Codec = .zlib, level: Int = 1, strategy: DeflateStrategy = .rle, filter: ImageFilter = .delta,
                samplesPerChunk: Int = 256, provenance: Bool = true) {
        self.codec = codec
        self.level = level
        self.strategy = strategy
        self.filter = filter
        self.samplesPerChunk = samplesPerChunk
        self.provenance = provenance
    }
}

/// The shape of the samples in a shard.
public struct SampleShape: Sendable, Equatable, Codable {
    public var channels: Int
    public var height: Int
    public var width: Int
    public var classCount: Int

    public init(channels: Int, height: Int, width: Int, classCount: Int) {
        self.channels = channels
        self.height = height
        self.width = width
        self.classCount = classCount
    }

    public var imageBytes: Int { channels * height * width }
}

/// Samples in memory: images `n × C × H × W` bytes (every sample's pixels, references
/// included), labels (`n × K` dense floats, or `n` sparse records and ε), provenance `n`
/// entries (or empty). The writer leaves out the pixels of samples whose provenance is a
/// reference, and writes sparse labels as records in v3, expanded to rows before.
public struct SampleBlock: Sendable, Equatable {
    public var shape: SampleShape
    public var images: [UInt8]
    public var labels: SampleLabels
    public var provenance: [Provenance]

    /// A block with dense label rows (`n × K` floats).
    public init(shape: SampleShape, images: [UInt8] = [], labels: [Float] = [], provenance: [Provenance] = []) {
        self.init(shape: shape, images: images, labels: .dense(labels), provenance: provenance)
    }

    public init(shape: SampleShape, images: [UInt8], labels: SampleLabels, provenance: [Provenance] = []) {
        self.shape = shape
        self.images = images
        self.labels = labels
        self.provenance = provenance
    }

    public var count: Int { labels.count(classCount: shape.classCount) }

    /// The dense label rows (`n × K` floats) readers yield: as stored, or the sparse records expanded.
    public var rows: [Float] { labels.rows(classCount: shape.classCount) }
}

/// Encodes MixShard files (v3; v2 and v1 on request).
public enum ShardWriter {
    /// The complete bytes of a shard holding `block`.
    /// - Parameters:
    ///   - split, epoch, shardIndex: recorded in the header (`epoch` is forced to 0xFFFFFFFF for test).
    public static func encode(_ block: SampleBlock, encoding: ShardEncoding, split: Split, epoch: UInt32, shardIndex: UInt32) -> [UInt8] {
        let shape = block.shape
        let n = block.count
        precondition(block.images.count == n * shape.imageBytes, "images and labels disagree on the sample count")
        precondition(!encoding.provenance || block.provenance.count == n, "provenance missing")
        let (labels, labelType, smoothing) = storedLabels(block, version: encoding.version)
        precondition(MixShardLayout.limitProblem(shape: shape, samplesPerChunk: encoding.samplesPerChunk, samplesPerShard: n,
                                                 provenance: encoding.provenance, version: encoding.version, labelType: labelType) == nil,
                     "shard beyond the format limits (mixprep checks them first)")
        let references = encoding.provenance && block.provenance.contains(where: \.isReference)
        precondition(encoding.version >= 2 || (!references && split != .source && block.provenance.allSatisfy {
            $0.primaryTransform.isIdentity && $0.partnerTransform.isIdentity && $0.kind != .cutmix
        }), "v1 cannot record transforms, cutmix boxes, references or a source copy")
        precondition(split != .source || encoding.version >= MixShardLayout.compressedSourceVersion
                     || (encoding.codec == .none && encoding.filter == .none), "a v2 source copy is uncompressed and unfiltered")
        precondition(encoding.version >= MixShardLayout.opsVersion || !block.provenance.contains(where: \.hasOps),
                     "only v4 records augment ops")
        let header = makeHeader(shape: shape, encoding: encoding, samples: n, references: references,
                                split: split, epoch: epoch, shardIndex: shardIndex, labelType: labelType, smoothing: smoothing)
        let perChunk = encoding.samplesPerChunk
        let chunkCount = Int(header.chunkCount)
        var out = header.encoded()
        out.reserveCapacity(MixShardLayout.headerBytes + header.rawBytes(samples: n) + 32 * chunkCount + 64)
        var entries: [ChunkIndexEntry] = []
        entries.reserveCapacity(chunkCount)
        var payload = [UInt8](repeating: 0, count: header.rawBytes(samples: min(n, perChunk)))
        let deflater = encoding.codec == .zlib ? Zlib.Deflater(level: encoding.level, strategy: encoding.strategy) : nil
        for c in 0..<chunkCount {
            let first = c * perChunk
            let chunk = encodeChunk(block, labels: labels, first: first, count: min(perChunk, n - first), firstSample: first,
                                    header: header, encoding: encoding, deflater: deflater, payload: &payload, offset: out.count)
            out.append(contentsOf: chunk.bytes)
            entries.append(chunk.entry)
        }
        out.append(contentsOf: tail(entries, indexOffset: out.count, samples: n))
        return out
    }

    /// The labels of `block` as a shard of `version` stores them, with the header's label
    /// type and smoothing: v3 stores sparse labels as records (and dense ones as rows);
    /// v1 and v2 store rows, so sparse labels are expanded.
    static func storedLabels(_ block: SampleBlock, version: UInt16) -> (labels: SampleLabels, type: LabelType, smoothing: Float) {
        guard case .sparse(let records, let epsilon) = block.labels else { return (block.labels, .float32, 0) }
        let k = block.shape.classCount
        precondition(records.allSatisfy { Int($0.classA) < k && Int($0.classB) < k }, "a sparse label names a class beyond the shape's")
        return version >= 3 ? (block.labels, .sparse, epsilon) : (.dense(block.rows), .float32, 0)
    }

    /// The header of a shard of `samples` samples.
    static func makeHeader(shape: SampleShape, encoding: ShardEncoding, samples n: Int, references: Bool,
                           split: Split, epoch: UInt32, shardIndex: UInt32, labelType: LabelType, smoothing: Float) -> ShardHeader {
        let perChunk = encoding.samplesPerChunk
        var flags: UInt32 = encoding.provenance ? MixShardLayout.flagProvenance : 0
        if references { flags |= MixShardLayout.flagReferences }
        var header = ShardHeader(
            flags: flags, sampleCount: UInt32(n),
            chunkCount: UInt32((n + perChunk - 1) / perChunk), samplesPerChunk: UInt32(perChunk),
            channels: UInt16(shape.channels), height: UInt16(shape.height), width: UInt16(shape.width),
            classCount: UInt16(shape.classCount), codec: encoding.codec, imageFilter: encoding.filter,
            split: split, epoch: split == .train ? epoch : MixShardLayout.testEpoch, shardIndex: shardIndex)
        header.version = encoding.version
        header.labelType = labelType
        header.labelSmoothing = smoothing
        return header
    }

    /// One chunk: samples `first ..< first + count` of `block`, which are samples
    /// `firstSample …` of the shard, stored at file offset `offset`; its stored bytes
    /// and index entry. `payload` is scratch of at least a full chunk's raw bytes;
    /// `deflater`, when given, compresses zlib chunks (reused across a shard's many
    /// small streams; the bytes are `Zlib.compress`'s either way).
    static func encodeChunk(_ block: SampleBlock, labels: SampleLabels, first: Int, count: Int, firstSample: Int, header: ShardHeader,
                            encoding: ShardEncoding, deflater: Zlib.Deflater? = nil, payload: inout [UInt8], offset: Int) -> (bytes: [UInt8], entry: ChunkIndexEntry) {
        let stored = header.hasReferences ? block.provenance[first..<(first + count)].filter { !$0.isReference }.count : count
        let raw = header.rawBytes(samples: count, images: stored)
        let crc = payload.withUnsafeMutableBytes { buf in
            fillPayload(buf, block: block, labels: labels, first: first, count: count, header: header)
        }
        let bytes: [UInt8] = payload.withUnsafeBytes { buf in
            let region = UnsafeRawBufferPointer(rebasing: buf[0..<raw])
            switch encoding.codec {
            case .none: return Array(region)
            case .zlib:
                if let deflater { return deflater.compress(region) }
                return Zlib.compress(region, level: encoding.level, strategy: encoding.strategy)
            }
        }
        let entry = ChunkIndexEntry(offset: UInt64(offset), storedBytes: UInt32(bytes.count), rawBytes: UInt32(raw),
                                    firstSample: UInt32(firstSample), sampleCount: UInt32(count), rawCRC: crc,
                                    imageCount: header.version == 1 ? 0 : UInt32(stored))
        return (bytes, entry)
    }

    /// The index and footer of a shard whose chunks end at `indexOffset`.
    static func tail(_ entries: [ChunkIndexEntry], indexOffset: Int, samples n: Int) -> [UInt8] {
        var index = [UInt8](repeating: 0, count: MixShardLayout.indexEntryBytes * entries.count)
        for (i, e) in entries.enumerated() { e.write(into: &index, at: i * MixShardLayout.indexEntryBytes) }
        let footer = ShardFooter(indexOffset: UInt64(indexOffset), chunkCount: UInt32(entries.count),
                                 indexCRC: Zlib.crc32(index), sampleCount: UInt32(n))
        return index + footer.encoded()
    }

    /// Lays out one chunk's payload (filtered images of the samples that are not
    /// references, labels, provenance) in `buf`; returns the CRC-32 of the unfiltered payload.
    static func fillPayload(_ buf: UnsafeMutableRawBufferPointer, block: SampleBlock, labels: SampleLabels,
                            first: Int, count: Int, header: ShardHeader) -> UInt32 {
        let shape = block.shape
        let imageBytes = shape.imageBytes
        let dst = buf.baseAddress!.assumingMemoryBound(to: UInt8.self)
        // Gather the stored images (all of them unless some samples are references), filtered on
        // the way: the rawCRC runs over each unfiltered image where it lies, chained image by image.
        var imageRegion = 0
        var crc: UInt32 = 0
        let delta = header.imageFilter == .delta
        block.images.withUnsafeBufferPointer { images in
            for s in first..<(first + count) where !(header.hasReferences && block.provenance[s].isReference) {
                let src = images.baseAddress! + s * imageBytes
                crc = Zlib.crc32(UnsafeRawBufferPointer(start: src, count: imageBytes), seed: crc)
                if delta {
                    ImageFilter.deltaEncode(src, into: dst + imageRegion, count: imageBytes, width: shape.width)
                } else {
                    (dst + imageRegion).update(from: src, count: imageBytes)
                }
                imageRegion += imageBytes
            }
        }
        var at = imageRegion
        let k = shape.classCount
        switch labels {
        case .dense(let rows):
            for v in rows[(first * k)..<((first + count) * k)] {
                buf.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: at, as: UInt32.self)
                at += 4
            }
        case .sparse(let records, _):
            for r in records[first..<(first + count)] {
                r.write(into: buf, at: at)
                at += MixShardLayout.sparseLabelBytes
            }
        }
        if header.hasProvenance {
            let size = header.provenanceBytes
            for p in block.provenance[first..<(first + count)] {
                p.write(into: buf, at: at, version: header.version)
                at += size
            }
            // v4: the op records, after the provenance records.
            if header.opRecordBytes > 0 {
                for p in block.provenance[first..<(first + count)] {
                    p.writeOps(into: buf, at: at)
                    at += header.opRecordBytes
                }
            }
        }
        return Zlib.crc32(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buf)[imageRegion..<at]), seed: crc)
    }
}
