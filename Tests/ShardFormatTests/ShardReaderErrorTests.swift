import MixCore
import ShardFormat
import XCTest

/// Each damage is rejected with an error that names the file (and the chunk where there is one).
final class ShardReaderErrorTests: XCTestCase {
    var dir = ""
    var good: [UInt8] = []

    override func setUpWithError() throws {
        dir = try ShardFixtures.temporaryDirectory(name)
        good = ShardWriter.encode(ShardFixtures.block(n: 10), encoding: ShardEncoding(samplesPerChunk: 4),
                                  split: .train, epoch: 0, shardIndex: 0)
    }

    func failure(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        try ShardFixtures.readFailure(bytes, at: dir + "/bad.mxs", file: file, line: line)
    }

    func testGoodShardReads() throws {
        try FileIO.writeAtomically(dir + "/ok.mxs", good)
        XCTAssertEqual(try ShardReader(path: dir + "/ok.mxs").readAll().count, 10)
    }

    func testWrongMagic() throws {
        var b = good
        b[0] = UInt8(ascii: "X")
        XCTAssertTrue(try failure(b).contains("bad magic"))
    }

    func testWrongVersion() throws {
        var b = good
        b[8] = 3
        XCTAssertTrue(try failure(b).contains("unsupported version 3"))
    }

    func testHeaderCRC() throws {
        var b = good
        b[16] ^= 1 // sampleCount
        XCTAssertTrue(try failure(b).contains("header: CRC mismatch"))
    }

    func testTruncatedFile() throws {
        for cut in [1, 31, 100, good.count - 64] {
            let msg = try failure(Array(good.dropLast(cut)))
            XCTAssertTrue(msg.contains("footer") || msg.contains("truncated"), msg)
        }
        XCTAssertTrue(try failure(Array(good[0..<40])).contains("shorter than the 64-byte header"))
    }

    func testFlippedPayloadByteNamesTheChunk() throws {
        let path = dir + "/ok.mxs"
        try FileIO.writeAtomically(path, good)
        let index = try ShardReader(path: path).index
        for chunk in [0, 2] {
            var b = good
            b[Int(index[chunk].offset) + Int(index[chunk].storedBytes) / 2] ^= 0x10
            let msg = try failure(b)
            XCTAssertTrue(msg.contains("chunk \(chunk):"), msg)
        }
    }

    func testFlippedIndexByte() throws {
        var b = good
        b[b.count - 32 - 10] ^= 1
        XCTAssertTrue(try failure(b).contains("index: CRC mismatch"))
    }

    func testLabelRowThatDoesNotSumToOne() throws {
        var block = ShardFixtures.block(n: 5)
        block.labels[3 * 3] += 0.01
        let bytes = ShardWriter.encode(block, encoding: ShardEncoding(samplesPerChunk: 2), split: .train, epoch: 0, shardIndex: 0)
        let msg = try failure(bytes)
        XCTAssertTrue(msg.contains("chunk 1: sample 3: label row sums to"), msg)
    }

    func testMissingFile() {
        XCTAssertThrowsError(try ShardReader(path: dir + "/nope.mxs")) { e in
            XCTAssertTrue("\(e)".contains("nope.mxs: cannot open"))
        }
    }
}
