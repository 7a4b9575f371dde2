import Datasets
import Foundation
import MixCore
import Mixup
import Pipeline
import ShardStore
import Prep
import ShardFormat
import TestSupport
import XCTest

/// Every output byte is a pure function of (source bytes, pipeline, seed).
final class DeterminismTests: XCTestCase {
    func testThreadCountsAndWorkerSplitsGiveIdenticalBytes() throws {
        let base = try PrepFixtures.temporaryDirectory(name)
        let p = try PrepFixtures.pipeline(samplesPerShard: 250, trainLimit: 1000)
        let (t1, t2, split) = try PrepFixtures.threadAndWorkerSnapshots(p, in: base)
        XCTAssertEqual(t1.count, 2 * 4 + 2 + 2) // 2 epochs × 4 shards + 2 test shards + manifest + prep.json
        XCTAssertEqual(t1, t2)
        XCTAssertEqual(t1, split)
    }

    func testSeedChangesTheBytes() throws {
        let base = try PrepFixtures.temporaryDirectory(name)
        _ = try PrepRunner.run(try PrepFixtures.pipeline(epochs: 1, seed: 1), options: PrepOptions(outDirectory: base + "/a", quiet: true))
        _ = try PrepRunner.run(try PrepFixtures.pipeline(epochs: 1, seed: 2), options: PrepOptions(outDirectory: base + "/b", quiet: true))
        XCTAssertNotEqual(try FileIO.read(base + "/a/train/epoch-000/shard-00000.mxs"), try FileIO.read(base + "/b/train/epoch-000/shard-00000.mxs"))
        // Test shards do not depend on the seed.
        XCTAssertEqual(try FileIO.read(base + "/a/test/shard-00000.mxs"), try FileIO.read(base + "/b/test/shard-00000.mxs"))
    }

    /// Every pixel and label of every training sample, recomputed from its provenance.
    func testEveryMixedPixelFollowsFromItsProvenance() throws {
        let dir = try PrepFixtures.temporaryDirectory(name)
        let p = try PrepFixtures.pipeline(epochs: 2, p: 0.5)
        _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: dir, quiet: true))
        let source = try Dataset.load(PrepFixtures.mini)
        let manifest = try Manifest.load(directory: dir)
        XCTAssertEqual(try TestSupport.manifestSchemaProblems(directory: dir), [])
        var mixed = 0, total = 0
        for epoch in manifest.train {
            var seen = Set<UInt32>()
            for shard in epoch.shards {
                let block = try ShardReader(path: dir + "/" + shard.file).readAll()
                for s in 0..<block.count {
                    let prov = block.provenance[s]
                    let i = Int(prov.primary) * 3072, j = Int(prov.partner) * 3072
                    let bad = source.train.images.withUnsafeBufferPointer { src in
                        block.images.withUnsafeBufferPointer { out in
                            (0..<3072).first { out[s * 3072 + $0] != Mixer.blend(src[i + $0], src[j + $0], lambda: prov.lambda) }
                        }
                    }
                    if let bad {
                        XCTFail("epoch \(epoch.epoch) sample \(s): pixel \(bad) is not round(λ·x_i + (1−λ)·x_j) with λ \(prov.lambda)")
                        return
                    }
                    var want = [Float](repeating: 0, count: 10)
                    want[Int(source.train.labels[Int(prov.primary)])] += prov.lambda
                    want[Int(source.train.labels[Int(prov.partner)])] += 1 - prov.lambda
                    XCTAssertEqual(Array(block.rows[(s * 10)..<((s + 1) * 10)]), want)
                    if prov.partner != prov.primary || prov.lambda != 1 { mixed += 1 }
                    seen.insert(prov.primary)
                    total += 1
                }
            }
            XCTAssertEqual(seen.count, 2000, "each epoch visits every training image once as primary")
        }
        // p = 0.5 over 4,000 samples: 4σ ≈ 126.
        XCTAssertLessThan(abs(mixed - 2000), 127)
        XCTAssertEqual(manifest.summary.mixed, mixed)
        XCTAssertEqual(manifest.summary.samples, total)
        XCTAssertEqual(manifest.summary.labelMass.reduce(0, +), Double(total), accuracy: 1e-3)
    }
}
