import MixCore
import NN
import Pipeline
import XCTest
@testable import Training

final class CheckpointTests: XCTestCase {
    /// A tiny model after two Adam steps on fixed data, captured in a checkpoint.
    func makeCheckpoint(epoch: Int = 3) -> (Checkpoint, SeedCNN, Adam) {
        let config = CNNConfig(widths: [4, 8, 8, 8], hidden: 16, classes: 10)
        let model = SeedCNN(config: config, seed: 11)
        var adam = Adam(parameterCount: model.parameterCount, learningRate: 2e-3)
        var rng = CounterRNG(seed: 1, stream: .test)
        let x = (0..<(4 * 3072)).map { _ in Float(rng.normal()) }
        var y = [Float](repeating: 0, count: 40)
        for b in 0..<4 { y[b * 10 + b] = 1 }
        for _ in 0..<2 {
            _ = x.withUnsafeBufferPointer { xb in
                y.withUnsafeBufferPointer { yb in
                    model.trainStep(input: xb.baseAddress!, targets: yb.baseAddress!, batch: 4, optimizer: &adam)
                }
            }
        }
        let metrics = [EpochMetrics(epoch: 1, trainLoss: 2.25, testLoss: 2.125, testAccuracy: 0.25, imagesPerSecond: 1234.5, seconds: 1.5),
                       EpochMetrics(epoch: 2, trainLoss: 2.0, testLoss: 1.9, testAccuracy: 0.3125, imagesPerSecond: 1300, seconds: 1.25)]
        let ckpt = Checkpoint(model: model, optimizer: adam, normalizer: PixelNormalizer(mean: [0.5, 0.25, 0.125], std: [0.25, 0.5, 1]),
                              epoch: epoch, batch: 50, seed: 11, metrics: metrics,
                              pipelineName: "tiny", manifestSHA256: String(repeating: "ab", count: 32),
                              sourceFingerprint: String(repeating: "cd", count: 32))
        return (ckpt, model, adam)
    }

    func testRoundTripRestoresModelAndOptimizerExactly() throws {
        let (ckpt, model, adam) = makeCheckpoint()
        XCTAssertEqual(adam.step, 2)
        let bytes = try ckpt.encoded()
        XCTAssertEqual(Array(bytes[0..<8]), Array("MIXCKPT1".utf8))
        let back = try Checkpoint.decode(bytes, path: "mem")
        XCTAssertEqual(back, ckpt)
        XCTAssertEqual(back.header.epoch, 3)
        XCTAssertEqual(back.header.adamStep, 2)
        XCTAssertEqual(back.header.widths, [4, 8, 8, 8])
        XCTAssertEqual(back.header.hidden, 16)
        XCTAssertEqual(back.header.classes, 10)
        XCTAssertEqual(back.header.metrics.map(\.testAccuracy), [0.25, 0.3125])
        XCTAssertEqual(back.header.learningRate, 2e-3)
        XCTAssertEqual(back.normalizer, PixelNormalizer(mean: [0.5, 0.25, 0.125], std: [0.25, 0.5, 1]))
        let restored = try back.makeModel()
        XCTAssertEqual(restored.parameters, model.parameters)
        XCTAssertEqual(back.makeOptimizer(), adam)
        // Bytes are deterministic: re-encoding gives the same file.
        XCTAssertEqual(try back.encoded(), bytes)

        let dir = Fixtures.tempDirectory("ckpt")
        let path = dir + "/" + Checkpoint.fileName(epoch: 3)
        XCTAssertTrue(path.hasSuffix("checkpoint-003.ckpt"))
        try ckpt.write(to: path)
        XCTAssertFalse(FileIO.exists(path + ".tmp"))
        XCTAssertEqual(try Checkpoint.read(path), ckpt)
    }

    func testCorruptAndTruncatedCheckpointsAreDetected() throws {
        let (ckpt, _, _) = makeCheckpoint()
        var bytes = try ckpt.encoded()
        let middle = bytes.count / 2
        bytes[middle] ^= 1
        XCTAssertThrowsError(try Checkpoint.decode(bytes, path: "x.ckpt")) { error in
            XCTAssertEqual((error as? MixError)?.message, "x.ckpt: checksum mismatch (corrupt or truncated checkpoint)")
        }
        bytes[middle] ^= 1
        XCTAssertThrowsError(try Checkpoint.decode(Array(bytes.dropLast(100)), path: "x.ckpt"))
        var badMagic = bytes
        badMagic[0] = 0x58
        XCTAssertThrowsError(try Checkpoint.decode(badMagic, path: "x.ckpt")) { error in
            XCTAssertTrue("\(error)".contains("bad magic"))
        }
        XCTAssertThrowsError(try Checkpoint.decode([1, 2, 3], path: "x.ckpt"))
    }

