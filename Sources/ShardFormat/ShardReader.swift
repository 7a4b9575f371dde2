import MixCore
import ZlibKit

/// One chunk, inflated and checked.
public struct DecodedChunk: Sendable {
    public var firstSample = 0
    public var count = 0
    /// `count × C × H × W` bytes: every sample's pixels, references resolved.
    public var images: [UInt8] = []
    /// `count × K` floats: the dense rows, as stored or expanded from sparse records.
    public var labels: [Float] = []
    /// The sparse label records as stored (v3 `labelType` 2; empty for dense rows), which
    /// `labels` expands with the header's `labelSmoothing`.
    public var records: [LabelRecord] = []
    /// `count` entries, empty when the shard has no provenance.
    public var provenance: [Provenance] = []
    /// The inflated payload, kept to be reused by the next read.
    var raw: [UInt8] = []

    public init() {}
}

/// A read-only, memory-mapped MixShard file (v1 to v4).
///
/// `init` checks the structure (magics, version, header CRC, file size, index
/// CRC, every chunk's bounds); `readChunk` checks a chunk's contents (inflated
/// size, rawCRC, provenance records, sparse label records, label rows summing
/// to 1), expands sparse label records to the dense rows they stand for, and resolves
/// reference samples from `source`, so what it yields is the fully
/// materialised sample. Every error names the file and, where there is one,
/// the chunk.
public final class ShardReader: @unchecked Sendable {
    public let path: String
    public let header: ShardHeader
    public let index: [ChunkIndexEntry]
    /// The directory's source copy, which reference samples are resolved from.
    public let source: SourceImages?
    private let file: MappedFile

