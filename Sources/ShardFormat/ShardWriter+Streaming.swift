import MixCore
import ZlibKit

/// Writes one shard file chunk by chunk, so that a shard never has to be whole in
/// memory: at 128×128 a shard of 10,000 samples is 490 MB of pixels, and the source
/// copy of 200,000 images 9.8 GB. The bytes are exactly `ShardWriter.encode`'s for
/// the same samples (tested); the file appears under its name only when whole
/// (`FileIO.AtomicWriter`), and its SHA-256 is computed as it is written.
public final class ShardFileWriter {
    public let path: String
    private let header: ShardHeader
    private let encoding: ShardEncoding
    private let shape: SampleShape
    private let file: FileIO.AtomicWriter
    private var sha = SHA256()
    private var entries: [ChunkIndexEntry] = []
    private var payload: [UInt8]
    /// One deflate state for all of the shard's zlib chunks (a compressed source copy
    /// is one stream per image).
    private let deflater: Zlib.Deflater?
    /// Samples appended so far.
    public private(set) var samples = 0

    /// A shard of `samples` samples of `shape` at `path`; `references` says whether any
    /// of them will be a reference (header flag bit 1), `sparseSmoothing` whether the
    /// blocks will hold sparse labels and their ε (stored as such from v3 on, expanded
    /// to rows before), as the header, written first, records both.
    public init(path: String, shape: SampleShape, encoding: ShardEncoding, samples n: Int, references: Bool,
                sparseSmoothing: Float?, split: Split, epoch: UInt32, shardIndex: UInt32) throws {
        let sparse = sparseSmoothing != nil && encoding.version >= 3
        precondition(MixShardLayout.limitProblem(shape: shape, samplesPerChunk: encoding.samplesPerChunk, samplesPerShard: n,
                                                 provenance: encoding.provenance, version: encoding.version,
                                                 labelType: sparse ? .sparse : .float32) == nil,
                     "shard beyond the format limits (mixprep checks them first)")
        precondition(encoding.version >= 2 || (!references && split != .source), "v1 cannot record references or a source copy")
        precondition(split != .source || encoding.version >= MixShardLayout.compressedSourceVersion
                     || (encoding.codec == .none && encoding.filter == .none), "a v2 source copy is uncompressed and unfiltered")
        self.path = path
        self.encoding = encoding
        self.shape = shape
        header = ShardWriter.makeHeader(shape: shape, encoding: encoding, samples: n, references: references && encoding.provenance,
                                        split: split, epoch: epoch, shardIndex: shardIndex,
                                        labelType: sparse ? .sparse : .float32, smoothing: sparse ? sparseSmoothing! : 0)
        payload = [UInt8](repeating: 0, count: header.rawBytes(samples: min(n, encoding.samplesPerChunk)))
        deflater = encoding.codec == .zlib ? Zlib.Deflater(level: encoding.level, strategy: encoding.strategy) : nil
        file = try FileIO.AtomicWriter(path)
        try write(header.encoded())
    }

    /// Appends the next samples: whole chunks (`samplesPerChunk` each, the shard's last
    /// chunk shorter), in order.
    public func append(_ block: SampleBlock) throws {
        let n = block.count, perChunk = encoding.samplesPerChunk
        precondition(block.images.count == n * shape.imageBytes && block.shape == shape, "block of another shape")
        precondition(!encoding.provenance || block.provenance.count == n, "provenance missing")
        precondition(samples + n <= Int(header.sampleCount), "more samples than the header holds")
        precondition(n % perChunk == 0 || samples + n == Int(header.sampleCount), "a short chunk before the last")
        precondition(encoding.version >= 2 || block.provenance.allSatisfy {
            $0.primaryTransform.isIdentity && $0.partnerTransform.isIdentity && $0.kind != .cutmix
        }, "v1 cannot record transforms or cutmix boxes")
        precondition(header.hasReferences || !block.provenance.contains(where: \.isReference), "a reference in a shard declared without")
        precondition(header.version >= MixShardLayout.opsVersion || !block.provenance.contains(where: \.hasOps), "only v4 records augment ops")
        let labels = ShardWriter.storedLabels(block, version: header.version)
        precondition(labels.type == header.labelType && labels.smoothing.bitPattern == header.labelSmoothing.bitPattern,
                     "labels of another type or smoothing than the header declares")
        var first = 0
        while first < n {
            let count = min(perChunk, n - first)
            let chunk = ShardWriter.encodeChunk(block, labels: labels.labels, first: first, count: count, firstSample: samples + first,
                                                header: header, encoding: encoding, deflater: deflater,
                                                payload: &payload, offset: file.count)
            try write(chunk.bytes)
            entries.append(chunk.entry)
            first += count
        }
        samples += n
    }

    /// Writes the index and footer and puts the file in place; its size and SHA-256 (hex).
    /// With `commits`, the file is put in place (fsync, rename) on their background thread
    /// instead, and is there once `commits.wait()` has returned.
    public func finish(commits: FileIO.BackgroundCommits? = nil) throws -> (bytes: Int, sha256: String) {
        precondition(samples == Int(header.sampleCount), "\(samples) of \(header.sampleCount) samples appended")
        try write(ShardWriter.tail(entries, indexOffset: file.count, samples: samples))
        let result = (file.count, SHA256.hex(sha.finalize()))
        if let commits { commits.commit(file) } else { try file.commit() }
        return result
    }

    private func write(_ bytes: [UInt8]) throws {
        bytes.withUnsafeBytes { sha.update($0) }
        try file.append(bytes)
    }
}
