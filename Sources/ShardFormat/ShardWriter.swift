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
    /// Format version to write: 3 (default), 2 for readers that predate v3 (a v2 source
    /// copy is uncompressed), or 1 for readers that predate v2 (no transforms, boxes or
    /// references can be recorded in v1).
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
/// included), labels `n × K` floats, provenance `n` entries (or empty). The writer
/// leaves out the pixels of samples whose provenance is a reference.
public struct SampleBlock: Sendable, Equatable {
    public var shape: SampleShape
    public var images: [UInt8]
    public var labels: [Float]
    public var provenance: [Provenance]

    public init(shape: SampleShape, images: [UInt8] = [], labels: [Float] = [], provenance: [Provenance] = []) {
        self.shape = shape
        self.images = images
        self.labels = labels
        self.provenance = provenance
    }

    public var count: Int { shape.classCount == 0 ? 0 : labels.count / shape.classCount }

    /// Reserves room for `n` samples.
    public mutating func reserve(_ n: Int) {
        images.reserveCapacity(n * shape.imageBytes)
        labels.reserveCapacity(n * shape.classCount)
        provenance.reserveCapacity(n)
    }
}

/// Encodes MixShard files (v3; v1 and v2 on request).
public enum ShardWriter {
    /// The complete bytes of a shard holding `block`.
    /// - Parameters:
    ///   - split, epoch, shardIndex: recorded in the header (`epoch` is forced to 0xFFFFFFFF for test).
    public static func encode(_ block: SampleBlock, encoding: ShardEncoding, split: Split, epoch: UInt32, shardIndex: UInt32) -> [UInt8] {
        let shape = block.shape
        let n = block.count
        precondition(block.images.count == n * shape.imageBytes, "images and labels disagree on the sample count")
        precondition(!encoding.provenance || block.provenance.count == n, "provenance missing")
        precondition(MixShardLayout.limitProblem(shape: shape, samplesPerChunk: encoding.samplesPerChunk, samplesPerShard: n,
                                                 provenance: encoding.provenance, version: encoding.version) == nil,
                     "shard beyond the format limits (mixprep checks them first)")
        let references = encoding.provenance && block.provenance.contains(where: \.isReference)
        precondition(encoding.version >= 2 || (!references && split != .source && block.provenance.allSatisfy {
            $0.primaryTransform.isIdentity && $0.partnerTransform.isIdentity && $0.kind != .cutmix
        }), "v1 cannot record transforms, cutmix boxes, references or a source copy")
        precondition(split != .source || encoding.version >= MixShardLayout.compressedSourceVersion
                     || (encoding.codec == .none && encoding.filter == .none), "a v2 source copy is uncompressed and unfiltered")
        let perChunk = encoding.samplesPerChunk
        let chunkCount = (n + perChunk - 1) / perChunk
        var flags: UInt32 = encoding.provenance ? MixShardLayout.flagProvenance : 0
        if references { flags |= MixShardLayout.flagReferences }
        var header = ShardHeader(
            flags: flags, sampleCount: UInt32(n),
            chunkCount: UInt32(chunkCount), samplesPerChunk: UInt32(perChunk),
            channels: UInt16(shape.channels), height: UInt16(shape.height), width: UInt16(shape.width),
            classCount: UInt16(shape.classCount), codec: encoding.codec, imageFilter: encoding.filter,
            split: split, epoch: split == .train ? epoch : MixShardLayout.testEpoch, shardIndex: shardIndex)
        header.version = encoding.version

        var out = header.encoded()
        out.reserveCapacity(MixShardLayout.headerBytes + header.rawBytes(samples: n) + 32 * chunkCount + 64)
        var entries: [ChunkIndexEntry] = []
        entries.reserveCapacity(chunkCount)
        var payload = [UInt8](repeating: 0, count: header.rawBytes(samples: min(n, perChunk)))
        let deflater = encoding.codec == .zlib ? Zlib.Deflater(level: encoding.level, strategy: encoding.strategy) : nil
        for c in 0..<chunkCount {
            let first = c * perChunk
            let count = min(perChunk, n - first)
            let stored = references ? block.provenance[first..<(first + count)].filter { !$0.isReference }.count : count
            let raw = header.rawBytes(samples: count, images: stored)
            let crc = payload.withUnsafeMutableBytes { buf in
                fillPayload(buf, block: block, first: first, count: count, header: header)
            }
            let offset = UInt64(out.count)
            let storedBytes: Int = payload.withUnsafeBytes { buf in
                let region = UnsafeRawBufferPointer(rebasing: buf[0..<raw])
                switch encoding.codec {
                case .none:
                    out.append(contentsOf: region)
                    return raw
                case .zlib:
                    let z = deflater!.compress(region)
                    out.append(contentsOf: z)
                    return z.count
                }
            }
            entries.append(ChunkIndexEntry(offset: offset, storedBytes: UInt32(storedBytes), rawBytes: UInt32(raw),
                                           firstSample: UInt32(first), sampleCount: UInt32(count), rawCRC: crc,
                                           imageCount: header.version == 1 ? 0 : UInt32(stored)))
        }
        let indexOffset = out.count
        var index = [UInt8](repeating: 0, count: MixShardLayout.indexEntryBytes * chunkCount)
        for (i, e) in entries.enumerated() { e.write(into: &index, at: i * MixShardLayout.indexEntryBytes) }
        out.append(contentsOf: index)
        let footer = ShardFooter(indexOffset: UInt64(indexOffset), chunkCount: UInt32(chunkCount),
                                 indexCRC: Zlib.crc32(index), sampleCount: UInt32(n))
        out.append(contentsOf: footer.encoded())
        return out
    }

    /// Lays out one chunk's payload (filtered images of the samples that are not
    /// references, labels, provenance) in `buf`; returns the CRC-32 of the unfiltered payload.
    private static func fillPayload(_ buf: UnsafeMutableRawBufferPointer, block: SampleBlock, first: Int, count: Int,
                                    header: ShardHeader) -> UInt32 {
        let shape = block.shape
        let imageBytes = shape.imageBytes
        let dst = buf.baseAddress!.assumingMemoryBound(to: UInt8.self)
        // Gather the stored images (all of them unless some samples are references).
        var imageRegion = 0
        block.images.withUnsafeBufferPointer { images in
            for s in first..<(first + count) where !(header.hasReferences && block.provenance[s].isReference) {
                (dst + imageRegion).update(from: images.baseAddress! + s * imageBytes, count: imageBytes)
                imageRegion += imageBytes
            }
        }
        let crc = Zlib.crc32(UnsafeRawBufferPointer(start: dst, count: imageRegion))
        if header.imageFilter == .delta { ImageFilter.deltaEncodeInPlace(dst, count: imageRegion, width: shape.width) }
        var at = imageRegion
        let k = shape.classCount
        for v in block.labels[(first * k)..<((first + count) * k)] {
            buf.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: at, as: UInt32.self)
            at += 4
        }
        if header.hasProvenance {
            let size = header.provenanceBytes
            for p in block.provenance[first..<(first + count)] {
                p.write(into: buf, at: at, version: header.version)
                at += size
            }
        }
        return Zlib.crc32(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buf)[imageRegion..<at]), seed: crc)
    }
}
