import Foundation
import MixCore
import ShardFormat
import ZlibKit
import XCTest

/// A compressed source copy (v3): images inflated on demand into a bounded cache
/// shared by threads, each chunk's rawCRC checked when it is inflated.
final class CompressedSourceTests: XCTestCase {
    /// `n` source images of 3×4×5 with one-hot labels of 3 classes (split source, no provenance).
    static func sourceBlock(n: Int) -> SampleBlock {
        var b = ShardFixtures.block(n: n, channels: 3, height: 4, width: 5, classes: 3, seed: 9)
        b.provenance = []
        b.labels = .dense((0..<n).flatMap { i in (0..<3).map { Float($0 == i % 3 ? 1 : 0) } })
        return b
    }

    static func write(_ block: SampleBlock, perChunk: Int, codec: Codec = .zlib, filter: ImageFilter = .delta,
                      to path: String) throws {
        let e = ShardEncoding(codec: codec, level: 1, strategy: .rle, filter: filter, samplesPerChunk: perChunk, provenance: false)
        try FileIO.writeAtomically(path, ShardWriter.encode(block, encoding: e, split: .source, epoch: 0, shardIndex: 0))
    }

    func image(_ source: SourceImages, _ k: Int) throws -> [UInt8] {
        try source.withImage(k) { Array(UnsafeBufferPointer(start: $0, count: source.shape.imageBytes)) }
    }

    /// Every encoding of the copy gives the same images; compressed ones inflate each chunk once
    /// while the cache holds them all.
    func testEveryEncodingGivesTheSameImages() throws {
        let dir = try ShardFixtures.temporaryDirectory(name)
        let block = Self.sourceBlock(n: 50)
        let imageBytes = block.shape.imageBytes
        for (codec, filter) in [(Codec.none, ImageFilter.none), (.none, .delta), (.zlib, .none), (.zlib, .delta)] {
            for perChunk in [1, 3, 50] {
                let path = dir + "/source-\(codec)-\(filter)-\(perChunk).mxs"
                try Self.write(block, perChunk: perChunk, codec: codec, filter: filter, to: path)
                let source = try SourceImages(path: path)
                XCTAssertEqual(source.isCompressed, codec != .none || filter != .none)
                for k in [0, 49, 7, 0, 1, 2, 3, 48] {
                    XCTAssertEqual(try image(source, k), Array(block.images[(k * imageBytes)..<((k + 1) * imageBytes)]), "\(path) image \(k)")
                }
                if source.isCompressed {
                    let chunks = Set([0, 49, 7, 1, 2, 3, 48].map { $0 / perChunk }).count
                    XCTAssertEqual(source.cacheStatistics.inflated, chunks, path)
                    XCTAssertEqual(source.cacheStatistics.hits, 8 - chunks, path)
                }
                // Many at once (repeats, any order), as a chunk's references are resolved.
                let many = [5, 3, 5, 49, 0, 20, 21, 22, 3, 40, 7]
                var seen = [Int](repeating: 0, count: many.count)
                try source.withImages(many) { j, image in
                    seen[j] += 1
                    let k = many[j]
                    XCTAssertEqual(Array(UnsafeBufferPointer(start: image, count: imageBytes)),
                                   Array(block.images[(k * imageBytes)..<((k + 1) * imageBytes)]), "\(path) image \(k) of many")
                }
                XCTAssertEqual(seen, [Int](repeating: 1, count: many.count), path)
            }
        }
    }

