import MixCore

/// The inflated chunks of a compressed source copy, shared by every thread that
/// resolves references through one `SourceImages` (the loader's producer threads,
/// `verify`'s and `export`'s workers).
///
/// A chunk is inflated, unfiltered and its rawCRC checked the first time a
/// reference needs it (outside the lock: two threads may inflate the same chunk
/// at once, and one copy is kept). The cache keeps at most `capacityBytes` of
/// payloads, and always the chunk inflated last, evicting by CLOCK (second chance)
/// when a new chunk does not fit; a chunk still in use by a reader lives until
/// that reader is done with it. So memory stays below
/// `max(capacityBytes, one chunk) + one chunk per resolving thread`.
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

    /// One inflated chunk: its raw payload (images first, in sample order).
    final class Chunk: @unchecked Sendable {
        let base: UnsafeMutablePointer<UInt8>
        let byteCount: Int
        /// CLOCK's reference bit; guarded by the cache's lock.
        var referenced = true

        init(byteCount: Int) {
            self.byteCount = byteCount
            base = .allocate(capacity: max(byteCount, 1))
        }

        deinit { base.deallocate() }
    }

    private struct State {
        /// By chunk index: the resident chunk, or nil.
        var chunks: [Chunk?]
        /// Indices of the resident chunks, in no particular order; CLOCK's hand walks it.
        var resident: [Int] = []
        var hand = 0
        var statistics = Statistics()
    }

    public let capacityBytes: Int
    private let reader: ShardReader
    private let state: Locked<State>

    init(reader: ShardReader, capacityBytes: Int) {
        self.reader = reader
        self.capacityBytes = max(0, capacityBytes)
        state = Locked(State(chunks: [Chunk?](repeating: nil, count: reader.index.count)))
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Chunk `i`, inflated and checked (from memory when it is resident).
    func chunk(_ i: Int) throws -> Chunk {
        if let hit = state.withLock({ s -> Chunk? in
            guard let c = s.chunks[i] else { return nil }
            c.referenced = true
            s.statistics.hits += 1
            return c
        }) {
            return hit
        }
        let fresh = Chunk(byteCount: Int(reader.index[i].rawBytes))
        try reader.decodePayload(i, into: UnsafeMutableRawBufferPointer(start: fresh.base, count: fresh.byteCount))
        let capacity = capacityBytes
        return state.withLock { s in
            if let c = s.chunks[i] {  // another thread inflated it meanwhile
                c.referenced = true
                s.statistics.hits += 1
                return c
            }
            s.statistics.inflated += 1
            while s.statistics.residentBytes + fresh.byteCount > capacity, !s.resident.isEmpty {
                if s.hand >= s.resident.count { s.hand = 0 }
                let j = s.resident[s.hand]
                let victim = s.chunks[j]!
                if victim.referenced {
                    victim.referenced = false
                    s.hand += 1
                    continue
                }
                let last = s.resident.removeLast()
                if s.hand < s.resident.count { s.resident[s.hand] = last }
                s.chunks[j] = nil
                s.statistics.residentBytes -= victim.byteCount
                s.statistics.evicted += 1
            }
            s.chunks[i] = fresh
            s.resident.append(i)
            s.statistics.residentBytes += fresh.byteCount
            return fresh
        }
    }
}
