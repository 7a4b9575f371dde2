import MixCore
import ShardFormat
import XCTest

/// Shards `mixfuzz` found crashing a reader, now refused with one line.
final class FuzzFoundShardTests: XCTestCase {
    /// A v1 provenance record with λ NaN, ±∞ or huge used to pass the reader and trap in
    /// `ShardStats` (binning λ), i.e. in `mixprep verify` (mixfuzz target shard).
    func testV1LambdaOutsideTheUnitIntervalIsRefused() throws {
        let dir = try ShardFixtures.temporaryDirectory()
        var encoding = ShardEncoding(codec: .none, filter: .delta, samplesPerChunk: 2, provenance: true)
        encoding.version = 1
        for (i, lambda) in [Float.nan, .infinity, 3.4e38, -0.5].enumerated() {
            var block = ShardFixtures.block(n: 3)
            block.provenance[1].lambda = lambda  // sample 1 is mixed (partner ≠ primary)
            let bytes = ShardWriter.encode(block, encoding: encoding, split: .train, epoch: 0, shardIndex: 0)
            let path = dir + "/lambda-\(i).mxs"
            let message = try ShardFixtures.readFailure(bytes, at: path, file: #filePath, line: #line)
            XCTAssertEqual(message, "\(path): chunk 0: sample 1: provenance: lambda \(lambda) is not in [0, 1]")
        }
        // λ in [0, 1] still reads, and its statistics are what the writer's are.
        let block = ShardFixtures.block(n: 3)
        let path = dir + "/good.mxs"
        try FileIO.writeAtomically(path, ShardWriter.encode(block, encoding: encoding, split: .train, epoch: 0, shardIndex: 0))
        XCTAssertEqual(ShardStats(of: try ShardReader(path: path).readAll()), ShardStats(of: block))
    }
}
