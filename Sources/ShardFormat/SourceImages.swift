import MixCore
import ZlibKit

/// The source images that reference samples point into: the directory's source
/// copy (`source/train.mxs`: the training images as `mixprep` read them, sample k
/// = source image k, in a shard of split `source`), or the images `mixprep` is
/// writing from (`ImageStore`).
///
/// A source copy stored uncompressed and unfiltered (every v2 copy; v3 with
/// `shards.source_codec = "none"`) is memory-mapped and its chunks' CRCs are
/// checked once at open: resolving a reference is a transform of bytes already in
/// memory. A compressed (or filtered) v3 copy is inflated chunk by chunk when a
/// reference first needs one, its rawCRC checked then, into a cache shared by every
/// thread that resolves references (`SourceChunkCache`: the whole copy when it fits
/// `cacheBytes`, else a bounded set of chunks).
public final class SourceImages: @unchecked Sendable {
    /// The default bound on the inflated chunks a compressed source copy keeps (1 GiB:
    /// the whole copy of CIFAR-10, 156 MB, or of 20,000 images of 128×128, stays resident).
    public static let defaultCacheBytes = 1 << 30

    /// Images held (source image k is sample k of the source copy).
    public let count: Int
    /// Image shape (classCount as in the source copy's header, or 0 in memory).
    public let shape: SampleShape
    /// The mapped source copy (nil for images in memory).
    public let reader: ShardReader?
    private let storage: Storage
    private let perChunk: Int
    private let imageBytes: Int

    private enum Storage {
        /// An uncompressed, unfiltered copy: chunk offsets in the mapping.
        case mapped(base: UnsafePointer<UInt8>, offsets: [Int])
        /// A compressed or filtered copy: chunks inflated on demand.
        case inflated(SourceChunkCache)
        /// Images decoded by `mixprep` (possibly not contiguous: skipped files leave gaps).
        case store(ImageStore)
    }

