import Foundation
import MixCore
import ShardStore
import TestSupport
import Training
import XCTest

/// Runs the built `mixtrain` executable.
final class CLITests: XCTestCase {
    /// Runs the built `mixtrain`; returns exit status, stdout, stderr.
    func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        try TestSupport.run(TestSupport.executable("mixtrain"), args)
    }

    func testTrainEvalAndBenchEndToEnd() throws {
        let dir = try Fixtures.shardDirectory()
        let runDir = Fixtures.tempDirectory("cli")
        let r = try run(["train", dir, "--out", runDir, "--epochs", "2", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.err)
        for name in ["metrics.csv", "report.md", "curves.svg", "checkpoint-001.ckpt", "checkpoint-002.ckpt"] {
            XCTAssertTrue(FileIO.exists(runDir + "/" + name), name)
        }
        XCTAssertTrue(r.out.contains("epoch 2/2: train loss"), r.out)
        XCTAssertTrue(r.out.contains("final test accuracy"), r.out)
        let csv = String(decoding: try FileIO.read(runDir + "/metrics.csv"), as: UTF8.self)
        XCTAssertEqual(csv.split(separator: "\n").count, 3)
        // Non-terminal stderr: plain progress lines, no carriage returns.
        XCTAssertFalse(r.err.contains("\r"))
        XCTAssertFalse(r.err.contains("warning"), r.err)

        // Resuming with another thread count needs no warning: it gives the numbers of an uninterrupted run.
        let more = try run(["train", dir, "--out", runDir, "--epochs", "3", "--threads", "2", "--resume"])
        XCTAssertEqual(more.status, 0, more.err)
        XCTAssertFalse(more.err.contains("thread"), more.err)
        let mixed = try Checkpoint.read(runDir + "/checkpoint-003.ckpt")
        XCTAssertEqual(mixed.header.metrics.map(\.threads), [1, 1, 2])
        FileIO.remove(runDir + "/checkpoint-003.ckpt")
        let same = try run(["train", dir, "--out", runDir, "--epochs", "3", "--threads", "1", "--resume"])
        XCTAssertEqual(same.status, 0, same.err)
        let single = try Checkpoint.read(runDir + "/checkpoint-003.ckpt")
        XCTAssertEqual(single.header.metrics.map(\.threads), [1, 1, 1])
        XCTAssertEqual(single.header.metrics.map(\.trainLoss), mixed.header.metrics.map(\.trainLoss))
        XCTAssertEqual(single.header.metrics.map(\.testAccuracy), mixed.header.metrics.map(\.testAccuracy))
        XCTAssertEqual(single.parameters, mixed.parameters)
        let report = String(decoding: try FileIO.read(runDir + "/report.md"), as: UTF8.self)
        XCTAssertTrue(report.contains("| BLAS | OpenBLAS kernel "), report)
        XCTAssertTrue(report.contains("| threads | 1 |"), report)

        let e = try run(["eval", runDir + "/checkpoint-002.ckpt", dir, "--threads", "1"])
        XCTAssertEqual(e.status, 0, e.err)
        let lines = e.out.split(separator: "\n")
        XCTAssertTrue(lines.contains { $0.hasPrefix("accuracy: ") && $0.contains("/100)") }, e.out)
        XCTAssertTrue(e.out.contains("airplane") && e.out.contains("truck"), e.out)
        XCTAssertEqual(lines.count, 4 + 1 + 10) // title, normalisation, accuracy, caption, column header, 10 rows
        XCTAssertTrue(lines[1].hasPrefix("inputs normalised with mean ("), e.out)
        // The eval accuracy is the last epoch's test accuracy.
        let lastAcc = Double(csv.split(separator: "\n").last!.split(separator: ",")[3])!
        XCTAssertTrue(e.out.contains("accuracy: \(String(format: "%.2f", 100 * lastAcc))%"), e.out)

        let b = try run(["bench", "--steps", "1", "--batch", "4", "--threads", "1"])
        XCTAssertEqual(b.status, 0, b.err)
        XCTAssertTrue(b.out.split(separator: "\n").last!.hasSuffix(" images/s"), b.out)
        XCTAssertTrue(b.out.contains("micro-batch 32, 1 thread"), b.out)
        XCTAssertTrue(b.out.contains("seed CNN, fp32 (the one precision), batch "), b.out)
        XCTAssertTrue(b.out.contains("; C kernels: "), b.out)
        XCTAssertTrue(b.out.contains("synthetic 3×32×32 input drawn from N(0, 1) (already normalised: no mean or std applied)"), b.out)
        XCTAssertTrue(b.out.contains("BLAS: OpenBLAS"), b.out)
        let bl = try run(["bench-loader", dir])
        XCTAssertEqual(bl.status, 0, bl.err)
        let stats = try XCTUnwrap(try Manifest.load(directory: dir).source.channelStats)
        XCTAssertTrue(bl.out.hasPrefix("inputs normalised with \(stats.description) (manifest.json source.channelStats)\n"), bl.out)
        let last = bl.out.split(separator: "\n").last!
        XCTAssertTrue(last.hasSuffix(" images/s"), bl.out)
        XCTAssertGreaterThan(Double(last.split(separator: " ")[0]) ?? 0, 0)
    }

    func testBadInputGivesOneLineErrorAndNonZeroExit() throws {
        let empty = Fixtures.tempDirectory("empty")
        let r = try run(["train", empty, "--out", empty + "/run"])
        XCTAssertNotEqual(r.status, 0)
        let lines = r.err.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, r.err)
        XCTAssertTrue(r.err.hasPrefix("error: \(empty): no manifest.json"), r.err)
        XCTAssertFalse(FileIO.exists(empty + "/run"))

        let missing = try run(["eval", empty + "/nope.ckpt", empty])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertEqual(missing.err.split(separator: "\n").count, 1, missing.err)

        let badOption = try run(["train", empty, "--threads", "0"])
        XCTAssertNotEqual(badOption.status, 0)
        XCTAssertTrue(badOption.err.contains("--threads must be ≥ 1"), badOption.err)
    }
}

