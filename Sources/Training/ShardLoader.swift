import Foundation
import MixCore
import ShardFormat
import ShardStore

/// How the loader batches and orders samples.
public struct LoaderOptions: Sendable, Equatable {
    /// Samples per batch (the last batch of a pass may hold fewer).
    public var batch: Int
    /// The run's seed: chunk order of epoch e is a pure function of (seed, e).
    public var seed: UInt64
    /// Skip chunks that fail their checks (counted in `ShardLoader.skipped`) instead of failing.
    public var skipCorrupt: Bool
    /// Batches decoded ahead of the consumer.
    public var prefetch: Int
    /// The figures to normalise with; nil: the directory's (`PixelNormalizer.forSource`).
    /// Evaluating a checkpoint passes the ones it was trained with.
    public var normalizer: PixelNormalizer?

    public init(batch: Int = 128, seed: UInt64 = 0, skipCorrupt: Bool = false, prefetch: Int = 4,
                normalizer: PixelNormalizer? = nil) {
        self.batch = batch
        self.seed = seed
        self.skipCorrupt = skipCorrupt
        self.prefetch = prefetch
        self.normalizer = normalizer
    }
}

/// A chunk of one shard of a pass: `shard` indexes the pass's shard list.
public struct ChunkRef: Sendable, Hashable, CustomStringConvertible {
    public var shard: Int
    public var chunk: Int

    public init(shard: Int, chunk: Int) {
        self.shard = shard
        self.chunk = chunk
    }

    public var description: String { "\(shard):\(chunk)" }
}

/// A chunk skipped under `skipCorrupt`.
public struct CorruptChunk: Sendable, Equatable {
    /// Shard file path.
    public var file: String
    public var chunk: Int
    /// The reader's one-line error.
    public var message: String
}

/// Streams normalised batches out of a shard directory.
///
/// Epoch e reads the shards of materialised epoch `e mod E` (printing one
/// warning the first time it cycles); its chunks are visited in an order
/// shuffled by `CounterRNG(seed, .shuffle, epoch: e)`, samples within a chunk
/// in order, batches spanning chunk boundaries, the last partial batch kept.
/// The test split is read in file order. Decoding (inflate, CRC and label
/// checks, normalisation) runs on one background thread per pass.
public final class ShardLoader: @unchecked Sendable {
    public let directory: ShardDirectory
    public let options: LoaderOptions
    /// What images are normalised with: `options.normalizer`, else the directory's figures.
    public let normalizer: PixelNormalizer
    /// Receives one-line warnings (cycling, skipped chunks). Default: standard error.
    public var warn: @Sendable (String) -> Void = { printError("warning: " + $0) }
    private let state = Locked(State())

    private struct State {
        var cycleWarned = false
        var skipped: [CorruptChunk] = []
        var warnedChunks: Set<String> = []
    }

    /// A loader over an opened directory.
    public init(directory: ShardDirectory, options: LoaderOptions) throws {
        if let problem = TrainingLimits.batchProblem(options.batch, key: "batch size") { throw MixError(problem) }
        self.directory = directory
        self.options = options
        let normalizer = options.normalizer ?? PixelNormalizer.forSource(directory.manifest.source).normalizer
        guard normalizer.channels == directory.shape.channels else {
            throw MixError.file(directory.path, "holds \(directory.shape.channels)-channel images; the normalisation figures are for \(normalizer.channels) channels")
        }
        self.normalizer = normalizer
    }

    /// Opens the shard directory at `path` (refused without a manifest) and makes a loader.
    public convenience init(path: String, options: LoaderOptions) throws {
        try self.init(directory: ShardDirectory(path: path), options: options)
    }

    /// Every chunk read but skipped as corrupt so far (one entry per read).
    public var skipped: [CorruptChunk] { state.withLock { $0.skipped } }

    /// Floats per image, `C·H·W`.
    public var imageFloats: Int { directory.shape.channels * directory.shape.height * directory.shape.width }

    /// The order in which training epoch `epoch` visits its chunks: a seeded
    /// Fisher–Yates shuffle of all (shard, chunk) pairs of its shards.
    public func chunkOrder(epoch: Int) -> [ChunkRef] {
        let readers = directory.trainReaders[directory.materialisedEpoch(for: epoch)]
        var refs = ShardLoader.allChunks(readers)
        var rng = CounterRNG(seed: options.seed, stream: .shuffle, epoch: UInt32(truncatingIfNeeded: epoch))
        if refs.count > 1 {
            for i in stride(from: refs.count - 1, to: 0, by: -1) {
                refs.swapAt(i, rng.uniformInt(below: i + 1))
            }
        }
        return refs
    }

