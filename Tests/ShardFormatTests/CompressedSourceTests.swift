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
        b.labels = (0..<n).flatMap { i in (0..<3).map { Float($0 == i % 3 ? 1 : 0) } }
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
            }
        }
    }

    /// A cache smaller than the copy keeps within its bound (plus the chunk inflated last), evicts, and
    /// serves the right bytes to several threads at once.
    func testBoundedCacheUnderConcurrentUse() throws {
        let dir = try ShardFixtures.temporaryDirectory(name)
        let n = 200
        let block = Self.sourceBlock(n: n)
        let imageBytes = block.shape.imageBytes
        let chunkBytes = 2 * (imageBytes + 12)
        let path = dir + "/source.mxs"
        try Self.write(block, perChunk: 2, to: path)
        let source = try SourceImages(path: path, cacheBytes: 10 * chunkBytes)
        let failures = Locked([String]())
        let peak = Locked(0)
        try Parallel.forEach(count: 4, threads: 4) { t in
            var rng = CounterRNG(seed: UInt64(t), stream: .test)
            for _ in 0..<2000 {
                let k = rng.uniformInt(below: n)
                let got = try source.withImage(k) { Array(UnsafeBufferPointer(start: $0, count: imageBytes)) }
                if got != Array(block.images[(k * imageBytes)..<((k + 1) * imageBytes)]) { failures.withLock { $0.append("image \(k)") } }
                let resident = source.cacheStatistics.residentBytes
                peak.withLock { $0 = max($0, resident) }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        let stats = source.cacheStatistics
        XCTAssertLessThanOrEqual(peak.withLock { $0 }, 10 * chunkBytes)
        XCTAssertGreaterThan(stats.evicted, 100)
        XCTAssertEqual(stats.hits + stats.inflated, 8000)
        XCTAssertEqual(stats.residentBytes, (stats.inflated - stats.evicted) * chunkBytes)
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
}