    /// Threads at once get the right bytes, one image or a chunk's references at a time: from the whole
    /// copy (it fits the bound: each chunk inflated once, however many threads asked for it at once),
    /// and from a cache smaller than the copy, which keeps within its bound and evicts.
    func testCacheUnderConcurrentUse() throws {
        let dir = try ShardFixtures.temporaryDirectory(name)
        let n = 200
        let block = Self.sourceBlock(n: n)
        let imageBytes = block.shape.imageBytes
        let chunkBytes = 2 * (imageBytes + 12)
        let path = dir + "/source.mxs"
        try Self.write(block, perChunk: 2, to: path)
        for bound in [10 * chunkBytes, SourceImages.defaultCacheBytes] {
            let source = try SourceImages(path: path, cacheBytes: bound)
            let failures = Locked([String]())
            let peak = Locked(0)
            try Parallel.forEach(count: 4, threads: 4) { t in
                var rng = CounterRNG(seed: UInt64(t), stream: .test)
                for round in 0..<400 {
                    let ks = (0..<(round % 2 == 0 ? 1 : 9)).map { _ in rng.uniformInt(below: n) }
                    try source.withImages(ks) { j, image in
                        if Array(UnsafeBufferPointer(start: image, count: imageBytes)) != Array(block.images[(ks[j] * imageBytes)..<((ks[j] + 1) * imageBytes)]) {
                            failures.withLock { $0.append("image \(ks[j])") }
                        }
                    }
                    let resident = source.cacheStatistics.residentBytes
                    peak.withLock { $0 = max($0, resident) }
                }
            }
            XCTAssertEqual(failures.withLock { $0 }, [], "bound \(bound)")
            let stats = source.cacheStatistics
            XCTAssertEqual(stats.hits + stats.inflated, 4 * 200 * (1 + 9), "bound \(bound)")
            XCTAssertEqual(stats.residentBytes, (stats.inflated - stats.evicted) * chunkBytes, "bound \(bound)")
            if bound == SourceImages.defaultCacheBytes {
                XCTAssertEqual(stats.evicted, 0)
                XCTAssertEqual(stats.inflated, 100)  // every chunk, once
            } else {
                XCTAssertLessThanOrEqual(peak.withLock { $0 }, bound)
                XCTAssertGreaterThan(stats.evicted, 100)
            }
        }
        // A bound below one chunk still keeps the chunk inflated last: a run of images of one chunk inflates it once.
        let tiny = try SourceImages(path: path, cacheBytes: 1)
        for k in [10, 11, 10, 11] { XCTAssertEqual(try image(tiny, k), Array(block.images[(k * imageBytes)..<((k + 1) * imageBytes)])) }
        XCTAssertEqual(tiny.cacheStatistics.inflated, 1)
        XCTAssertEqual(tiny.cacheStatistics.residentBytes, chunkBytes)
    }

