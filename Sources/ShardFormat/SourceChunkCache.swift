#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MixCore
import Synchronization
import ZlibKit

/// The inflated chunks of a compressed source copy, shared by every thread that
/// resolves references through one `SourceImages` (the loader's producer threads,
/// `verify`'s and `export`'s workers).
///
/// A chunk is inflated, unfiltered and its rawCRC checked the first time a
/// reference needs it, outside any lock. Two ways to keep them:
///
/// - **Whole** (the copy's payloads fit in `capacityBytes`, e.g. CIFAR-10's 156 MB
///   in the default 1 GiB): one buffer laid out as the file's chunks are, each
///   chunk inflated into its place once and then read without a lock or a
///   reference count, as a mapped uncompressed copy is. The buffer's pages are
///   touched as chunks are inflated, so memory grows to the copy's size at most.
/// - **Bounded** (a larger copy): at most `capacityBytes` of payloads, and always
///   the chunk inflated last, evicted by CLOCK (second chance) when a new chunk
///   does not fit; a chunk still in use by a reader lives until that reader is
///   done with it. Memory stays below `max(capacityBytes, one chunk) + one chunk
///   per resolving thread`.
/// - **Unpacked** (`MIXSHARDS_UNPACKED_SOURCE`, see `UnpackedSource`): the whole copy laid out
///   as *Whole* does, in a file made once (every chunk inflated on all threads) and mapped
///   by every later reader; each chunk's rawCRC is checked when a reader first uses it.
public final class SourceChunkCache: @unchecked Sendable {
    /// How the cache has served requests.
    public struct Statistics: Sendable, Equatable {
        /// Requests served from memory.
        public var hits = 0
        /// Chunks inflated (first use, or again after eviction).
        public var inflated = 0
        /// Chunks dropped to make room.
        public var evicted = 0
        /// Payload bytes held now.
        public var residentBytes = 0

        public init() {}
    }

    public let capacityBytes: Int
    /// Whether the whole copy is kept (one buffer, no eviction).
    public var keepsWholeCopy: Bool { whole != nil }
    /// The unpacked copy read through, and whether this cache made it (nil when there is none).
    public let unpacked: (path: String, made: Bool)?
    private let reader: ShardReader
    private let whole: Whole?
    private let bounded: Locked<Bounded>?

    /// A cache of `reader`'s chunks: the whole copy, or at most `capacityBytes` of it; with
    /// `unpacked`, the unpacked copy in that directory under that key (made first when it is
    /// missing, on `threads` threads).
    init(reader: ShardReader, capacityBytes: Int, unpacked: (directory: String, key: String)? = nil, threads: Int = 1) throws {
        self.reader = reader
        self.capacityBytes = max(0, capacityBytes)
        let (offsets, total) = Whole.layout(reader)
        if let unpacked, total > 0 {  // (an empty copy has nothing to map)
            let (file, made) = try UnpackedSource.open(reader: reader, offsets: offsets, total: total,
                                                       directory: unpacked.directory, key: unpacked.key, threads: threads)
            self.unpacked = (file.path, made)
            whole = Whole(reader: reader, offsets: offsets, mapping: file)
            bounded = nil
        } else if total <= self.capacityBytes {
            self.unpacked = nil
            whole = Whole(reader: reader, offsets: offsets, total: total)
            bounded = nil
        } else {
            self.unpacked = nil
            whole = nil
            bounded = Locked(Bounded(count: reader.index.count))
        }
    }

    public var statistics: Statistics {
        if let whole { return whole.statistics }
        return bounded!.withLock { $0.statistics }
    }

    /// Calls `body(j, payload)` for each j whose chunk `chunks[j]` is in memory (the bounded
    /// cache under one lock, so that nothing is evicted meanwhile and nothing is retained per
    /// call; `body` must not use the cache); returns the js whose chunk is not. Each found
    /// counts as a hit.
    func withResident(_ chunks: [Int], _ body: (Int, UnsafePointer<UInt8>) throws -> Void) rethrows -> [Int] {
        var missing: [Int] = []
        var hits = 0
        if let whole {
            for (j, i) in chunks.enumerated() {
                if whole.state[i].load(ordering: .acquiring) == Whole.ready {
                    hits += 1
                    try body(j, UnsafePointer(whole.base + whole.offsets[i]))
                } else {
                    missing.append(j)
                }
            }
            whole.hits.wrappingAdd(hits, ordering: .relaxed)
            return missing
        }
        return try bounded!.withLock { s in
            try s.bases.withUnsafeBufferPointer { bases in
                try s.referenced.withUnsafeMutableBufferPointer { referenced in
                    for (j, i) in chunks.enumerated() {
                        if let base = bases[i] {
                            referenced[i] = true
                            hits += 1
                            try body(j, base)
                        } else {
                            missing.append(j)
                        }
                    }
                }
            }
            s.statistics.hits += hits
            return missing
        }
    }

