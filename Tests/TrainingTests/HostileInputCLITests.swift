import Foundation
import MixCore
import NN
import TestSupport
import Training
import XCTest

/// Hostile and careless input to `mixtrain` (issue 10): one `error:` line naming what is wrong, exit 1.
final class HostileInputCLITests: XCTestCase {
    func assertRefused(_ args: [String], _ expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let (status, _, err) = try TestSupport.run(TestSupport.executable("mixtrain"), args)
        XCTAssertEqual(status, 1, "\(args): \(err)", file: file, line: line)
        let lines = err.trimmingCharacters(in: .newlines).components(separatedBy: "\n")
        XCTAssertEqual(lines.count, 1, "\(args): \(err)", file: file, line: line)
        XCTAssertTrue(err.hasPrefix("error: ") && err.contains(expected), "\(args): \(err)", file: file, line: line)
    }

    /// `--batch 10000000` used to abort allocating 123 GB.
    func testBatchBeyondTheLimit() throws {
        let dir = try Fixtures.shardDirectory()
        let out = Fixtures.tempDirectory("bigbatch")
        try assertRefused(["train", dir, "--out", out, "--batch", "10000000"], "--batch must be in 1...4096 (got 10000000)")
        try assertRefused(["bench-loader", dir, "--batch", "10000000"], "--batch must be in 1...4096 (got 10000000)")
        try assertRefused(["bench", "--batch", "0"], "--batch must be in 1...4096 (got 0)")
        XCTAssertEqual(try FileIO.list(out), [])
    }

    /// A pipeline accepted by an older mixprep with absurd sizes is refused at train, naming the key.
    func testAbsurdNetworkSizesFromThePipeline() throws {
        let dir = try Fixtures.shardDirectory()
        var t = Fixtures.tinyPipeline().train
        t.hidden = 1_000_000_000
        XCTAssertThrowsError(try Trainer.run(TrainSettings(shardDirectory: dir, runDirectory: Fixtures.tempDirectory("hidden"), train: t))) {
            XCTAssertEqual("\($0)", "train.hidden must be in 1...8192 (got 1000000000)")
        }
        t = Fixtures.tinyPipeline().train
        t.widths = [1, 1, 1, 1_000_000]
        XCTAssertThrowsError(try Trainer.run(TrainSettings(shardDirectory: dir, runDirectory: Fixtures.tempDirectory("widths"), train: t))) {
            XCTAssertEqual("\($0)", "train.widths must be 4 channel counts in 1...1024 (got [1, 1, 1, 1000000])")
        }
    }

    /// A checkpoint with a valid SHA-256 but a parameter count of 2^63 used to crash `eval`.
    func testEvalRefusesACraftedCheckpoint() throws {
        let dir = try Fixtures.shardDirectory()
        let config = CNNConfig(widths: [4, 8, 8, 8], hidden: 16, classes: 10)
        let model = SeedCNN(config: config, seed: 1)
        let good = Checkpoint(model: model, optimizer: Adam(parameterCount: model.parameterCount, learningRate: 1e-3), epoch: 0,
                              batch: 50, seed: 1, metrics: [], pipelineName: "tiny", manifestSHA256: "", sourceFingerprint: "")
        let path = Fixtures.tempDirectory("evalcrafted") + "/checkpoint-001.ckpt"
        try FileIO.writeAtomically(path, try Fixtures.craftedCheckpoint(good, count: 1 << 63) { _ in })
        try assertRefused(["eval", path, dir], path + ": holds 27288 bytes of parameters and moments for 9223372036854775808 parameters")
        try FileIO.writeAtomically(path, try Fixtures.craftedCheckpoint(good) { $0["epoch"] = -1 })
        try assertRefused(["eval", path, dir], path + ": header: epoch -1")
    }

    /// A FIFO in place of a listed shard used to hang train and bench-loader; now refused by name.
    func testFIFOInPlaceOfAShard() throws {
        let dir = try Fixtures.copy(try Fixtures.shardDirectory(), name: "fifo")
        let shard = dir + "/train/epoch-000/shard-00000.mxs"
        FileIO.remove(shard)
        XCTAssertEqual(mkfifo(shard, 0o644), 0)
        let out = Fixtures.tempDirectory("fiforun")
        try assertRefused(["train", dir, "--out", out], shard + ": is a FIFO, not a regular file")
        try assertRefused(["bench-loader", dir], shard + ": is a FIFO, not a regular file")
    }

    /// `train --out ""` used to try writing into `/`; an unsafe pipeline name in a manifest cannot pick the run directory.
    func testOutputPathsAreChecked() throws {
        let dir = try Fixtures.shardDirectory()
        try assertRefused(["train", dir, "--out", ""], "the output directory is empty (--out \"\"); name a directory")
        XCTAssertEqual(try TrainSettings.defaultRunDirectory(pipelineName: "tiny"), "runs/tiny")
        for name in ["../../x", "", "a\nb", "."] {
            XCTAssertThrowsError(try TrainSettings.defaultRunDirectory(pipelineName: name)) {
                XCTAssertEqual("\($0)", "the pipeline name \(String(reflecting: name)) cannot name a run directory; choose one with --out")
            }
        }
    }
}