    /// A damaged chunk of a compressed copy is found when a reference first needs it, named by file and
    /// chunk; opening the copy checks its structure only, and the other chunks still read.
    func testDamagedChunkIsNamedWhenInflated() throws {
        let dir = try ShardFixtures.temporaryDirectory(name)
        let block = Self.sourceBlock(n: 6)
        let path = dir + "/source.mxs"
        try Self.write(block, perChunk: 1, to: path)
        var bytes = try FileIO.read(path)
        let reader = try ShardReader(path: path)
        let c3 = reader.index[3]
        // Flip a bit of chunk 3's deflate data behind its 2-byte zlib header: inflating fails or the CRC does.
        bytes[Int(c3.offset) + 4] ^= 0x10
        try FileIO.writeAtomically(path, bytes)
        let source = try SourceImages(path: path)
        XCTAssertEqual(try image(source, 2).count, 60)
        XCTAssertThrowsError(try image(source, 3)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(path): chunk 3: "), "\(error)")
        }
        XCTAssertThrowsError(try image(source, 3))  // not cached: asked again, inflated and refused again
        XCTAssertEqual(try image(source, 4).count, 60)
        // A chunk that inflates but is not what its rawCRC says (the index edited, its CRC recomputed).
        try Self.write(block, perChunk: 1, to: path)
        var model = try FileIO.read(path)
        let indexOffset = model.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: model.count - 32, as: UInt64.self)) }
        model[indexOffset + 32 + 24] ^= 1  // chunk 1's rawCRC
        let crc = model.withUnsafeBytes { Zlib.crc32(UnsafeRawBufferPointer(rebasing: $0[indexOffset..<(indexOffset + 6 * 32)])) }
        withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { model[model.count - 32 + 12 + i] = $0[i] } }
        try FileIO.writeAtomically(path, model)
        let crcSource = try SourceImages(path: path)
        XCTAssertThrowsError(try image(crcSource, 1)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(path): chunk 1: rawCRC mismatch (stored 0x"), "\(error)")
        }
    }

    /// A compressed copy read through its unpacked copy: made once (every chunk, on several threads)
    /// under the key, the same images as the compressed and the uncompressed copies, mapped by the
    /// next reader without inflating anything; a file of the wrong size is made again, and a damaged
    /// one still gives the right images (that chunk inflated again) and is removed.
    func testUnpackedCopyIsMadeOnceAndChecked() throws {
        let dir = try ShardFixtures.temporaryDirectory(name)
        let n = 50
        let block = Self.sourceBlock(n: n)
        let imageBytes = block.shape.imageBytes
        let path = dir + "/source.mxs"
        try Self.write(block, perChunk: 3, to: path)
        let key = String(repeating: "ab", count: 32)
        let unpackDir = dir + "/cache/unpacked"
        let file = unpackDir + "/" + UnpackedSource.fileName(key: key)
        func images(_ source: SourceImages) throws -> [UInt8] { try (0..<n).flatMap { try image(source, $0) } }

        let first = try SourceImages(path: path, unpacked: (unpackDir, key), threads: 3)
        XCTAssertEqual(first.unpacked?.path, file)
        XCTAssertEqual(first.unpacked?.made, true)
        // 17 chunks: 16 of 3 images (180 + 36 label bytes, padded to 256) and one of 2 (120 + 24, padded to 192).
        XCTAssertEqual(try FileIO.regularFileSize(file), 16 * 256 + 192)
        XCTAssertEqual(try images(first), block.images)
        XCTAssertEqual(first.cacheStatistics.inflated, 0)  // made whole before any read; read, checked
        XCTAssertEqual(try FileIO.list(unpackDir), [UnpackedSource.fileName(key: key)])  // no temporary left

        let again = try SourceImages(path: path, unpacked: (unpackDir, key))
        XCTAssertEqual(again.unpacked?.made, false)
        XCTAssertEqual(try images(again), block.images)
        XCTAssertEqual(again.cacheStatistics.inflated, 0)
        var seen = 0
        try again.withImages([49, 0, 3]) { j, image in
            seen += 1
            let k = [49, 0, 3][j]
            XCTAssertEqual(Array(UnsafeBufferPointer(start: image, count: imageBytes)), Array(block.images[(k * imageBytes)..<((k + 1) * imageBytes)]))
        }
        XCTAssertEqual(seen, 3)

        // Cut short (another tool, a full disk): made again.
        try FileIO.writeAtomically(file, Array(try FileIO.read(file).prefix(1000)))
        let remade = try SourceImages(path: path, unpacked: (unpackDir, key))
        XCTAssertEqual(remade.unpacked?.made, true)
        XCTAssertEqual(try images(remade), block.images)

        // A byte of chunk 5 (images 15-17) changed: still the right images, that chunk inflated, the file removed.
        var bytes = try FileIO.read(file)
        bytes[5 * 256 + 7] ^= 0x40
        try FileIO.writeAtomically(file, bytes)
        let damaged = try SourceImages(path: path, unpacked: (unpackDir, key))
        XCTAssertEqual(damaged.unpacked?.made, false)
        XCTAssertEqual(try images(damaged), block.images)
        XCTAssertEqual(damaged.cacheStatistics.inflated, 1)
        XCTAssertNil(try FileIO.regularFileSize(file))
        XCTAssertEqual(try images(damaged), block.images)  // the mapping lives on, repaired in its private pages

        // An uncompressed copy is mapped as it is: nothing unpacked.
        let plain = dir + "/plain.mxs"
        try Self.write(block, perChunk: 3, codec: .none, filter: .none, to: plain)
        XCTAssertNil(try SourceImages(path: plain, unpacked: (dir + "/other", key)).unpacked)
        XCTAssertFalse(FileIO.exists(dir + "/other"))

        // The key names a file: only a SHA-256 is taken.
        XCTAssertThrowsError(try SourceImages(path: path, unpacked: (unpackDir, "../x"))) { error in
            XCTAssertEqual("\(error)", "\(path): cannot be unpacked under a key that is not a SHA-256 (64 lowercase hex digits)")
        }
    }
}
