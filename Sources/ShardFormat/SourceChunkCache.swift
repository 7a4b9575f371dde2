#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MixCore
import Synchronization

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
    private let reader: ShardReader
    private let whole: Whole?
    private let bounded: Locked<Bounded>?

    init(reader: ShardReader, capacityBytes: Int) {
        self.reader = reader
        self.capacityBytes = max(0, capacityBytes)
        let total = reader.index.reduce(0) { $0 + ((Int($1.rawBytes) + 63) & ~63) }  // as `Whole` lays them out
        if total <= self.capacityBytes {
            whole = Whole(reader: reader)
            bounded = nil
        } else {
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
    /// (`empty`, `claimed` while one thread inflates it there, `ready`).
    final class Whole: @unchecked Sendable {
        static let empty: UInt8 = 0, claimed: UInt8 = 1, ready: UInt8 = 2
        let reader: ShardReader
        let base: UnsafeMutablePointer<UInt8>
        let offsets: [Int]
        let state: UnsafeMutablePointer<Atomic<UInt8>>
        let hits = Atomic<Int>(0)
        let inflated = Atomic<Int>(0)
        let residentBytes = Atomic<Int>(0)

        init(reader: ShardReader) {
            self.reader = reader
            var offsets: [Int] = []
            offsets.reserveCapacity(reader.index.count)
            // Each chunk at a multiple of 64 bytes: images copied out of it start on a cache line, as
            // those of a mapped uncompressed copy do (a 3,112-byte stride cost a quarter more in copies).
            var at = 0
            for e in reader.index {
                offsets.append(at)
                at += (Int(e.rawBytes) + 63) & ~63
            }
            self.offsets = offsets
            base = UnsafeMutableRawPointer.allocate(byteCount: max(at, 1), alignment: 64).bindMemory(to: UInt8.self, capacity: max(at, 1))
            state = .allocate(capacity: max(reader.index.count, 1))
            for i in 0..<reader.index.count { (state + i).initialize(to: Atomic(Whole.empty)) }
        }

        deinit {
            state.deinitialize(count: reader.index.count)
            state.deallocate()
            base.deallocate()
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
                case Whole.empty:
                    guard state[i].compareExchange(expected: Whole.empty, desired: Whole.claimed, ordering: .acquiringAndReleasing).exchanged else {
                        continue
                    }
                    let bytes = Int(reader.index[i].rawBytes)
                    do {
                        try reader.decodePayload(i, into: UnsafeMutableRawBufferPointer(start: slot, count: bytes))
                    } catch {
                        state[i].store(Whole.empty, ordering: .releasing)  // asked again, inflated and refused again
                        throw error
                    }
                    inflated.wrappingAdd(1, ordering: .relaxed)
                    residentBytes.wrappingAdd(bytes, ordering: .relaxed)
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
