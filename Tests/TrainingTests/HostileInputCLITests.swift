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
        try assertRefused(["train", dir, "--out", out, "--batch", "10000000"], "--batch must be from 1 to 4,096 (got 10000000)")
        try assertRefused(["bench-loader", dir, "--batch", "10000000"], "--batch must be from 1 to 4,096 (got 10000000)")
        try assertRefused(["bench", "--batch", "0"], "--batch must be from 1 to 4,096 (got 0)")
        XCTAssertEqual(try FileIO.list(out), [])
    }

    /// A pipeline accepted by an older mixprep with absurd sizes is refused at train, naming the key.
    func testAbsurdNetworkSizesFromThePipeline() throws {
        let dir = try Fixtures.shardDirectory()
        var t = Fixtures.tinyPipeline().train
        t.hidden = 1_000_000_000
        XCTAssertThrowsError(try Trainer.run(TrainSettings(shardDirectory: dir, runDirectory: Fixtures.tempDirectory("hidden"), train: t))) {
            XCTAssertEqual("\($0)", "train.hidden must be from 1 to 8,192 (got 1000000000)")
        }
        t = Fixtures.tinyPipeline().train
        t.widths = [1, 1, 1, 1_000_000]
        XCTAssertThrowsError(try Trainer.run(TrainSettings(shardDirectory: dir, runDirectory: Fixtures.tempDirectory("widths"), train: t))) {
            XCTAssertEqual("\($0)", "train.widths must be 4 channel counts, each from 1 to 1,024 (got [1, 1, 1, 1000000])")
        }
    }

    /// A checkpoint with a valid SHA-256 but a parameter count of 2^63 used to crash `eval`.
    func testEvalRefusesACraftedCheckpoint() throws {
        let dir = try Fixtures.shardDirectory()
        let config = CNNConfig(widths: [4, 8, 8, 8], hidden: 16, classes: 10)
        let model = SeedCNN(config: config, seed: 1)
        let good = Checkpoint(model: model, optimizer: Adam(parameterCount: model.parameterCount, learningRate: 1e-3),
                              normalizer: .legacy(channels: 3), epoch: 0,
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
        let v = try TestSupport.run(TestSupport.executable("mixprep"), ["verify", dir, "--threads", "1"])
        XCTAssertEqual(v.status, 1)
        XCTAssertEqual(v.err.split(separator: "\n").filter { $0.hasPrefix("error: ") }, ["error: " + shard + ": is a FIFO, not a regular file"])
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

    /// Item 7: `--resume` with only corrupt checkpoints used to exit 0 and silently start over.
    func testResumeWithOnlyCorruptCheckpointsIsRefused() throws {
        let dir = try Fixtures.shardDirectory()
        let run = Fixtures.tempDirectory("corruptresume")
        let first = try TestSupport.run(TestSupport.executable("mixtrain"), ["train", dir, "--out", run, "--epochs", "1", "--threads", "1", "--quiet"])
        XCTAssertEqual(first.status, 0, first.err)
        let ckpt = run + "/checkpoint-001.ckpt"
        var bytes = try FileIO.read(ckpt)
        bytes[bytes.count / 2] ^= 0x40
        try FileIO.writeAtomically(ckpt, bytes)
        try assertRefused(["train", dir, "--out", run, "--epochs", "2", "--resume"],
                          "\(run): none of its 1 checkpoint is usable (newest: \(ckpt): checksum mismatch (corrupt or truncated checkpoint)); "
                          + "pass --start-over to delete it and train from scratch")
        try assertRefused(["train", dir, "--out", run, "--epochs", "2"],
                          "\(run): already holds checkpoint-001.ckpt; pass --resume to continue it, --start-over to replace it, or choose another --out")
        XCTAssertEqual(try FileIO.read(ckpt), bytes, "a refused run leaves the checkpoint alone")

        let over = try TestSupport.run(TestSupport.executable("mixtrain"),
                                       ["train", dir, "--out", run, "--epochs", "1", "--threads", "1", "--resume", "--start-over", "--quiet"])
        XCTAssertEqual(over.status, 0, over.err)
        XCTAssertEqual(over.err, "warning: unusable checkpoint: \(ckpt): checksum mismatch (corrupt or truncated checkpoint)\n"
                       + "warning: \(run): deleted 1 checkpoint, none usable (start over); training from scratch\n")
        XCTAssertEqual(try Checkpoint.read(ckpt).header.epoch, 1)
        // With a usable checkpoint, --resume --start-over resumes.
        let resumed = try TestSupport.run(TestSupport.executable("mixtrain"),
                                          ["train", dir, "--out", run, "--epochs", "2", "--threads", "1", "--resume", "--start-over", "--quiet"])
        XCTAssertEqual(resumed.status, 0, resumed.err)
        XCTAssertEqual(resumed.err, "")
        XCTAssertEqual(try Checkpoint.read(run + "/checkpoint-002.ckpt").header.metrics.count, 2)
    }

    /// Item 7: a manifest that is not valid JSON for its keys gets one line naming the key, not a DecodingError dump.
    func testManifestJSONErrorsAreOneLine() throws {
        let dir = try Fixtures.copy(try Fixtures.shardDirectory(), name: "badjson")
        let path = dir + "/manifest.json"
        let text = String(decoding: try FileIO.read(path), as: UTF8.self)
        try FileIO.writeAtomically(path, text.replacingOccurrences(of: "\"epoch\" : 1,", with: "\"epoch\" : \"one\","))
        try assertRefused(["train", dir, "--out", Fixtures.tempDirectory("badjsonrun")],
                          "\(path): not a valid manifest: key train[1].epoch: Expected to decode Int but found a string instead.")
        try FileIO.writeAtomically(path, "{\"format\": \"MixShard\"")
        try assertRefused(["bench-loader", dir], "\(path): not a valid manifest: The given data was not valid JSON.")
    }

    /// Item 7: a directory where a listed shard should be is refused by name, by every reader.
    func testADirectoryInPlaceOfAShard() throws {
        let dir = try Fixtures.copy(try Fixtures.shardDirectory(), name: "dirshard")
        let shard = dir + "/train/epoch-001/shard-00002.mxs"
        FileIO.remove(shard)
        try FileIO.makeDirectories(shard)
        try assertRefused(["train", dir, "--out", Fixtures.tempDirectory("dirshardrun")], shard + ": is a directory, not a regular file")
        try assertRefused(["bench-loader", dir], shard + ": is a directory, not a regular file")
        let r = try TestSupport.run(TestSupport.executable("mixprep"), ["verify", dir, "--threads", "1"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.err.split(separator: "\n").filter { $0.hasPrefix("error: ") }, ["error: \(shard): is a directory, not a regular file"])
    }
}