    /// Maps and checks the shard at `path`; `source` resolves its reference samples
    /// (a shard with references read without it fails at the first chunk that holds one).
    public init(path: String, source: SourceImages? = nil) throws {
        self.path = path
        self.source = source
        let file = try MappedFile(path)
        self.file = file
        let bytes = file.bytes
        let fail = { (what: String) -> Error in MixError.file(path, what) }
        let header = try ShardHeader.decode(bytes, fail: fail)
        let minimum = MixShardLayout.headerBytes + MixShardLayout.footerBytes
        guard bytes.count >= minimum else {
            throw fail("footer: file is \(bytes.count) bytes, too short to hold header and footer (truncated?)")
        }
        let footer = try ShardFooter.decode(UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - MixShardLayout.footerBytes)...]), fail: fail)
        guard footer.chunkCount == header.chunkCount, footer.sampleCount == header.sampleCount else {
            throw fail("footer: chunk/sample counts (\(footer.chunkCount)/\(footer.sampleCount)) disagree with the header (\(header.chunkCount)/\(header.sampleCount))")
        }
        let n = Int(header.chunkCount)
        // Checked: a crafted indexOffset near 2^64 must not wrap around to the file size.
        let tail = UInt64(MixShardLayout.indexEntryBytes * n + MixShardLayout.footerBytes)
        let (expectedSize, wrapped) = footer.indexOffset.addingReportingOverflow(tail)
        guard footer.indexOffset >= UInt64(MixShardLayout.headerBytes), !wrapped, expectedSize == UInt64(bytes.count) else {
            throw fail("footer: file size \(bytes.count) != indexOffset \(footer.indexOffset) + 32·\(n) + 32 (truncated or padded)")
        }
        let io = Int(footer.indexOffset)
        let indexBytes = UnsafeRawBufferPointer(rebasing: bytes[io..<(io + MixShardLayout.indexEntryBytes * n)])
        let crc = Zlib.crc32(indexBytes)
        guard crc == footer.indexCRC else {
            throw fail("index: CRC mismatch (stored \(hex(footer.indexCRC)), computed \(hex(crc)))")
        }
        var entries: [ChunkIndexEntry] = []
        entries.reserveCapacity(n)
        var nextOffset = UInt64(MixShardLayout.headerBytes)
        var nextSample: UInt32 = 0
        for i in 0..<n {
            let e = ChunkIndexEntry.read(indexBytes, at: i * MixShardLayout.indexEntryBytes)
            let expectedCount = min(Int(header.samplesPerChunk), Int(header.sampleCount) - Int(nextSample))
            guard e.offset == nextOffset, e.offset &+ UInt64(e.storedBytes) <= footer.indexOffset else {
                throw fail("chunk \(i): bounds [\(e.offset), +\(e.storedBytes)) outside the data region or not contiguous")
            }
            guard e.firstSample == nextSample, Int(e.sampleCount) == expectedCount, expectedCount > 0 else {
                throw fail("chunk \(i): holds samples \(e.firstSample) to \(Int(e.firstSample) + Int(e.sampleCount) - 1), expected \(nextSample) to \(Int(nextSample) + expectedCount - 1)")
            }
            // v1: imageCount is reserved (0) and every sample stores pixels; v2: all of them unless references.
            let images = header.version == 1 ? (e.imageCount == 0 ? e.sampleCount : UInt32.max) : e.imageCount
            guard images <= e.sampleCount, header.hasReferences || images == e.sampleCount else {
                throw fail("chunk \(i): stores \(e.imageCount) images for \(e.sampleCount) samples"
                           + (header.version == 1 ? " (v1 reserved field not 0)" : header.hasReferences ? "" : " and the shard has no references"))
            }
            // The header's limits bound sampleCount × sampleBytes (≤ maxChunkRawBytes), so this cannot overflow
            // and readChunk's buffers stay bounded.
            guard Int(e.rawBytes) == header.checkedRawBytes(samples: Int(e.sampleCount), images: Int(images)) else {
                throw fail("chunk \(i): rawBytes \(e.rawBytes) does not match \(e.sampleCount) samples (\(images) with pixels) of \(header.sampleBytes) bytes")
            }
            if header.codec == .none && e.storedBytes != e.rawBytes {
                throw fail("chunk \(i): stored \(e.storedBytes) bytes but codec none needs \(e.rawBytes)")
            }
            var entry = e
            entry.imageCount = images
            entries.append(entry)
            nextOffset = e.offset + UInt64(e.storedBytes)
            nextSample += e.sampleCount
        }
        guard nextOffset == footer.indexOffset, nextSample == header.sampleCount else {
            throw fail("index: chunks cover \(nextSample) samples ending at byte \(nextOffset), expected \(header.sampleCount) ending at \(footer.indexOffset)")
        }
        self.header = header
        self.index = entries
    }

    public var sampleCount: Int { Int(header.sampleCount) }
    public var shape: SampleShape {
        SampleShape(channels: Int(header.channels), height: Int(header.height), width: Int(header.width), classCount: Int(header.classCount))
    }
    /// The whole file's bytes (mapped).
    public var bytes: UnsafeRawBufferPointer { file.bytes }

    /// Inflates and checks chunk `i` into `chunk`, reusing its buffers, and
    /// resolves its reference samples from `source`.
    public func readChunk(_ i: Int, into chunk: inout DecodedChunk) throws {
        precondition(i >= 0 && i < index.count, "chunk index out of range")
        let e = index[i]
        let fail = { (what: String) -> Error in MixError.file(self.path, "chunk \(i): \(what)") }
        let n = Int(e.sampleCount)
        let m = Int(e.imageCount)
        let shape = self.shape
        let imageBytes = shape.imageBytes
        let storedRegion = m * imageBytes
        let k = shape.classCount
        let labelCount = n * k
        chunk.firstSample = Int(e.firstSample)
        chunk.count = n
        if chunk.images.count != n * imageBytes { chunk.images = [UInt8](repeating: 0, count: n * imageBytes) }
        if chunk.labels.count != labelCount { chunk.labels = [Float](repeating: 0, count: labelCount) }
        if chunk.raw.count < Int(e.rawBytes) { chunk.raw = [UInt8](repeating: 0, count: Int(e.rawBytes)) }
        try chunk.raw.withUnsafeMutableBytes { try decodePayload(i, into: $0) }
        let header = self.header
        let raw = chunk.raw
        let sparse = header.labelType == .sparse
        try raw.withUnsafeBytes { buf in
            var at = storedRegion + n * header.labelBytes
            chunk.provenance.removeAll(keepingCapacity: true)
            if header.hasProvenance {
                let size = header.provenanceBytes
                for s in 0..<n {
                    chunk.provenance.append(try Provenance.read(buf, at: at, header: header) { what in
                        fail("sample \(Int(e.firstSample) + s): \(what)")
                    })
                    at += size
                }
                // v4: the op records follow the provenance records (rule 7b).
                let opBytes = header.opRecordBytes
                if opBytes > 0 {
                    for s in 0..<n {
                        try chunk.provenance[s].readOps(buf, at: at, header: header) { what in
                            fail("sample \(Int(e.firstSample) + s): \(what)")
                        }
                        at += opBytes
                    }
                }
            }
            chunk.records.removeAll(keepingCapacity: true)
            if sparse {
                // Rule 7a: each record checked (against its provenance) before it is expanded.
                for s in 0..<n {
                    let r = LabelRecord.read(buf, at: storedRegion + s * MixShardLayout.sparseLabelBytes)
                    if let problem = r.problem(classCount: k, provenance: chunk.provenance.isEmpty ? nil : chunk.provenance[s]) {
                        throw fail("sample \(Int(e.firstSample) + s): \(problem)")
                    }
                    chunk.records.append(r)
                }
                let epsilon = header.labelSmoothing
                chunk.labels.withUnsafeMutableBufferPointer { labels in
                    for (s, r) in chunk.records.enumerated() { r.expand(classCount: k, epsilon: epsilon, into: labels.baseAddress! + s * k) }
                }
            } else {
                chunk.labels.withUnsafeMutableBufferPointer { labels in
                    for j in 0..<labelCount {
                        labels[j] = Float(bitPattern: buf.le(UInt32.self, at: storedRegion + 4 * j))
                    }
                }
            }
            let references = chunk.provenance.reduce(0) { $0 + ($1.isReference ? 1 : 0) }
            guard references == n - m else {
                throw fail("\(references) samples are references but the index says \(n - m)")
            }
            if m == n {
                chunk.images.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: buf[0..<storedRegion])) }
            } else {
                try resolve(chunk: &chunk, stored: UnsafeRawBufferPointer(rebasing: buf[0..<storedRegion]), references: references, fail: fail)
            }
        }
        if let problem = MixShardLayout.labelRowProblem(chunk.labels, samples: n, classCount: k) {
            throw fail("sample \(Int(e.firstSample) + problem.sample): \(problem.text)")
        }
    }

    /// Chunk `i`'s payload as it was before filter and compression, in the first `rawBytes`
    /// of `raw` (which must hold them): inflated (or copied), the image filter undone, and
    /// its rawCRC checked. Errors name the file and the chunk.
    func decodePayload(_ i: Int, into raw: UnsafeMutableRawBufferPointer) throws {
        let e = index[i]
        let fail = { (what: String) -> Error in MixError.file(self.path, "chunk \(i): \(what)") }
        let rawCount = Int(e.rawBytes)
        precondition(raw.count >= rawCount, "payload buffer too small")
        let stored = UnsafeRawBufferPointer(rebasing: file.bytes[Int(e.offset)..<(Int(e.offset) + Int(e.storedBytes))])
        let rawBuf = UnsafeMutableRawBufferPointer(rebasing: raw[0..<rawCount])
        switch header.codec {
        case .none:
            rawBuf.copyMemory(from: stored)
        case .zlib:
            // The chunk's CRC-32 is checked below, so zlib's own Adler-32 pass is skipped.
            do { try Zlib.decompress(stored, into: rawBuf, checkAdler32: false) } catch let error as MixError { throw fail(error.message) }
        }
        if header.imageFilter == .delta, rawCount > 0 {
            ImageFilter.deltaDecode(rawBuf.baseAddress!.assumingMemoryBound(to: UInt8.self), count: Int(e.imageCount) * header.imageBytes,
                                    width: Int(header.width))
        }
        let crc = Zlib.crc32(UnsafeRawBufferPointer(rawBuf))
        guard crc == e.rawCRC else { throw fail("rawCRC mismatch (stored \(hex(e.rawCRC)), computed \(hex(crc)))") }
    }

    /// Fills `chunk.images`: stored pixels in sample order, references from the source copy.
    private func resolve(chunk: inout DecodedChunk, stored: UnsafeRawBufferPointer, references: Int,
                         fail: (String) -> Error) throws {
        let n = chunk.count
        guard let source else {
            throw fail("\(references) samples are references to the source copy; read the shard within its shard directory "
                       + "(\(MixShardLayout.sourceFile))")
        }
        let shape = self.shape
        guard source.shape.channels == shape.channels, source.shape.height == shape.height, source.shape.width == shape.width else {
            throw fail("the source copy's images (\(Wording.image(channels: source.shape.channels, height: source.shape.height, width: source.shape.width))) "
                       + "differ from the shard's (\(Wording.image(channels: shape.channels, height: shape.height, width: shape.width)))")
        }
        let imageBytes = shape.imageBytes
        let provenance = chunk.provenance
        let first = chunk.firstSample
        var targets: [Int] = [], primaries: [Int] = []
        targets.reserveCapacity(references)
        primaries.reserveCapacity(references)
        try chunk.images.withUnsafeMutableBufferPointer { out in
            var next = 0
            for s in 0..<n {
                let p = provenance[s]
                if p.isReference {
                    guard Int(p.primary) < source.count else {
                        throw fail("sample \(first + s): references source image \(p.primary), the source copy holds \(source.count)")
                    }
                    targets.append(s)
                    primaries.append(Int(p.primary))
                } else {
                    (out.baseAddress! + s * imageBytes).update(from: stored.baseAddress!.assumingMemoryBound(to: UInt8.self) + next * imageBytes,
                                                               count: imageBytes)
                    next += 1
                }
            }
            let base = out.baseAddress!
            try source.withImages(primaries) { j, image in
                let s = targets[j]
                provenance[s].primaryTransform.apply(image, into: base + s * imageBytes,
                                                     channels: shape.channels, height: shape.height, width: shape.width)
            }
        }
    }

    /// Reads every chunk into one block (checks everything on the way), its labels as
    /// stored: dense rows, or sparse records and ε (`SampleBlock.rows` expands them).
    public func readAll() throws -> SampleBlock {
        var images: [UInt8] = [], rows: [Float] = [], records: [LabelRecord] = [], provenance: [Provenance] = []
        let sparse = header.labelType == .sparse
        images.reserveCapacity(sampleCount * shape.imageBytes)
        if sparse { records.reserveCapacity(sampleCount) } else { rows.reserveCapacity(sampleCount * shape.classCount) }
        provenance.reserveCapacity(header.hasProvenance ? sampleCount : 0)
        var chunk = DecodedChunk()
        for i in 0..<index.count {
            try readChunk(i, into: &chunk)
            images.append(contentsOf: chunk.images)
            if sparse { records.append(contentsOf: chunk.records) } else { rows.append(contentsOf: chunk.labels) }
            provenance.append(contentsOf: chunk.provenance)
        }
        return SampleBlock(shape: shape, images: images,
                           labels: sparse ? .sparse(records, smoothing: header.labelSmoothing) : .dense(rows), provenance: provenance)
    }
}
