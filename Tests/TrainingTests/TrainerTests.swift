import Foundation
import MixCore
import Pipeline
import ShardStore
import XCTest
@testable import Training

final class TrainerTests: XCTestCase {
    func settings(_ dir: String, run: String, epochs: Int = 2, resume: Bool = false, threads: Int = 2) -> TrainSettings {
        var t = Fixtures.tinyPipeline().train
        t.epochs = epochs
        return TrainSettings(shardDirectory: dir, runDirectory: run, train: t, pipelineName: "tiny", seed: 7,
                             threads: threads, resume: resume, quiet: true)
    }

    /// Issue 8: 2 epochs on the embedded data at 1 and 2 threads give byte-identical loss and
    /// accuracy columns in metrics.csv and identical checkpoint parameters and Adam state.
    func testThreadCountChangesSpeedNeverNumbers() throws {
        let dir = try Fixtures.shardDirectory()
        var csv: [[String]] = [], ckpts: [Checkpoint] = []
        for threads in [1, 2] {
            let run = Fixtures.tempDirectory("threads\(threads)")
            let result = try Trainer.run(settings(dir, run: run, epochs: 2, threads: threads))
            XCTAssertEqual(result.metrics.map(\.threads), [threads, threads])
            let text = String(decoding: try FileIO.read(run + "/metrics.csv"), as: UTF8.self)
            // epoch, train_loss, test_loss, test_acc of every row
            csv.append(text.split(separator: "\n").map { $0.split(separator: ",").prefix(4).joined(separator: ",") })
            ckpts.append(try Checkpoint.read(run + "/" + Checkpoint.fileName(epoch: 2)))
        }
        XCTAssertEqual(csv[0].count, 3)
        XCTAssertEqual(csv[0], csv[1])
        XCTAssertEqual(ckpts[0].parameters, ckpts[1].parameters)
        XCTAssertEqual(ckpts[0].adamM, ckpts[1].adamM)
        XCTAssertEqual(ckpts[0].adamV, ckpts[1].adamV)
    }

