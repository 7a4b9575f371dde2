import Foundation
import MixCore
import NN
import TestSupport
@testable import Training
import XCTest

/// A network whose activations would not fit is refused in one line before anything large is allocated.
final class MemoryBudgetTests: XCTestCase {
    func testCheckNamesTheNeedAndTheBudget() throws {
        let config = CNNConfig(widths: [32, 64, 128, 1], hidden: 16, classes: 10, inputChannels: 3, inputSize: 1024)
        let need = SeedCNN.memoryNeeded(config: config, microBatch: 32, workers: 2, training: true)
        XCTAssertThrowsError(try MemoryBudget.check(config, workers: 2, training: true, context: "shards", limit: need - 1)) {
            XCTAssertEqual("\($0)", "shards: training the CNN on 1,024×1,024 (width×height, 3 channels) images needs about \(MemoryBudget.gib(need)) "
                           + "(widths [32, 64, 128, 1], hidden 16, micro-batches of 32, 2 threads); \(MemoryBudget.gib(need - 1)) is available "
                           + "(physical memory, cgroup limit, MIXSHARDS_MEMORY_LIMIT): use smaller images, narrower widths, fewer threads or smaller micro-batches")
        }
        XCTAssertNoThrow(try MemoryBudget.check(config, workers: 2, training: true, context: "shards", limit: need))
        // Non-square images are sized by their area: 1,024×512 needs about half of 1,024×1,024, and says so.
        let wide = CNNConfig(widths: [32, 64, 128, 1], hidden: 16, classes: 10, inputChannels: 3, inputHeight: 512, inputWidth: 1024)
        let wideNeed = SeedCNN.memoryNeeded(config: wide, microBatch: 32, workers: 2, training: true)
        XCTAssertEqual(wideNeed / need, 0.5, accuracy: 0.01)
        XCTAssertThrowsError(try MemoryBudget.check(wide, workers: 2, training: true, context: "shards", limit: wideNeed - 1)) {
            XCTAssertTrue("\($0)".hasPrefix("shards: training the CNN on 1,024×512 (width×height, 3 channels) images needs about \(MemoryBudget.gib(wideNeed)) "), "\($0)")
        }
        XCTAssertTrue(MemoryBudget.gib(need).hasSuffix(" GiB"))
        XCTAssertEqual(MemoryBudget.gib(512 * 1_048_576), "512.0 MiB")
    }

    func testLimitFromTheEnvironment() throws {
        XCTAssertEqual(MemoryBudget.parseSize("123"), 123)
        XCTAssertEqual(MemoryBudget.parseSize("512K"), 512 * 1024)
        XCTAssertEqual(MemoryBudget.parseSize("8m"), 8 * 1_048_576)
        XCTAssertEqual(MemoryBudget.parseSize("1.5G"), 1.5 * 1_073_741_824)
        for bad in ["", "G", "-1", "0", "1e9", "12 G", "inf", "nan", "8T"] { XCTAssertNil(MemoryBudget.parseSize(bad), bad) }
        let physical = Double(ProcessInfo.processInfo.physicalMemory)
        XCTAssertLessThanOrEqual(try MemoryBudget.available(environment: [:]), physical)
        XCTAssertEqual(try MemoryBudget.available(environment: ["MIXSHARDS_MEMORY_LIMIT": "1M"]), 1_048_576)
        XCTAssertThrowsError(try MemoryBudget.available(environment: ["MIXSHARDS_MEMORY_LIMIT": "lots"])) {
            XCTAssertEqual("\($0)", "MIXSHARDS_MEMORY_LIMIT must be a size in bytes, optionally with K, M or G (got \"lots\")")
        }
    }

    /// Through the tools: train and eval refuse before building the network, and leave no run behind.
    func testTrainAndEvalRefuseBeyondTheBudget() throws {
        let dir = try Fixtures.shardDirectory()
        let mixtrain = TestSupport.executable("mixtrain")
        let run = Fixtures.tempDirectory("budget")
        let ok = try TestSupport.run(mixtrain, ["train", dir, "--out", run, "--epochs", "1", "--threads", "1", "--quiet"])
        XCTAssertEqual(ok.status, 0, ok.err)
        let refused = Fixtures.tempDirectory("budget-refused") + "/run"
        let train = try TestSupport.run(mixtrain, ["train", dir, "--out", refused, "--threads", "2"], env: ["MIXSHARDS_MEMORY_LIMIT": "64K"])
        XCTAssertEqual(train.status, 1, train.err)
        XCTAssertEqual(train.err.split(separator: "\n").count, 1, train.err)
        XCTAssertTrue(train.err.hasPrefix("error: \(dir): training the CNN on 32×32 (width×height, 3 channels) images needs about "), train.err)
        XCTAssertTrue(train.err.contains(", 2 threads); 0.1 MiB is available"), train.err)
        XCTAssertFalse(FileIO.exists(refused))
        let ckpt = run + "/checkpoint-001.ckpt"
        let eval = try TestSupport.run(mixtrain, ["eval", ckpt, dir, "--threads", "1"], env: ["MIXSHARDS_MEMORY_LIMIT": "64K"])
        XCTAssertEqual(eval.status, 1, eval.err)
        XCTAssertTrue(eval.err.hasPrefix("error: \(ckpt): evaluating the CNN on 32×32 (width×height, 3 channels) images needs about "), eval.err)
        // bench: micro-batches of 512 on 8 threads need about 8 × 0.9 GiB.
        let bench = try TestSupport.run(mixtrain, ["bench", "--batch", "4096", "--micro-batch", "512", "--threads", "8"],
                                        env: ["MIXSHARDS_MEMORY_LIMIT": "1G"])
        XCTAssertEqual(bench.status, 1, bench.err)
        XCTAssertTrue(bench.err.hasPrefix("error: bench: training the CNN on 32×32 (width×height, 3 channels) images needs about "), bench.err)
        XCTAssertTrue(bench.err.contains("micro-batches of 512, 8 threads); 1.0 GiB is available"), bench.err)
        let bad = try TestSupport.run(mixtrain, ["eval", ckpt, dir], env: ["MIXSHARDS_MEMORY_LIMIT": "lots"])
        XCTAssertEqual(bad.status, 1, bad.err)
        XCTAssertEqual(bad.err, "error: MIXSHARDS_MEMORY_LIMIT must be a size in bytes, optionally with K, M or G (got \"lots\")\n")
    }
}