    /// Batches of training epoch `epoch` (0-based), in shuffled chunk order.
    public func trainBatches(epoch: Int) -> BatchStream {
        let materialised = directory.materialisedEpoch(for: epoch)
        if materialised != epoch {
            let first = state.withLock { s -> Bool in
                defer { s.cycleWarned = true }
                return !s.cycleWarned
            }
            if first {
                warn("training for more epochs than the \(directory.materialisedEpochs) materialised in \(directory.path); "
                     + "epoch \(epoch + 1) and later reuse the shards of epoch (e mod \(directory.materialisedEpochs)), reshuffled")
            }
        }
        return start(readers: directory.trainReaders[materialised], order: chunkOrder(epoch: epoch))
    }

    /// Batches of the whole test split, in file and chunk order.
    public func testBatches() -> BatchStream {
        start(readers: directory.testReaders, order: ShardLoader.allChunks(directory.testReaders))
    }

    static func allChunks(_ readers: [ShardReader]) -> [ChunkRef] {
        var refs: [ChunkRef] = []
        for (s, r) in readers.enumerated() {
            for c in 0..<r.index.count { refs.append(ChunkRef(shard: s, chunk: c)) }
        }
        return refs
    }

    private func start(readers: [ShardReader], order: [ChunkRef]) -> BatchStream {
        let shape = directory.shape
        let batch = options.batch
        let imageFloats = self.imageFloats
        let queue = BatchQueue(capacity: options.prefetch) {
            Batch(capacity: batch, imageCount: imageFloats, classCount: shape.classCount)
        }
        let job = ProducerJob(loader: self, readers: readers, order: order, queue: queue)
        let thread = Thread { job.run() }
        thread.name = "mixtrain-loader"
        thread.start()
        return BatchStream(queue: queue)
    }

    /// Warns once per `key` for the loader's lifetime.
    func warnOnce(key: String, _ message: String) {
        if state.withLock({ $0.warnedChunks.insert(key).inserted }) { warn(message) }
    }

    /// Records a skipped chunk; warns once per distinct chunk.
    func recordSkip(_ c: CorruptChunk) {
        let fresh = state.withLock { s -> Bool in
            s.skipped.append(c)
            return s.warnedChunks.insert("\(c.file)#\(c.chunk)").inserted
        }
        if fresh { warn("skipping corrupt chunk: \(c.message)") }
    }
}

/// The producer side of one pass: decode chunks in order, fill batches, queue them.
private final class ProducerJob: @unchecked Sendable {
    let loader: ShardLoader
    let readers: [ShardReader]
    let order: [ChunkRef]
    let queue: BatchQueue

    init(loader: ShardLoader, readers: [ShardReader], order: [ChunkRef], queue: BatchQueue) {
        self.loader = loader
        self.readers = readers
        self.order = order
        self.queue = queue
    }

    func run() {
        defer { queue.finish() }
        let shape = loader.directory.shape
        let k = shape.classCount
        let imageBytes = shape.channels * shape.height * shape.width
        let planeSize = shape.height * shape.width
        let batchSize = loader.options.batch
        let normalizer = loader.normalizer
        var chunk = DecodedChunk()
        var current = queue.obtain()
        var index = 0
        var hashChecked = Set<Int>()
        for ref in order {
            if queue.isCancelled { return }
            let reader = readers[ref.shard]
            if hashChecked.insert(ref.shard).inserted {
                do {
                    try loader.directory.checkSHA256(reader)
                } catch {
                    guard loader.options.skipCorrupt else {
                        queue.put(.failure(error))
                        return
                    }
                    loader.warnOnce(key: reader.path + "#sha256", "\(error); reading its chunks that pass their checks (--skip-corrupt)")
                }
            }
            do {
                try reader.readChunk(ref.chunk, into: &chunk)
            } catch {
                let message = (error as? MixError)?.message ?? "\(reader.path): chunk \(ref.chunk): \(error)"
                if loader.options.skipCorrupt {
                    loader.recordSkip(CorruptChunk(file: reader.path, chunk: ref.chunk, message: message))
                    continue
                }
                queue.put(.failure(MixError(message)))
                return
            }
            var s = 0
            while s < chunk.count {
                let take = min(batchSize - current.count, chunk.count - s)
                let at = current.count
                chunk.images.withUnsafeBufferPointer { src in
                    current.images.withUnsafeMutableBufferPointer { dst in
                        normalizer.normalize(src.baseAddress! + s * imageBytes, into: dst.baseAddress! + at * imageBytes,
                                             samples: take, planeSize: planeSize)
                    }
                }
                chunk.labels.withUnsafeBufferPointer { src in
                    current.labels.withUnsafeMutableBufferPointer { dst in
                        (dst.baseAddress! + at * k).update(from: src.baseAddress! + s * k, count: take * k)
                    }
                }
                current.count += take
                s += take
                if current.count == batchSize {
                    current.index = index
                    index += 1
                    guard queue.put(.success(current)) else { return }
                    current = queue.obtain()
                }
            }
        }
        if current.count > 0 {
            current.index = index
            queue.put(.success(current))
        }
    }
}
