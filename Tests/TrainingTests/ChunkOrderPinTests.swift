import ShardFormat
import XCTest
@testable import Training

/// mixtrain's chunk order pinned to literal values. `python/tests/test_rng.py`
/// asserts the same literals for the Python reader's `chunk_order`, so a change
/// on either side that would make `batches(seed=…)` read differently from
/// mixtrain fails a test.
final class ChunkOrderPinTests: XCTestCase {
    /// Flat chunk numbers (shard-then-chunk order) of a loader's order for `epoch`.
    func flatOrder(_ loader: ShardLoader, epoch: Int) throws -> [Int] {
        let counts = try loader.directory.trainShardPaths(epoch: epoch).map { try ShardReader(path: $0).index.count }
        let starts = counts.indices.map { counts[0..<$0].reduce(0, +) }
        return loader.chunkOrder(epoch: epoch).map { starts[$0.shard] + $0.chunk }
    }

    func testTenChunks() throws {
        let dir = try Fixtures.shardDirectory() // 300 samples: shards of 128, chunks of 32 → 10 chunks
        let seven = try ShardLoader(path: dir, options: LoaderOptions(batch: 50, seed: 7))
        XCTAssertEqual(try flatOrder(seven, epoch: 0), [4, 5, 2, 1, 3, 7, 8, 6, 9, 0])
        XCTAssertEqual(try flatOrder(seven, epoch: 1), [8, 6, 7, 4, 5, 9, 0, 3, 1, 2])
        XCTAssertEqual(try flatOrder(seven, epoch: 7), [6, 3, 0, 5, 7, 8, 4, 9, 1, 2]) // cycles to epoch 1's shards
        let wide = try ShardLoader(path: dir, options: LoaderOptions(batch: 50, seed: (1 << 40) + 3))
        XCTAssertEqual(try flatOrder(wide, epoch: 0), [2, 8, 9, 6, 5, 3, 4, 1, 0, 7])
    }

    func testThreeHundredChunks() throws {
        var p = Fixtures.tinyPipeline(epochs: 3)
        p.shards.samplesPerChunk = 1
        let dir = try Fixtures.shardDirectory("chunk1", p)
        let pins: [(seed: UInt64, epoch: Int, head: [Int], weighted: Int)] = [
            (7, 0, [252, 175, 170, 135, 103, 239, 73, 14, 233, 65, 172, 47, 83, 299, 169, 214, 63, 198, 114, 251, 276, 242, 286, 287], 6_572_711),
            (0, 2, [237, 54, 272, 218, 111, 209, 250, 252, 185, 236, 86, 293, 163, 25, 166, 174, 51, 42, 121, 47, 53, 195, 243, 188], 6_634_417),
        ]
        for pin in pins {
            let order = try flatOrder(try ShardLoader(path: dir, options: LoaderOptions(seed: pin.seed)), epoch: pin.epoch)
            XCTAssertEqual(Array(order.prefix(24)), pin.head)
            XCTAssertEqual(order.enumerated().reduce(0) { $0 + $1.offset * $1.element }, pin.weighted)
        }
    }
}
