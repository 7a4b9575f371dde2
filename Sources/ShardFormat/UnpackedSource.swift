import MixCore

/// A compressed source copy kept unpacked on local disk: every chunk inflated once, into
/// a file that every later reader maps, so that resolving references costs what it costs
/// with an uncompressed copy (the compressed copy stays what is stored and moved; the
/// unpacked one is a cache, as large as an uncompressed copy, that may be deleted at any time).
///
/// Asked for with `MIXSHARDS_UNPACKED_SOURCE=DIR`. The file is `DIR/source-<sha256>.unpacked`,
/// named by the SHA-256 the manifest lists for the copy, and holds the raw chunk payloads
/// laid out as `SourceChunkCache` lays them out in memory (chunk i at a multiple of 64 bytes).
/// It is written to a temporary file, inflated on all threads with every rawCRC checked, and
/// renamed into place; processes racing to make it write the same bytes. A reader checks
/// each chunk's rawCRC the first time it uses it; a chunk that fails is inflated from the
/// compressed copy into the reader's private pages and the file removed, to be made again.
public enum UnpackedSource {
    /// The file name of the unpacked copy of a source copy whose SHA-256 is `key`.
    public static func fileName(key: String) -> String { "source-\(key).unpacked" }

    /// Bytes inflated at a time while making the file (then written in order).
    static let blockBytes = 64 << 20

    /// The unpacked copy of `reader` in `directory`, mapped copy-on-write; made first when it
    /// is missing or not `total` bytes long. Returns the mapping and whether it was made now.
    static func open(reader: ShardReader, offsets: [Int], total: Int, directory: String, key: String,
                     threads: Int) throws -> (file: MappedFile, made: Bool) {
        guard key.utf8.count == 64, key.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            throw MixError.file(reader.path, "cannot be unpacked under a key that is not a SHA-256 (64 lowercase hex digits)")
        }
        let path = directory + "/" + fileName(key: key)
        var made = false
        if try FileIO.regularFileSize(path) != total {
            try FileIO.makeDirectories(directory)
            try write(reader: reader, offsets: offsets, total: total, to: path, threads: threads)
            made = true
        }
        let file = try MappedFile(path, copyOnWrite: true)
        guard file.count == total else {
            throw MixError.file(path, "holds \(file.count) bytes; the unpacked copy of \(reader.path) holds \(total) (another process replaced it?)")
        }
        return (file, made)
    }

    /// Inflates every chunk of `reader` (each rawCRC checked) into the layout `offsets`,
    /// `blockBytes` at a time on `threads` threads, written to a temporary file renamed to `path`.
    static func write(reader: ShardReader, offsets: [Int], total: Int, to path: String, threads: Int) throws {
        let writer = try FileIO.AtomicWriter(path)
        let n = offsets.count
        let capacity = max(1, min(total, blockBytes))
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 64)
        defer { block.deallocate() }
        let end = { (i: Int) in i + 1 < n ? offsets[i + 1] : total }  // where chunk i's padding ends
        var first = 0
        while first < n {
            // Chunks first..<last: as many as fit in the block, at least one (a larger one gets its own buffer).
            let start = offsets[first]
            var last = first + 1
            while last < n && end(last) - start <= capacity { last += 1 }
            let span = end(last - 1) - start
            let buffer = span <= capacity ? UnsafeMutableRawBufferPointer(rebasing: block[0..<span])
                                          : UnsafeMutableRawBufferPointer.allocate(byteCount: span, alignment: 64)
            defer { if span > capacity { buffer.deallocate() } }
            buffer.initializeMemory(as: UInt8.self, repeating: 0)  // the padding to 64 bytes
            let base = UnsafeSendable(buffer.baseAddress!)
            let range = first
            try Parallel.forEach(count: last - first, threads: threads) { j in
                let i = range + j
                let raw = Int(reader.index[i].rawBytes)
                try reader.decodePayload(i, into: UnsafeMutableRawBufferPointer(start: base.value + (offsets[i] - start), count: raw))
            }
            try writer.append(UnsafeRawBufferPointer(buffer))
            first = last
        }
        try writer.commit()
    }
}

/// A pointer handed to worker threads that write disjoint ranges of what it points to.
private struct UnsafeSendable: @unchecked Sendable {
    let value: UnsafeMutableRawPointer
    init(_ value: UnsafeMutableRawPointer) { self.value = value }
}