/// `mixtrain train` with the recipe's options (issue 20, item 3).
final class RecipeCLITests: XCTestCase {
    func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        try TestSupport.run(TestSupport.executable("mixtrain"), args)
    }

    /// Each option reaches the run: report.md names the recipe, metrics.csv its rates, the checkpoint its keys.
    func testRecipeOptionsTrainAndAreRecorded() throws {
        let dir = try Fixtures.shardDirectory()
        let cases: [(args: [String], report: String, lastRates: [String])] = [
            (["--lr-schedule", "cosine", "--warmup-epochs", "1", "--min-lr", "0.0001"],
             "| recipe | cosine lr 0.001 → 0.0001 after 1 linear warm-up epoch, Adam (no weight decay), no EMA", ["0.001", "0.000160289"]),
            (["--lr-schedule", "step", "--step-epochs", "1", "--step-gamma", "0.5"],
             "| recipe | step lr 0.001 × 0.5 every 1 epoch, Adam (no weight decay), no EMA", ["0.001", "0.0005"]),
            (["--weight-decay", "0.05"], "AdamW weight decay 0.05 (all parameters), no EMA", ["0.001", "0.001"]),
            (["--ema", "0.9"], "), of the EMA of the weights (decay 0.9).", ["0.001", "0.001"]),
        ]
        for (n, c) in cases.enumerated() {
            let runDir = Fixtures.tempDirectory("cli-recipe\(n)")
            let r = try run(["train", dir, "--out", runDir, "--epochs", "2", "--threads", "1", "--quiet"] + c.args)
            XCTAssertEqual(r.status, 0, "\(c.args): \(r.err)")
            let report = String(decoding: try FileIO.read(runDir + "/report.md"), as: UTF8.self)
            XCTAssertTrue(report.contains(c.report), "\(c.args): \(report)")
            let csv = String(decoding: try FileIO.read(runDir + "/metrics.csv"), as: UTF8.self)
            let rates = csv.split(separator: "\n").dropFirst().map { String($0.split(separator: ",", omittingEmptySubsequences: false).last!) }
            XCTAssertEqual(rates, c.lastRates, "\(c.args): \(csv)")
            let ckpt = try Checkpoint.read(runDir + "/checkpoint-002.ckpt")
            XCTAssertNotNil(ckpt.header.recipe, "\(c.args)")
        }
    }

    /// Bad values are one-line errors naming the option or the key.
    func testBadRecipeOptionsAreOneLineErrors() throws {
        let dir = try Fixtures.shardDirectory()
        let cases: [([String], String)] = [
            (["--lr-schedule", "linear"], "--lr-schedule must be one of constant, cosine, step"),
            (["--warmup-epochs=-1"], "--warmup-epochs must be ≥ 0"),
            (["--min-lr=-1"], "--min-lr must be ≥ 0"),
            (["--step-epochs", "0"], "--step-epochs must be ≥ 1"),
            (["--step-gamma", "0"], "--step-gamma must be in (0, 1]"),
            (["--weight-decay=-0.01"], "--weight-decay must be ≥ 0"),
            (["--ema", "1"], "--ema must be in [0, 1)"),
            (["--lr-schedule", "cosine", "--warmup-epochs", "2"], "train.warmup_epochs must be from 0 to 1, fewer than train.epochs (got 2)"),
            (["--warmup-epochs", "1"], "train.warmup_epochs applies to lr_schedule = \"cosine\" only"),
        ]
        for (args, message) in cases {
            let r = try run(["train", dir, "--out", Fixtures.tempDirectory("cli-bad"), "--epochs", "2", "--threads", "1", "--quiet"] + args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.err.contains(message), "\(args): \(r.err)")
            XCTAssertEqual(r.err.split(separator: "\n").filter { $0.contains("rror") }.count, 1, "\(args): \(r.err)")
        }
    }
}
