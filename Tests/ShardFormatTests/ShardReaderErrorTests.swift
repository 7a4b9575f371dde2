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
        b[8] = 5
        XCTAssertTrue(try failure(b).contains("unsupported version 5"))
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
        block.denseRows[3 * 3] += 0.01
        let bytes = ShardWriter.encode(block, encoding: ShardEncoding(samplesPerChunk: 2), split: .train, epoch: 0, shardIndex: 0)
        let msg = try failure(bytes)
        XCTAssertTrue(msg.contains("chunk 1: sample 3: label row sums to"), msg)
    }

    /// Rows that sum to 1 in float32 but whose weights are no distribution (issue 22): every reader refuses
    /// them, naming the first weight out of range; they used to pass and reach training.
    func testLabelWeightsOutsideZeroToOne() throws {
        let cases: [([Float], String)] = [([3e38, -3e38, 1], "label weight 3e+38 of class 0 is not in [0, 1]"),
                                          ([2, -1, 0], "label weight 2 of class 0 is not in [0, 1]"),
                                          ([0.5, 0.5000001, -0.0000001], "label weight -1e-07 of class 2 is not in [0, 1]"),
                                          ([0.5, .infinity, 0.5], "label weight inf of class 1 is not in [0, 1]"),
                                          ([-.nan, 0.5, 0.5], "label weight nan of class 0 is not in [0, 1]")]
        for (row, expected) in cases {
            var block = ShardFixtures.block(n: 5)
            block.denseRows.replaceSubrange(9..<12, with: row)
            let bytes = ShardWriter.encode(block, encoding: ShardEncoding(samplesPerChunk: 2), split: .train, epoch: 0, shardIndex: 0)
            XCTAssertEqual(try failure(bytes), "\(dir)/bad.mxs: chunk 1: sample 3: \(expected)")
        }
        // A weight of exactly 0 or 1 (and -0) is a weight.
        var block = ShardFixtures.block(n: 5)
        block.denseRows.replaceSubrange(9..<12, with: [1, -0.0, 0])
        try FileIO.writeAtomically(dir + "/ok.mxs", ShardWriter.encode(block, encoding: ShardEncoding(samplesPerChunk: 2), split: .train, epoch: 0, shardIndex: 0))
        XCTAssertEqual(try ShardReader(path: dir + "/ok.mxs").readAll().rows[9..<12], [1, 0, 0])
    }

    func testMissingFile() {
        XCTAssertThrowsError(try ShardReader(path: dir + "/nope.mxs")) { e in
            XCTAssertTrue("\(e)".contains("nope.mxs: cannot open"))
        }
    }
}