    /// Counts `n` more requests served from memory (references resolved from a chunk another
    /// request of the same batch just inflated or found).
    func countHits(_ n: Int) {
        guard n > 0 else { return }
        if let whole { whole.hits.wrappingAdd(n, ordering: .relaxed) } else { bounded!.withLock { $0.statistics.hits += n } }
    }

    /// Calls `body` with chunk `i`'s payload, inflated and checked (from memory when it is
    /// there), valid only during the call. Errors name the source copy and the chunk.
    func withChunk<R>(_ i: Int, _ body: (UnsafePointer<UInt8>) throws -> R) throws -> R {
        if let whole { return try whole.withChunk(i, body) }
        let chunk = try boundedChunk(i)
        return try withExtendedLifetime(chunk) { try body(UnsafePointer(chunk.base)) }
    }

    // MARK: Whole copy

    /// The whole copy in one buffer: chunk i at `offsets[i]`, its state in `state[i]`
    /// (`empty`, or `unchecked` in an unpacked copy; `claimed` while one thread inflates or
    /// checks it there; `ready`).
    final class Whole: @unchecked Sendable {
        static let empty: UInt8 = 0, claimed: UInt8 = 1, ready: UInt8 = 2, unchecked: UInt8 = 3
        let reader: ShardReader
        let base: UnsafeMutablePointer<UInt8>
        let offsets: [Int]
        let state: UnsafeMutablePointer<Atomic<UInt8>>
        /// The unpacked copy `base` maps (copy-on-write), or nil when `base` was allocated.
        let mapping: MappedFile?
        let hits = Atomic<Int>(0)
        let inflated = Atomic<Int>(0)
        let residentBytes = Atomic<Int>(0)
        /// Whether a chunk of the unpacked copy failed its rawCRC (the file is then removed, once).
        let damaged = Atomic<Bool>(false)

        /// Where each chunk goes, and the bytes of the whole: each chunk at a multiple of 64
        /// bytes, so that images copied out of it start on a cache line, as those of a mapped
        /// uncompressed copy do (a 3,112-byte stride cost a quarter more in copies).
        static func layout(_ reader: ShardReader) -> (offsets: [Int], total: Int) {
            var offsets: [Int] = []
            offsets.reserveCapacity(reader.index.count)
            var at = 0
            for e in reader.index {
                offsets.append(at)
                at += (Int(e.rawBytes) + 63) & ~63
            }
            return (offsets, at)
        }

        /// An allocated buffer of `total` bytes, every chunk empty.
        init(reader: ShardReader, offsets: [Int], total: Int) {
            self.reader = reader
            self.offsets = offsets
            mapping = nil
            base = UnsafeMutableRawPointer.allocate(byteCount: max(total, 1), alignment: 64).bindMemory(to: UInt8.self, capacity: max(total, 1))
            state = Self.states(reader.index.count, Whole.empty)
        }

        /// The unpacked copy `mapping` (laid out by `layout`), every chunk unchecked.
        init(reader: ShardReader, offsets: [Int], mapping: MappedFile) {
            self.reader = reader
            self.offsets = offsets
            self.mapping = mapping
            base = mapping.mutableBytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
            state = Self.states(reader.index.count, Whole.unchecked)
        }

        static func states(_ n: Int, _ initial: UInt8) -> UnsafeMutablePointer<Atomic<UInt8>> {
            let state = UnsafeMutablePointer<Atomic<UInt8>>.allocate(capacity: max(n, 1))
            for i in 0..<n { (state + i).initialize(to: Atomic(initial)) }
            return state
        }

        deinit {
            state.deinitialize(count: reader.index.count)
            state.deallocate()
            if mapping == nil { base.deallocate() }
        }

        var statistics: Statistics {
            var s = Statistics()
            s.hits = hits.load(ordering: .relaxed)
            s.inflated = inflated.load(ordering: .relaxed)
            s.residentBytes = residentBytes.load(ordering: .relaxed)
            return s
        }