    /// Opens the source copy at `path`: checks its structure and that it is a source
    /// copy; an uncompressed copy has every chunk's rawCRC checked now (once), a
    /// compressed one each chunk's when it is inflated, keeping at most
    /// `cacheBytes` of inflated chunks (plus one chunk per resolving thread).
    ///
    /// With `unpacked` (a directory, and the copy's SHA-256 as listed in its manifest), a
    /// compressed copy is read through its unpacked copy there (`UnpackedSource`), made
    /// now on `threads` threads when it is missing; `cacheBytes` then does not apply.
    public init(path: String, cacheBytes: Int = SourceImages.defaultCacheBytes,
                unpacked: (directory: String, key: String)? = nil, threads: Int = Parallel.defaultThreads) throws {
        let reader = try ShardReader(path: path)
        let h = reader.header
        if let problem = h.sourceCopyProblem { throw MixError.file(path, "header: " + problem) }
        self.reader = reader
        self.count = reader.sampleCount
        self.shape = reader.shape
        self.perChunk = max(Int(h.samplesPerChunk), 1)
        self.imageBytes = h.imageBytes
        if h.codec == .none && h.imageFilter == .none {
            let bytes = reader.bytes
            for (i, e) in reader.index.enumerated() {
                let crc = Zlib.crc32(UnsafeRawBufferPointer(rebasing: bytes[Int(e.offset)..<(Int(e.offset) + Int(e.rawBytes))]))
                guard crc == e.rawCRC else {
                    throw MixError.file(path, "chunk \(i): rawCRC mismatch (stored \(hex(e.rawCRC)), computed \(hex(crc)))")
                }
            }
            storage = .mapped(base: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), offsets: reader.index.map { Int($0.offset) })
        } else {
            storage = .inflated(try SourceChunkCache(reader: reader, capacityBytes: cacheBytes, unpacked: unpacked, threads: threads))
        }
    }

    /// The images of `store` (in memory or mapped), borrowed: `store` is kept alive with this object.
    public init(store: ImageStore) {
        self.count = store.count
        self.shape = SampleShape(channels: store.channels, height: store.height, width: store.width, classCount: 0)
        self.reader = nil
        self.perChunk = max(store.count, 1)
        self.imageBytes = self.shape.imageBytes
        self.storage = .store(store)
    }

    /// Whether images are inflated from a compressed (or filtered) source copy.
    public var isCompressed: Bool {
        if case .inflated = storage { return true }
        return false
    }

    /// Calls `body` with the bytes of source image `k` (`0 ≤ k < count`), C·H·W planar,
    /// valid only during the call. Throws, naming the source copy and the chunk, when
    /// the chunk holding it does not inflate or fails its rawCRC.
    @inline(__always)
    public func withImage<R>(_ k: Int, _ body: (UnsafePointer<UInt8>) throws -> R) throws -> R {
        precondition(k >= 0 && k < count, "source image out of range")
        switch storage {
        case .mapped(let base, let offsets):
            return try body(base + offsets[k / perChunk] + (k % perChunk) * imageBytes)
        case .store(let store):
            return try body(store.image(k))
        case .inflated(let cache):
            let (chunk, offset) = k.quotientAndRemainder(dividingBy: perChunk)
            return try cache.withChunk(chunk) { try body($0 + offset * imageBytes) }
        }
    }

    /// Calls `body(j, image)` with the bytes of source image `indices[j]` for every j (each
    /// `0 ≤ indices[j] < count`), in no particular order, each pointer valid only during its
    /// call: what `withImage` does for each, with one lock of a compressed copy's cache for
    /// all the chunks it holds (`body` runs under it, so it must not use this object), and
    /// each missing chunk inflated once.
    public func withImages(_ indices: [Int], _ body: (Int, UnsafePointer<UInt8>) throws -> Void) throws {
        let per = perChunk, imageBytes = self.imageBytes
        let cache: SourceChunkCache
        switch storage {
        case .mapped(let base, let offsets):
            for (j, k) in indices.enumerated() {
                precondition(k >= 0 && k < count, "source image out of range")
                try body(j, base + offsets[k / per] + (k % per) * imageBytes)
            }
            return
        case .store(let store):
            for (j, k) in indices.enumerated() { try body(j, store.image(k)) }
            return
        case .inflated(let c):
            cache = c
        }
        var chunkOf = [Int](repeating: 0, count: indices.count), offset = chunkOf
        for (j, k) in indices.enumerated() {
            precondition(k >= 0 && k < count, "source image out of range")
            (chunkOf[j], offset[j]) = per == 1 ? (k, 0) : k.quotientAndRemainder(dividingBy: per)
        }
        // Resident chunks under one lock of the cache (the transforms a chunk's references need take
        // microseconds; threads resolving at once wait that long at most).
        var missing = try cache.withResident(chunkOf) { j, payload in try body(j, payload + offset[j] * imageBytes) }
        // Misses grouped by chunk: each inflated (or found, if another thread was quicker) once, then let go.
        missing.sort { chunkOf[$0] < chunkOf[$1] }
        var i = 0
        while i < missing.count {
            let start = i
            try cache.withChunk(chunkOf[missing[i]]) { payload in
                repeat {
                    try body(missing[i], payload + offset[missing[i]] * imageBytes)
                    i += 1
                } while i < missing.count && chunkOf[missing[i]] == chunkOf[missing[i - 1]]
            }
            cache.countHits(i - start - 1)
        }
    }

    /// The unpacked copy a compressed source copy is read through, and whether this
    /// object made it (nil when there is none).
    public var unpacked: (path: String, made: Bool)? {
        if case .inflated(let cache) = storage { return cache.unpacked }
        return nil
    }

    /// How the cache of a compressed source copy has served requests so far (zeros otherwise).
    public var cacheStatistics: SourceChunkCache.Statistics {
        if case .inflated(let cache) = storage { return cache.statistics }
        return SourceChunkCache.Statistics()
    }
}

extension ShardHeader {
    /// Why a file with this header cannot be a source copy — split source and no
    /// references are needed, and before v3 codec none and filter none —, nil when it can be.
    public var sourceCopyProblem: String? {
        guard split == .source, !hasReferences else { return "not a source copy (needs split source and no references)" }
        guard version >= MixShardLayout.compressedSourceVersion || (codec == .none && imageFilter == .none) else {
            return "a version \(version) source copy must be uncompressed and unfiltered (codec none, filter none); "
                + "compressed source copies are version \(MixShardLayout.compressedSourceVersion)"
        }
        return nil
    }
}