    func testLatestGoodSkipsCorruptNewerCheckpoints() throws {
        let dir = Fixtures.tempDirectory("latest")
        let (c1, _, _) = makeCheckpoint(epoch: 1)
        let (c2, _, _) = makeCheckpoint(epoch: 2)
        try c1.write(to: dir + "/" + Checkpoint.fileName(epoch: 1))
        try c2.write(to: dir + "/" + Checkpoint.fileName(epoch: 2))
        try FileIO.writeAtomically(dir + "/" + Checkpoint.fileName(epoch: 3), [UInt8](repeating: 7, count: 100))
        XCTAssertEqual(Checkpoint.list(in: dir).map(\.epoch), [3, 2, 1])
        var warnings: [String] = []
        let got = Checkpoint.latestGood(in: dir) { warnings.append($0) }
        XCTAssertEqual(got?.header.epoch, 2)
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings[0].contains("checkpoint-003.ckpt"), warnings[0])
        XCTAssertNil(Checkpoint.latestGood(in: dir + "/nothing") { _ in })
    }

    /// `makeCheckpoint(epoch: 2)` crafted (`Fixtures.craftedCheckpoint`).
    func crafted(count: UInt64? = nil, _ edit: (inout [String: Any]) -> Void) throws -> [UInt8] {
        try Fixtures.craftedCheckpoint(makeCheckpoint(epoch: 2).0, count: count, edit)
    }

    func assertRefused(_ bytes: [UInt8], _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Checkpoint.decode(bytes, path: "x.ckpt"), file: file, line: line) { error in
            XCTAssertEqual((error as? MixError)?.message, "x.ckpt: " + expected, file: file, line: line)
        }
    }

    /// Crafted checkpoints with a valid SHA-256 used to crash eval and --resume (issue 10); now each is one line.
    func testCraftedCheckpointsAreRefusedNotCrashed() throws {
        XCTAssertNoThrow(try Checkpoint.decode(try crafted { _ in }, path: "x.ckpt"))
        // The checked count is the network's: 4·3·9+4 + 8·4·9+8 + 2·(8·8·9+8) + (8·2·2)·16+16 + 16·10+10.
        XCTAssertEqual(makeCheckpoint().1.parameterCount, 2274)
        XCTAssertEqual(makeCheckpoint().1.config.checkedParameterCount, 2274)
        XCTAssertEqual(CNNConfig().checkedParameterCount, SeedCNN(config: CNNConfig(), seed: 0).parameterCount)
        assertRefused(try crafted(count: 1 << 62) { $0["parameterCount"] = 1 << 62 },
                      "header: parameterCount 4611686018427387904 does not match the network's 2274")
        assertRefused(try crafted(count: 1 << 63) { _ in },
                      "holds 27288 bytes of parameters and moments for 9223372036854775808 parameters, expected 3 × 4 × 2274")
        assertRefused(try crafted(count: 1 << 62) { _ in },
                      "holds 27288 bytes of parameters and moments for 4611686018427387904 parameters, expected 3 × 4 × 2274")
        assertRefused(try crafted { $0["epoch"] = -5 }, "header: epoch -5, nextEpoch 2 and adamStep 2 must be ≥ 0")
        assertRefused(try crafted { $0["nextEpoch"] = Int.min }, "header: epoch 2, nextEpoch \(Int.min) and adamStep 2 must be ≥ 0")
        assertRefused(try crafted { $0["batch"] = 10_000_000 }, "header: batch must be from 1 to 4,096 (got 10000000)")
        assertRefused(try crafted { $0["hidden"] = 1_000_000_000 }, "network configuration: hidden must be from 1 to 8,192 (got 1000000000)")
        assertRefused(try crafted { $0["widths"] = [Int](repeating: 8, count: 100) },
                      "network configuration: widths must hold from 1 to 8 channel counts (got 100)")
        assertRefused(try crafted { $0["inputHeight"] = 1 << 60 },
                      "network configuration: widths [4, 8, 8, 8] and hidden 16 make too many parameters for 32×1,152,921,504,606,846,976 (width×height, 3 channels) images and 10 classes; at most 50,000,000 are allowed")
        assertRefused(try crafted { $0["inputWidth"] = 40 },
                      "network configuration: the input's height and width must be positive multiples of 2^4 (got 40×32, width×height)")
        assertRefused(try crafted { $0["inputSize"] = 32; $0["inputHeight"] = nil },
                      "header is not valid: missing key inputHeight")
        assertRefused(try crafted { $0["normalization"] = ["mean": [0.5, 0.5], "std": [0.2, 0.2]] },
                      "header: normalization must hold 3 means from 0 to 1 and 3 standard deviations above 0 and at most 1, one per input channel "
                      + "(got mean (0.5000, 0.5000), std (0.2000, 0.2000))")
        assertRefused(try crafted { $0["normalization"] = ["mean": [0.5, 0.5, 0.5], "std": [0.2, 0, 0.2]] },
                      "header: normalization must hold 3 means from 0 to 1 and 3 standard deviations above 0 and at most 1, one per input channel "
                      + "(got mean (0.5000, 0.5000, 0.5000), std (0.2000, 0.0000, 0.2000))")
        assertRefused(try crafted { $0["normalization"] = nil }, "header is not valid: missing key normalization")
        // A version this build does not know.
        var future = try makeCheckpoint(epoch: 2).0.encoded()
        future[8] = 4
        future.replaceSubrange((future.count - 32)..., with: SHA256.hash(Array(future[..<(future.count - 32)])))
        assertRefused(future, "unsupported checkpoint version 4 (this build reads versions from 1 to 3)")
        // Version 3 is the recipe's: it must hold one, and a version 2 file must not.
        var three = try makeCheckpoint(epoch: 2).0.encoded()
        three[8] = 3
        three.replaceSubrange((three.count - 32)..., with: SHA256.hash(Array(three[..<(three.count - 32)])))
        assertRefused(three, "header: a version 3 checkpoint must hold a recipe")
        assertRefused(try crafted { $0["recipe"] = ["lrSchedule": "constant", "warmupEpochs": 0, "minLR": 0, "stepEpochs": 1,
                                                     "stepGamma": 0.1, "weightDecay": 0.1, "ema": 0] },
                      "header: a version 2 checkpoint cannot hold a recipe")
        var withRecipe = try makeCheckpoint(epoch: 2).0
        var t = TrainSection()
        t.weightDecay = 0.1
        withRecipe.header.recipe = CheckpointRecipe(t)
        XCTAssertNoThrow(try Checkpoint.decode(try withRecipe.encoded(), path: "x.ckpt"))
        func craftedRecipe(_ key: String, _ value: Any) throws -> [UInt8] {
            try Fixtures.craftedCheckpoint(withRecipe) { h in
                var r = h["recipe"] as! [String: Any]
                r[key] = value
                h["recipe"] = r
            }
        }
        assertRefused(try craftedRecipe("weightDecay", -1), "header: recipe: train.weight_decay must be ≥ 0 (got -1.0)")
        assertRefused(try craftedRecipe("lrSchedule", "linear"),
                      "header: recipe: train.lr_schedule must be one of constant, cosine, step (got \"linear\")")
        assertRefused(try craftedRecipe("lrSchedule", "cosine"),
                      "header: recipe: scheduleEpochs must be given for the cosine schedule only")
        // An EMA in the header but no EMA block: the sizes say so.
        assertRefused(try craftedRecipe("ema", 0.5), "holds \(12 * withRecipe.parameters.count) bytes of parameters, moments and EMA for "
                      + "\(withRecipe.parameters.count) parameters, expected 4 × 4 × \(withRecipe.parameters.count)")
    }

    /// --resume skips a crafted checkpoint with a warning instead of crashing on it.
    func testLatestGoodSkipsACraftedCheckpoint() throws {
        let dir = Fixtures.tempDirectory("crafted")
        try FileIO.writeAtomically(dir + "/" + Checkpoint.fileName(epoch: 2), try crafted { $0["epoch"] = -1 })
        var warnings: [String] = []
        XCTAssertNil(Checkpoint.latestGood(in: dir) { warnings.append($0) })
        XCTAssertEqual(warnings, ["skipping unusable checkpoint: \(dir)/checkpoint-002.ckpt: header: epoch -1, nextEpoch 2 and adamStep 2 must be ≥ 0"])
    }
}