        func withChunk<R>(_ i: Int, _ body: (UnsafePointer<UInt8>) throws -> R) throws -> R {
            let slot = base + offsets[i]
            while true {
                switch state[i].load(ordering: .acquiring) {
                case Whole.ready:
                    hits.wrappingAdd(1, ordering: .relaxed)
                    return try body(UnsafePointer(slot))
                case let found where found == Whole.empty || found == Whole.unchecked:
                    guard state[i].compareExchange(expected: found, desired: Whole.claimed, ordering: .acquiringAndReleasing).exchanged else {
                        continue
                    }
                    let e = reader.index[i]
                    let buffer = UnsafeMutableRawBufferPointer(start: slot, count: Int(e.rawBytes))
                    // An unpacked chunk whose rawCRC holds is used as it is; any other is inflated in its place
                    // (in an unpacked copy's private pages: the damaged file is removed and made again by the next open).
                    if found == Whole.empty || Zlib.crc32(UnsafeRawBufferPointer(buffer)) != e.rawCRC {
                        do {
                            try reader.decodePayload(i, into: buffer)
                        } catch {
                            state[i].store(found, ordering: .releasing)  // asked again, inflated and refused again
                            throw error
                        }
                        inflated.wrappingAdd(1, ordering: .relaxed)
                        if let mapping, !damaged.exchange(true, ordering: .relaxed) { FileIO.remove(mapping.path) }
                    }
                    residentBytes.wrappingAdd(buffer.count, ordering: .relaxed)
                    state[i].store(Whole.ready, ordering: .releasing)
                    return try body(UnsafePointer(slot))
                default:
                    sched_yield()  // another thread is inflating it into its place: one chunk, microseconds
                }
            }
        }
    }

    // MARK: Bounded

    /// One inflated chunk of the bounded cache: its raw payload (images first, in sample order).
    final class Chunk: @unchecked Sendable {
        let base: UnsafeMutablePointer<UInt8>
        let byteCount: Int

        init(byteCount: Int) {
            self.byteCount = byteCount
            base = .allocate(capacity: max(byteCount, 1))
        }

        deinit { base.deallocate() }
    }

    private struct Bounded {
        /// By chunk index: the resident chunk, or nil.
        var chunks: [Chunk?]
        /// By chunk index: the resident chunk's payload (read on a hit without retaining the chunk).
        var bases: [UnsafePointer<UInt8>?]
        /// By chunk index: CLOCK's reference bit.
        var referenced: [Bool]
        /// Indices of the resident chunks, in no particular order; CLOCK's hand walks it.
        var resident: [Int] = []
        var hand = 0
        var statistics = Statistics()

        init(count n: Int) {
            chunks = [Chunk?](repeating: nil, count: n)
            bases = [UnsafePointer<UInt8>?](repeating: nil, count: n)
            referenced = [Bool](repeating: false, count: n)
        }
    }

    /// Chunk `i` of the bounded cache, inflated and checked (from memory when it is resident).
    private func boundedChunk(_ i: Int) throws -> Chunk {
        let bounded = self.bounded!
        if let hit = bounded.withLock({ s -> Chunk? in
            guard let c = s.chunks[i] else { return nil }
            s.referenced[i] = true
            s.statistics.hits += 1
            return c
        }) {
            return hit
        }
        let fresh = Chunk(byteCount: Int(reader.index[i].rawBytes))
        try reader.decodePayload(i, into: UnsafeMutableRawBufferPointer(start: fresh.base, count: fresh.byteCount))
        let capacity = capacityBytes
        return bounded.withLock { s in
            if let c = s.chunks[i] {  // another thread inflated it meanwhile
                s.referenced[i] = true
                s.statistics.hits += 1
                return c
            }
            s.statistics.inflated += 1
            while s.statistics.residentBytes + fresh.byteCount > capacity, !s.resident.isEmpty {
                if s.hand >= s.resident.count { s.hand = 0 }
                let j = s.resident[s.hand]
                if s.referenced[j] {
                    s.referenced[j] = false
                    s.hand += 1
                    continue
                }
                let last = s.resident.removeLast()
                if s.hand < s.resident.count { s.resident[s.hand] = last }
                s.statistics.residentBytes -= s.chunks[j]!.byteCount
                s.chunks[j] = nil
                s.bases[j] = nil
                s.statistics.evicted += 1
            }
            s.chunks[i] = fresh
            s.bases[i] = UnsafePointer(fresh.base)
            s.referenced[i] = true
            s.resident.append(i)
            s.statistics.residentBytes += fresh.byteCount
            return fresh
        }
    }
}