    func testRunWritesMetricsCurvesReportAndCheckpoints() throws {
        let dir = try Fixtures.shardDirectory()
        let run = Fixtures.tempDirectory("run")
        let result = try Trainer.run(settings(dir, run: run, epochs: 3))
        XCTAssertEqual(result.metrics.map(\.epoch), [1, 2, 3])
        for m in result.metrics {
            XCTAssertTrue(m.trainLoss > 0.5 && m.trainLoss < 5, "\(m)")
            XCTAssertTrue(m.testLoss > 0.5 && m.testLoss < 5, "\(m)")
            XCTAssertTrue((0...1).contains(m.testAccuracy))
            XCTAssertEqual(m.testAccuracy * 100, (m.testAccuracy * 100).rounded(), accuracy: 1e-9) // 100 test images
            XCTAssertGreaterThan(m.imagesPerSecond, 0)
            XCTAssertEqual(m.threads, 2)
        }
        XCTAssertEqual(Checkpoint.list(in: run).map(\.epoch), [3, 2, 1])
        let csv = String(decoding: try FileIO.read(run + "/metrics.csv"), as: UTF8.self)
        let lines = csv.split(separator: "\n")
        XCTAssertEqual(lines.first, "epoch,train_loss,test_loss,test_acc,images_per_s,seconds,threads,blas_kernel,lr")
        XCTAssertEqual(lines[1].split(separator: ",")[6], "2")
        XCTAssertEqual(lines.count, 4)
        XCTAssertTrue(lines[3].hasPrefix("3,"))
        XCTAssertEqual(Double(lines[3].split(separator: ",")[3])!, result.metrics[2].testAccuracy, accuracy: 1e-6)
        let svg = String(decoding: try FileIO.read(run + "/curves.svg"), as: UTF8.self)
        XCTAssertTrue(svg.hasPrefix("<svg"))
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 3) // train loss, test loss, accuracy
        XCTAssertTrue(svg.hasSuffix("</svg>\n"))
        let report = String(decoding: try FileIO.read(run + "/report.md"), as: UTF8.self)
        let manifestSHA = SHA256.hex(SHA256.hash(try FileIO.read(dir + "/manifest.json")))
        XCTAssertTrue(report.contains(manifestSHA))
        XCTAssertTrue(report.contains(try Manifest.load(directory: dir).source.fingerprint))
        XCTAssertTrue(report.contains("| 3 | "))
        XCTAssertTrue(report.contains("Final test accuracy: **\(String(format: "%.2f", 100 * result.metrics[2].testAccuracy))%**"))
        // Rerunning into a directory with checkpoints without --resume is refused.
        XCTAssertThrowsError(try Trainer.run(settings(dir, run: run))) { error in
            XCTAssertTrue("\(error)".contains("--resume"), "\(error)")
        }
    }

    func testResumeGivesTheSameMetricsAsAnUninterruptedRun() throws {
        let dir = try Fixtures.shardDirectory()
        let straight = Fixtures.tempDirectory("straight")
        let full = try Trainer.run(settings(dir, run: straight, epochs: 3))

        // Interrupted after epoch 1, resumed to 3.
        let split = Fixtures.tempDirectory("split")
        let first = try Trainer.run(settings(dir, run: split, epochs: 1))
        XCTAssertEqual(first.metrics.count, 1)
        let resumed = try Trainer.run(settings(dir, run: split, epochs: 3, resume: true))
        XCTAssertEqual(resumed.resumedEpochs, 1)
        assertSameMetrics(resumed.metrics, full.metrics)
        XCTAssertEqual(try Checkpoint.read(split + "/checkpoint-003.ckpt").parameters,
                       try Checkpoint.read(straight + "/checkpoint-003.ckpt").parameters)

        // A corrupt newest checkpoint: resume falls back to the previous one and redoes the epoch.
        let path = split + "/checkpoint-003.ckpt"
        var bytes = try FileIO.read(path)
        bytes[bytes.count / 2] ^= 0xFF
        try FileIO.writeAtomically(path, bytes)
        let again = try Trainer.run(settings(dir, run: split, epochs: 3, resume: true))
        XCTAssertEqual(again.resumedEpochs, 2)
        assertSameMetrics(again.metrics, full.metrics)
        let csv = String(decoding: try FileIO.read(split + "/metrics.csv"), as: UTF8.self)
        XCTAssertEqual(csv.split(separator: "\n").count, 4)

        // Asking for fewer epochs than are done trains nothing and keeps the metrics.
        let nothing = try Trainer.run(settings(dir, run: split, epochs: 2, resume: true))
        XCTAssertEqual(nothing.resumedEpochs, 3)
        assertSameMetrics(nothing.metrics, full.metrics)

        // A checkpoint of other settings is refused.
        var other = settings(dir, run: split, epochs: 4, resume: true)
        other.train.batch = 64
        XCTAssertThrowsError(try Trainer.run(other)) { error in
            XCTAssertTrue("\(error)".contains("batch (50 vs 64)"), "\(error)")
        }
    }

    func assertSameMetrics(_ a: [EpochMetrics], _ b: [EpochMetrics], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a, b) {
            XCTAssertEqual(x.epoch, y.epoch, file: file, line: line)
            XCTAssertEqual(x.trainLoss, y.trainLoss, accuracy: 1e-5 * abs(y.trainLoss), file: file, line: line)
            XCTAssertEqual(x.testLoss, y.testLoss, accuracy: 1e-5 * abs(y.testLoss), file: file, line: line)
            XCTAssertEqual(x.testAccuracy, y.testAccuracy, file: file, line: line)
        }
    }

    func testSkipCorruptTrainsAroundABadChunkAndReportsIt() throws {
        let dir = try Fixtures.copy(try Fixtures.shardDirectory(), name: "trainer-corrupt")
        let file = dir + "/train/epoch-001/shard-00000.mxs"
        try Fixtures.corruptChunk(file: file, chunk: 1)
        let run = Fixtures.tempDirectory("skip-run")
        XCTAssertThrowsError(try Trainer.run(settings(dir, run: run))) { error in
            // The shard's SHA-256 no longer matches the manifest; the message names the damaged chunk.
            XCTAssertTrue("\(error)".hasPrefix("\(file): SHA-256 ") && "\(error)".contains("lists (chunk 1:"), "\(error)")
        }
        var s = settings(dir, run: Fixtures.tempDirectory("skip-run2"))
        s.skipCorrupt = true
        let result = try Trainer.run(s)
        XCTAssertEqual(result.metrics.count, 2)
        XCTAssertEqual(result.skipped.map(\.chunk), [1])
        let report = String(decoding: try FileIO.read(s.runDirectory + "/report.md"), as: UTF8.self)
        XCTAssertTrue(report.contains("## Skipped corrupt chunks"), report)
        XCTAssertTrue(report.contains(file), report)
    }

    func testTrainingOnTheEmbeddedSubsetLearns() throws {
        var p = Fixtures.tinyPipeline(train: 0, test: 0, epochs: 1)
        p.name = "learn"
        p.mix.mode = .none
        p.shards.samplesPerShard = 1000
        p.shards.samplesPerChunk = 250
        let dir = try Fixtures.shardDirectory("learn", p)
        let run = Fixtures.tempDirectory("learn-run")
        var s = settings(dir, run: run, epochs: 6)
        s.train.widths = [8, 16, 32, 32]
        s.train.hidden = 64
        s.train.batch = 32
        s.train.lr = 2e-3
        let result = try Trainer.run(s)
        XCTAssertEqual(try ShardDirectory(path: dir).testSampleCount, 500)
        // Chance is 10%; across seeds these settings end at 34–43% (best epoch ≥ 36%).
        let best = result.metrics.map(\.testAccuracy).max() ?? 0
        XCTAssertGreaterThanOrEqual(best, 0.30, "\(result.metrics)")
        XCTAssertGreaterThanOrEqual(result.finalAccuracy ?? 0, 0.25, "\(result.metrics)")
        XCTAssertLessThan(result.metrics.last!.trainLoss, result.metrics.first!.trainLoss)
    }

    func testEvaluationTableHasClassNames() throws {
        let e = Evaluation(count: 4, loss: 1.5, accuracy: 0.5, confusion: [[1, 1], [1, 1]])
        let text = e.table(classNames: ["cat", "dog"])
        XCTAssertTrue(text.hasPrefix("accuracy: 50.00% (2/4), loss 1.5000\n"), text)
        XCTAssertTrue(text.contains("cat"))
        XCTAssertTrue(text.contains("dog"))
        XCTAssertEqual(text.split(separator: "\n").count, 5)
    }

    /// Above 100 classes the table ranks classes instead of printing a K×K matrix
    /// (and above 1,024 `Evaluation.run` keeps no matrix at all, only these counts).
    func testEvaluationTableRanksClassesAboveOneHundred() throws {
        let k = 150
        let totals = (0..<k).map { $0 == 7 ? 0 : 4 }                  // class 7 has no test sample
        let correct = (0..<k).map { $0 == 7 ? 0 : ($0 == 3 ? 0 : ($0 % 2 == 0 ? 4 : 2)) }
        let e = Evaluation(count: totals.reduce(0, +), loss: 2, accuracy: 0.5, confusion: [],
                           classTotals: totals, classCorrect: correct)
        let names = (0..<k).map { "n\($0)" }
        let lines = e.table(classNames: names).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[0], "accuracy: 50.00% (\(correct.reduce(0, +))/596), loss 2.0000")
        XCTAssertEqual(lines[1], "150 classes (149 with test samples): the confusion matrix is printed up to 100 classes")
        XCTAssertEqual(lines[2], "lowest accuracy:")
        XCTAssertEqual(lines[3], "  n3: 0.0% (0/4)")
        XCTAssertEqual(lines[4], "  n1: 50.0% (2/4)")
        XCTAssertEqual(lines[13], "highest accuracy:")
        XCTAssertEqual(lines[14], "  n148: 100.0% (4/4)")
        XCTAssertEqual(lines.count, 24)
        XCTAssertFalse(lines.contains { $0.contains("n7:") })
    }
}
