import MixCore
import ShardFormat
import ShardTestSupport
import XCTest

/// Self-consistent hostile shards (valid CRCs): each is refused with one line
/// naming the file and the field or chunk, before anything is allocated for it.
final class HostileShardTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = try ShardFixtures.temporaryDirectory(name)
    }

    /// A small valid shard: 10 samples of 3×4×5, 3 classes, chunks of 4.
    func good(codec: Codec = .zlib, n: Int = 10, perChunk: Int = 4) -> [UInt8] {
        ShardWriter.encode(ShardFixtures.block(n: n), encoding: ShardEncoding(codec: codec, samplesPerChunk: perChunk),
                           split: .train, epoch: 0, shardIndex: 0)
    }

    func failure(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        try ShardFixtures.readFailure(bytes, at: dir + "/crafted.mxs", file: file, line: line)
    }

    func testCraftingKeepsAGoodShardGood() throws {
        var c = CraftedShard(good())
        c.header(CraftedShard.Header.sampleCount, UInt32(10))
        c.index(chunk: 0, CraftedShard.Index.firstSample, UInt32(0))
        try FileIO.writeAtomically(dir + "/ok.mxs", c.bytes)
        XCTAssertEqual(try ShardReader(path: dir + "/ok.mxs").readAll().count, 10)
    }

    /// indexOffset + 32·N + 32 wraps around 2^64 to the file size; it used to pass and trap converting to Int.
    func testIndexOffsetThatWrapsAround() throws {
        var c = CraftedShard(good())
        let chunks = UInt32.max
        c.header(CraftedShard.Header.chunkCount, chunks)
        c.footer(CraftedShard.Footer.chunkCount, chunks)
        let tail = UInt64(32) * UInt64(chunks) + 32
        c.footer(CraftedShard.Footer.indexOffset, UInt64(c.bytes.count) &- tail)
        let msg = try failure(c.bytes)
        XCTAssertTrue(msg.contains("footer: file size \(c.bytes.count) != indexOffset 18446743936270599"), msg)
    }

    /// 65535×65535×65535 images: the sample-size product used to overflow; now the header is over the format limits.
    func testImageDimensionsBeyondTheLimits() throws {
        var c = CraftedShard(good())
        for field in [CraftedShard.Header.channels, CraftedShard.Header.height, CraftedShard.Header.width] {
            c.header(field, UInt16.max)
        }
        let msg = try failure(c.bytes)
        XCTAssertTrue(msg.contains("header: image shape 65,535×65,535 (width×height, 65535 channels) exceeds the format limits (at most 4 channels and sides of 1,024)"), msg)

        var wide = CraftedShard(good())
        wide.header(CraftedShard.Header.width, UInt16(1025))
        XCTAssertTrue(try failure(wide.bytes).contains("header: image shape 1,025×4 (width×height, 3 channels) exceeds"))
        // The header's u16 holds every class count the format allows (65,535); but a chunk's labels expand
        // to dense rows, so 65,536 sparse samples of 65,535 classes (17 GB of rows, 6.8 MB stored) are refused.
        var sparse = CraftedShard(ShardWriter.encode(ShardFixtures.sparseBlock(n: 10), encoding: ShardEncoding(samplesPerChunk: 4),
                                                     split: .train, epoch: 0, shardIndex: 0))
        sparse.header(CraftedShard.Header.classCount, UInt16.max)
        sparse.header(CraftedShard.Header.sampleCount, UInt32(65_536))
        sparse.header(CraftedShard.Header.samplesPerChunk, UInt32(65_536))
        XCTAssertTrue(try failure(sparse.bytes).hasSuffix("/crafted.mxs: header: chunks of 65536 samples expand to label rows of "
                                                          + "17179607040 bytes (65,535 classes), beyond the format's 256 MiB per chunk"))
    }

    func testRawBytesArithmeticIsChecked() {
        let h = ShardHeader(flags: 1, sampleCount: 1, chunkCount: 1, samplesPerChunk: 1, channels: .max, height: .max,
                            width: .max, classCount: .max, codec: .zlib, imageFilter: .delta, split: .train, epoch: 0, shardIndex: 0)
        XCTAssertEqual(h.sampleBytes, 65535 * 65535 * 65535 + 4 * 65535 + 32)
        XCTAssertNil(h.checkedRawBytes(samples: Int(UInt32.max)))
        XCTAssertNil(h.checkedRawBytes(samples: -1))
        XCTAssertEqual(h.checkedRawBytes(samples: 2), 2 * h.sampleBytes)
    }

    /// A tiny shard whose one chunk declares 1 GiB of payload (4×1024×1024 images, 256 per chunk):
    /// refused from the header, before the reader allocates for the chunk.
    func testChunkDeclaringAGigabyteIsRefusedBeforeAllocating() throws {
        var c = CraftedShard(good(n: 1, perChunk: 1))
        c.header(CraftedShard.Header.channels, UInt16(4))
        c.header(CraftedShard.Header.height, UInt16(1024))
        c.header(CraftedShard.Header.width, UInt16(1024))
        c.header(CraftedShard.Header.sampleCount, UInt32(256))
        c.header(CraftedShard.Header.samplesPerChunk, UInt32(256))
        c.footer(CraftedShard.Footer.sampleCount, UInt32(256))
        c.index(chunk: 0, CraftedShard.Index.sampleCount, UInt32(256))
        c.index(chunk: 0, CraftedShard.Index.rawBytes, UInt32(256 * (4 * 1024 * 1024 + 12 + 32)))
        XCTAssertLessThan(c.bytes.count, 1000)
        let msg = try failure(c.bytes)
        XCTAssertTrue(msg.contains("header: chunks of 256 samples of 4194348 bytes exceed the format's 256 MiB per chunk"), msg)
    }

    /// 343,000 samples in one chunk: more than the writer ever puts in a chunk.
    func testSamplesPerChunkBeyondTheLimit() throws {
        var c = CraftedShard(good(n: 1, perChunk: 1))
        c.header(CraftedShard.Header.sampleCount, UInt32(343_000))
        c.header(CraftedShard.Header.samplesPerChunk, UInt32(343_000))
        c.footer(CraftedShard.Footer.sampleCount, UInt32(343_000))
        c.index(chunk: 0, CraftedShard.Index.sampleCount, UInt32(343_000))
        let msg = try failure(c.bytes)
        XCTAssertTrue(msg.contains("header: samplesPerChunk 343000 exceeds the format limit 65536"), msg)
    }

    /// A chunk whose rawBytes disagrees with its samples is refused at open, naming the chunk.
    func testRawBytesThatDisagreeWithTheSamples() throws {
        var c = CraftedShard(good(codec: .none))
        c.index(chunk: 1, CraftedShard.Index.rawBytes, UInt32.max)
        let msg = try failure(c.bytes)
        XCTAssertTrue(msg.contains("chunk 1: rawBytes 4294967295 does not match 4 samples (4 with pixels) of 104 bytes"), msg)
    }

    /// The largest chunk the writer makes, `maxSamplesPerChunk` samples, reads back.
    func testChunkAtTheSampleLimitReads() throws {
        let n = MixShardLayout.maxSamplesPerChunk
        let block = ShardFixtures.block(n: n, channels: 1, height: 1, width: 2, classes: 2)
        let bytes = ShardWriter.encode(block, encoding: ShardEncoding(samplesPerChunk: n), split: .train, epoch: 0, shardIndex: 0)
        try FileIO.writeAtomically(dir + "/max.mxs", bytes)
        let r = try ShardReader(path: dir + "/max.mxs")
        XCTAssertEqual(r.index.count, 1)
        XCTAssertEqual(try r.readAll().count, n)
    }

    func testWriterLimits() {
        let cifar = SampleShape(channels: 3, height: 32, width: 32, classCount: 10)
        XCTAssertNil(MixShardLayout.limitProblem(shape: cifar, samplesPerChunk: 65_536, samplesPerShard: 100_000, provenance: true))
        XCTAssertEqual(MixShardLayout.limitProblem(shape: cifar, samplesPerChunk: 65_537, samplesPerShard: 100_000, provenance: true),
                       "shards.samples_per_chunk must be from 1 to 65,536 (got 65537)")
        let big = SampleShape(channels: 4, height: 1024, width: 1024, classCount: 10)
        XCTAssertEqual(MixShardLayout.limitProblem(shape: big, samplesPerChunk: 256, samplesPerShard: 5000, provenance: false),
                       "shards.samples_per_chunk = 256: a chunk of 256 samples of 4194316 bytes exceeds the format's 256 MiB per chunk; use at most 63 samples per chunk")
        XCTAssertEqual(MixShardLayout.limitProblem(shape: big, samplesPerChunk: 256, samplesPerShard: 5000, provenance: false, version: 2),
                       "shards.samples_per_chunk = 256: a chunk of 256 samples of 4194344 bytes exceeds the format's 256 MiB per chunk; use at most 63 samples per chunk")
        // 65,535 classes: v2's dense rows (262,140 bytes a sample) fill 256 MiB at 1,012 samples; v3's records take 12 bytes,
        // but readers expand them to the same rows, so a v3 chunk holds at most 1,024.
        let wide = SampleShape(channels: 3, height: 32, width: 32, classCount: 65_535)
        XCTAssertNil(MixShardLayout.limitProblem(shape: wide, samplesPerChunk: 1012, samplesPerShard: 5000, provenance: true, version: 2))
        XCTAssertEqual(MixShardLayout.limitProblem(shape: wide, samplesPerChunk: 1013, samplesPerShard: 5000, provenance: true, version: 2),
                       "shards.samples_per_chunk = 1013: a chunk of 1013 samples of 265244 bytes exceeds the format's 256 MiB per chunk; use at most 1012 samples per chunk")
        XCTAssertNil(MixShardLayout.limitProblem(shape: wide, samplesPerChunk: 1024, samplesPerShard: 5000, provenance: true))
        XCTAssertEqual(MixShardLayout.limitProblem(shape: wide, samplesPerChunk: 2048, samplesPerShard: 5000, provenance: true),
                       "shards.samples_per_chunk = 2048: the label rows of a chunk of 2048 samples of 65,535 classes take 536862720 bytes as float32, "
                       + "beyond the format's 256 MiB per chunk; use at most 1024 samples per chunk")
        XCTAssertEqual(MixShardLayout.limitProblem(shape: SampleShape(channels: 3, height: 32, width: 32, classCount: 65_536),
                                                   samplesPerChunk: 1, samplesPerShard: 1, provenance: false),
                       "65536 classes; the format allows from 1 to 65,535")
        // A shard smaller than a chunk caps what a chunk holds.
        XCTAssertNil(MixShardLayout.limitProblem(shape: big, samplesPerChunk: 256, samplesPerShard: 60, provenance: false))
        XCTAssertEqual(MixShardLayout.limitProblem(shape: SampleShape(channels: 3, height: 2048, width: 32, classCount: 10),
                                                   samplesPerChunk: 1, samplesPerShard: 1, provenance: false),
                       "images are 32×2048 (width×height); the format allows sides from 1 to 1,024")
    }
}
