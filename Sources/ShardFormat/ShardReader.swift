import MixCore
import ZlibKit

/// One chunk, inflated and checked.
public struct DecodedChunk: Sendable {
    public var firstSample = 0
    public var count = 0
    /// `count × C × H × W` bytes.
    public var images: [UInt8] = []
    /// `count × K` floats.
    public var labels: [Float] = []
    /// `count` entries, empty when the shard has no provenance.
    public var provenance: [Provenance] = []
    /// The inflated payload, kept to be reused by the next read.
    var raw: [UInt8] = []

    public init() {}
}

/// A read-only, memory-mapped MixShard file.
///
/// `init` checks the structure (magics, version, header CRC, file size, index
/// CRC, every chunk's bounds); `readChunk` checks a chunk's contents (inflated
/// size, rawCRC, label rows summing to 1). Every error names the file and,
/// where there is one, the chunk.
public final class ShardReader: @unchecked Sendable {
    public let path: String
    public let header: ShardHeader
    public let index: [ChunkIndexEntry]
    private let file: MappedFile

    public init(path: String) throws {
        self.path = path
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
                throw fail("chunk \(i): holds samples \(e.firstSample)..<\(e.firstSample &+ e.sampleCount), expected \(nextSample)..<\(Int(nextSample) + expectedCount)")
            }
            // The header's limits bound sampleCount × sampleBytes (≤ maxChunkRawBytes), so this cannot overflow
            // and readChunk's buffers stay bounded.
            guard Int(e.rawBytes) == header.checkedRawBytes(samples: Int(e.sampleCount)) else {
                throw fail("chunk \(i): rawBytes \(e.rawBytes) does not match \(e.sampleCount) samples of \(header.sampleBytes) bytes")
            }
            if header.codec == .none && e.storedBytes != e.rawBytes {
                throw fail("chunk \(i): stored \(e.storedBytes) bytes but codec none needs \(e.rawBytes)")
            }
            entries.append(e)
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

    /// Inflates and checks chunk `i` into `chunk`, reusing its buffers.
    public func readChunk(_ i: Int, into chunk: inout DecodedChunk) throws {
        precondition(i >= 0 && i < index.count, "chunk index out of range")
        let e = index[i]
        let fail = { (what: String) -> Error in MixError.file(self.path, "chunk \(i): \(what)") }
        let n = Int(e.sampleCount)
        let shape = self.shape
        let imageRegion = n * shape.imageBytes
        let labelCount = n * shape.classCount
        chunk.firstSample = Int(e.firstSample)
        chunk.count = n
        if chunk.images.count != imageRegion { chunk.images = [UInt8](repeating: 0, count: imageRegion) }
        if chunk.labels.count != labelCount { chunk.labels = [Float](repeating: 0, count: labelCount) }
        let stored = UnsafeRawBufferPointer(rebasing: file.bytes[Int(e.offset)..<(Int(e.offset) + Int(e.storedBytes))])
        if chunk.raw.count < Int(e.rawBytes) { chunk.raw = [UInt8](repeating: 0, count: Int(e.rawBytes)) }
        try chunk.raw.withUnsafeMutableBytes { whole in
            let rawBuf = UnsafeMutableRawBufferPointer(rebasing: whole[0..<Int(e.rawBytes)])
            switch header.codec {
            case .none:
                rawBuf.copyMemory(from: stored)
            case .zlib:
                // The chunk's CRC-32 is checked below, so zlib's own Adler-32 pass is skipped.
                do { try Zlib.decompress(stored, into: rawBuf, checkAdler32: false) } catch let error as MixError { throw fail(error.message) }
            }
            let p = rawBuf.baseAddress!.assumingMemoryBound(to: UInt8.self)
            if header.imageFilter == .delta { ImageFilter.deltaDecode(p, count: imageRegion, width: shape.width) }
        }
        let crc = chunk.raw.withUnsafeBytes { Zlib.crc32(UnsafeRawBufferPointer(rebasing: $0[0..<Int(e.rawBytes)])) }
        guard crc == e.rawCRC else { throw fail("rawCRC mismatch (stored \(hex(e.rawCRC)), computed \(hex(crc)))") }
        let raw = chunk.raw
        raw.withUnsafeBytes { buf in
            chunk.images.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: buf[0..<imageRegion])) }
            chunk.labels.withUnsafeMutableBufferPointer { labels in
                for j in 0..<labelCount {
                    labels[j] = Float(bitPattern: buf.le(UInt32.self, at: imageRegion + 4 * j))
                }
            }
            var at = imageRegion + 4 * labelCount
            chunk.provenance.removeAll(keepingCapacity: true)
            if header.hasProvenance {
                for _ in 0..<n {
                    chunk.provenance.append(Provenance(
                        primary: buf.le(UInt32.self, at: at), partner: buf.le(UInt32.self, at: at + 4),
                        lambda: Float(bitPattern: buf.le(UInt32.self, at: at + 8))))
                    at += 12
                }
            }
        }
        let k = shape.classCount
        let badRow: (Int, Float)? = chunk.labels.withUnsafeBufferPointer { labels in
            for s in 0..<n {
                var sum: Float = 0
                for j in 0..<k { sum += labels[s * k + j] }
                if !(sum.isFinite && abs(sum - 1) <= MixShardLayout.labelSumTolerance) { return (s, sum) }
            }
            return nil
        }
        if let (s, sum) = badRow {
            throw fail("sample \(Int(e.firstSample) + s): label row sums to \(sum), not 1")
        }
    }

    /// Reads every chunk into one block (checks everything on the way).
    public func readAll() throws -> SampleBlock {
        var block = SampleBlock(shape: shape)
        block.reserve(sampleCount)
        var chunk = DecodedChunk()
        for i in 0..<index.count {
            try readChunk(i, into: &chunk)
            block.images.append(contentsOf: chunk.images)
            block.labels.append(contentsOf: chunk.labels)
            block.provenance.append(contentsOf: chunk.provenance)
        }
        return block
    }
}
