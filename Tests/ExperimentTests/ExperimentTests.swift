@testable import Experiment
import Foundation
import MixCore
import Training
import XCTest

/// End to end on the embedded data: 2 arms × 2 trials × 1 epoch of a tiny network.
final class ExperimentTests: XCTestCase {
    typealias F = ExperimentFixtures

    func testReportHoldsTheRunsNumbers() throws {
        let (out, _, outcome) = try F.sharedRun()
        XCTAssertEqual(outcome.trials.map(\.name), ["baseline-seed0", "mixup-seed0", "baseline-seed1", "mixup-seed1"])
        XCTAssertEqual(outcome.summary.runs.map { "\($0.arm)-seed\($0.seed)" },
                       ["baseline-seed0", "baseline-seed1", "mixup-seed0", "mixup-seed1"])
        XCTAssertEqual(outcome.prepared, 4)
        XCTAssertEqual(outcome.trained, 4)
        XCTAssertEqual(outcome.resumed, 0)
        XCTAssertEqual(outcome.skipped, 0)
        XCTAssertEqual(outcome.summary.runs.map(\.threads), Array(repeating: [1], count: 4))
        for t in outcome.trials {
            XCTAssertTrue(FileIO.exists(out + "/shards/\(t.name)/manifest.json"), t.name)
            XCTAssertTrue(FileIO.exists(out + "/runs/\(t.name)/checkpoint-001.ckpt"), t.name)
            XCTAssertEqual(t.shardsWritten, 3, t.name) // 2 train shards of 200 + 1 test shard of 200
        }

        let summary = try ExperimentSummary.decode(try FileIO.read(out + "/summary.json"))
        XCTAssertEqual(summary, outcome.summary)
        XCTAssertEqual(summary.baseline, "baseline")
        XCTAssertEqual(summary.epochs, 1)
        XCTAssertEqual(summary.seeds, [0, 1])
        XCTAssertEqual(summary.trainSamples, 400)
        XCTAssertEqual(summary.testSamples, 200)
        let report = String(decoding: try FileIO.read(out + "/report.md"), as: UTF8.self)

        var finals: [String: [Double]] = [:]
        for r in summary.runs {
            let csv = try F.metrics(out + "/" + r.run)
            XCTAssertEqual(csv.count, 1)
            let last = csv.last!
            XCTAssertEqual(r.finalTestAccuracy, last.testAccuracy, accuracy: 1e-6)
            XCTAssertEqual(r.bestTestAccuracy, csv.map(\.testAccuracy).max()!, accuracy: 1e-6)
            XCTAssertEqual(r.finalTestLoss, last.testLoss, accuracy: 1e-6)
            XCTAssertEqual(r.finalTrainLoss, last.trainLoss, accuracy: 1e-6)
            finals[r.arm, default: []].append(last.testAccuracy)
            // The confusion matrix is the final model's: 200 predictions, diagonal = accuracy.
            let total = r.confusion.reduce(0) { $0 + $1.reduce(0, +) }
            let correct = r.confusion.indices.reduce(0) { $0 + r.confusion[$1][$1] }
            XCTAssertEqual(total, 200)
            XCTAssertEqual(Double(correct) / 200, last.testAccuracy, accuracy: 1e-6)
            // The per-trial table row.
            let row = "| \(r.arm) | \(r.seed) | \(pct(last.testAccuracy)) % | \(pct(r.bestTestAccuracy)) % (1) | "
                + String(format: "%.4f", last.testLoss) + " | " + String(format: "%.4f", last.trainLoss) + " | "
            XCTAssertTrue(report.contains(row), "missing row \(row)\n\(report)")
            let kernel = BLASReport.kernel.split(separator: " ").first!
            XCTAssertTrue(report.contains(" | 1 | \(kernel) | [\(r.run)](\(r.run)/report.md) |\n"), "threads, kernel and link of \(r.run)")
            // Times: every part measured, prep from the shards written.
            XCTAssertGreaterThan(r.seconds.prep, 0)
            XCTAssertGreaterThanOrEqual(r.seconds.loading, 0)
            XCTAssertGreaterThan(r.seconds.training, 0)
            XCTAssertGreaterThan(r.seconds.evaluation, 0)
        }

        // Mean and sample standard deviation, recomputed from the CSVs.
        for arm in summary.arms {
            let v = finals[arm.name]!
            XCTAssertEqual(v.count, 2)
            let mean = (v[0] + v[1]) / 2
            let std = (((v[0] - mean) * (v[0] - mean) + (v[1] - mean) * (v[1] - mean)) / 1).squareRoot()
            XCTAssertEqual(arm.finalTestAccuracy.mean, mean, accuracy: 1e-9)
            XCTAssertEqual(arm.finalTestAccuracy.std!, std, accuracy: 1e-9)
            XCTAssertEqual(arm.finalTestAccuracy.n, 2)
            XCTAssertTrue(report.contains("| \(arm.name) | \(arm.mixing) | 2 | \(pct(mean)) ± \(pct(std)) % |"), report)
            // Summed confusion: 2 trials × 200.
            XCTAssertEqual(arm.confusion.reduce(0) { $0 + $1.reduce(0, +) }, 400)
            let seconds = summary.runs.filter { $0.arm == arm.name }.reduce(0.0) { $0 + $1.seconds.total }
            XCTAssertEqual(arm.seconds.total, seconds, accuracy: 1e-9)
        }
        XCTAssertEqual(summary.arms.map(\.mixing), ["none", "sample, p 0.2, α 0.2"])

        // The answer comes first.
        let b = finals["baseline"]!, m = finals["mixup"]!
        let (bm, mm) = ((b[0] + b[1]) / 2, (m[0] + m[1]) / 2)
        let c = summary.comparisons.first!
        XCTAssertEqual(c.arm, "mixup")
        XCTAssertEqual(c.difference, mm - bm, accuracy: 1e-9)
        XCTAssertEqual(c.perSeed.map(\.seed), [0, 1])
        XCTAssertEqual(c.perSeed[1].difference, m[1] - b[1], accuracy: 1e-9)
        let firstScreen = report.split(separator: "\n").prefix(12).joined(separator: "\n")
        let headline = outcome.headline.first!
        XCTAssertTrue(headline.hasPrefix("mixup: \(pct(mm)) ± "), headline)
        XCTAssertTrue(headline.contains(" vs baseline \(pct(bm)) ± "), headline)
        XCTAssertTrue(headline.hasSuffix("final test accuracy (2 trials each, 1 epoch): \(String(format: "%+.2f", 100 * (mm - bm))) points"), headline)
        XCTAssertTrue(firstScreen.contains("**\(headline).**"), firstScreen)
        XCTAssertTrue(firstScreen.contains("| arm | mixing | trials | final test accuracy |"), firstScreen)

        // Pictures.
        let svg = String(decoding: try FileIO.read(out + "/accuracy.svg"), as: UTF8.self)
        XCTAssertTrue(svg.hasPrefix("<svg"))
        XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 2 * 4) // 2 panels × 4 runs × 1 epoch
        XCTAssertTrue(svg.contains("#1f77b4") && svg.contains("#d62728"))
        XCTAssertTrue(report.contains("![Confusion matrices](confusion.png)"))
        XCTAssertTrue(report.contains("![Mixed samples of mixup](samples/mixup/contact-sheet.png)"))
        for png in ["confusion.png", "samples/mixup/contact-sheet.png"] {
            let bytes = try FileIO.read(out + "/" + png)
            XCTAssertEqual(Array(bytes.prefix(4)), [0x89, 0x50, 0x4E, 0x47], png)
        }
        XCTAssertFalse(FileIO.exists(out + "/samples/baseline"))
        // Markdown confusion tables hold the summed counts.
        let mix = summary.arms[1]
        let airplaneRow = "| **airplane** |" + mix.confusion[0].enumerated().map { $0 == 0 ? " **\($1)** |" : " \($1) |" }.joined()
        XCTAssertTrue(report.contains(airplaneRow), airplaneRow)
    }

    /// `--import`: a published experiment (summary.json and the runs' own files, no shards, no
    /// checkpoints) lends its runs to a later experiment with more arms, which trains only the
    /// rest and reports them all; an arm that changed is run again; a different training is refused.
    func testPublishedRunsAreImportedNotRerun() throws {
        let (sharedOut, _, shared) = try F.sharedRun()
        // Published as scripts/publish-experiment.sh does.
        let published = F.tempDirectory("published")
        try FileIO.writeAtomically(published + "/summary.json", try FileIO.read(sharedOut + "/summary.json"))
        for run in shared.summary.runs {
            try FileIO.makeDirectories(run.run, in: published)
            for name in ["report.md", "metrics.csv", "trial.json"] {
                try FileIO.writeAtomically(published + "/" + run.run + "/" + name, try FileIO.read(sharedOut + "/" + run.run + "/" + name))
            }
        }
        let more = F.defaultArms + "\n\n[[arms]]\nname = \"cutmix\"\nmode = \"cutmix\"\np = 0.5\nalpha = 1.0\n"
        let file = try F.writeFile(F.tinyExperimentText(arms: more))
        let out = F.tempDirectory("imported") + "/out"
        let options = ExperimentOptions(out: out, threads: 1, quiet: true, importFrom: published)
        let outcome = try ExperimentRunner.run(try ExperimentSpec.load(file), options: options)
        XCTAssertEqual(outcome.imported, 4)
        XCTAssertEqual(outcome.trained, 2)
        XCTAssertEqual(outcome.trials.filter { $0.training == .trained }.map(\.name), ["cutmix-seed0", "cutmix-seed1"])
        let s = outcome.summary
        XCTAssertEqual(s.runs.map { "\($0.arm)-seed\($0.seed)" },
                       ["baseline-seed0", "baseline-seed1", "mixup-seed0", "mixup-seed1", "cutmix-seed0", "cutmix-seed1"])
        XCTAssertEqual(Array(s.runs.prefix(4)), shared.summary.runs, "the published runs, number for number")
        XCTAssertEqual(Array(s.arms.prefix(2)), shared.summary.arms)
        XCTAssertEqual(s.importedFrom, published)
        XCTAssertEqual(s.importedRuns, ["baseline-seed0", "baseline-seed1", "mixup-seed0", "mixup-seed1"])
        XCTAssertEqual(s.sourceFingerprint, shared.summary.sourceFingerprint)
        let report = String(decoding: try FileIO.read(out + "/report.md"), as: UTF8.self)
        XCTAssertTrue(report.contains("Imported from `\(published)` (published earlier; not run again here): "
                                      + "baseline-seed0, baseline-seed1, mixup-seed0, mixup-seed1."), report)
        XCTAssertTrue(FileIO.exists(out + "/runs/mixup-seed1/report.md"))
        XCTAssertFalse(FileIO.exists(out + "/runs/mixup-seed1/trial.json"), "an imported run is not this folder's own")
        XCTAssertEqual(try ExperimentSummary.decode(try FileIO.read(out + "/summary.json")), s)

        // Again: nothing to do, nothing rewritten.
        let again = try ExperimentRunner.run(try ExperimentSpec.load(file), options: options)
        XCTAssertEqual([again.imported, again.skipped, again.trained], [4, 2, 0])
        XCTAssertEqual(again.filesWritten, [])
        // Without --import the published runs are this folder's to run.
        XCTAssertEqual(try ExperimentRunner.run(try ExperimentSpec.load(file),
                                                options: ExperimentOptions(out: out, threads: 1, trials: [0], quiet: true)).trained, 2)

        // An arm that changed is not imported (and runs here); the others are.
        let changed = try F.writeFile(F.tinyExperimentText(arms: F.defaultArms.replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0.3")))
        let other = ImportedRuns.load
        let plan = try ExperimentPlan(spec: try ExperimentSpec.load(changed), options: ExperimentOptions(out: out + "-2", threads: 1))
        let taken = try other(published, plan)
        XCTAssertEqual(Set(taken.runs.keys), ["baseline-seed0", "baseline-seed1"])
        XCTAssertEqual(taken.warnings.count, 2)
        XCTAssertTrue(taken.warnings[0].hasPrefix("not importing mixup-seed0 from \(published): its arm differs in mixing, augmentation"),
                      taken.warnings[0])
        // Another training length: nothing can be imported.
        XCTAssertThrowsError(try ExperimentRunner.run(try ExperimentSpec.load(file),
                                                      options: ExperimentOptions(out: out + "-3", epochs: 2, threads: 1, quiet: true,
                                                                                 importFrom: published))) {
            XCTAssertEqual("\($0)", "\(published)/summary.json: was trained otherwise: 1 training epochs, this experiment 2; "
                           + "nothing can be imported from it")
        }
    }

    func testRerunDoesNoWork() throws {
        let out = try F.copyOfSharedRun("rerun")
        let file = try F.sharedRun().file
        let before = try F.snapshot(out)
        let outcome = try ExperimentRunner.run(try ExperimentSpec.load(file),
                                               options: ExperimentOptions(out: out, threads: 1, quiet: true))
        XCTAssertEqual(outcome.skipped, 4)
        XCTAssertEqual(outcome.trained, 0)
        XCTAssertEqual(outcome.prepared, 0)
        XCTAssertTrue(outcome.trials.allSatisfy { !$0.prepRan && $0.training == .skipped })
        XCTAssertEqual(outcome.filesWritten, [])
        let after = try F.snapshot(out)
        XCTAssertEqual(Set(before.keys), Set(after.keys))
        for (name, b) in before {
            XCTAssertEqual(after[name]!.mtime, b.mtime, name)
            XCTAssertTrue(after[name]!.bytes == b.bytes, "\(name) changed")
        }
    }

    /// Issue 22: every field of a trial.json read back is checked, each problem one line naming
    /// the key (the runner then redoes the trial; ExperimentCLITests shows it end to end).
    func testTrialRecordFieldsAreChecked() throws {
        let (out, _, _) = try F.sharedRun()
        let original = try FileIO.read(out + "/runs/mixup-seed0/trial.json")
        let dir = F.tempDirectory("record")
        let path = dir + "/" + TrialRecord.fileName
        func problem(_ edit: (inout [String: Any]) -> Void) throws -> String? {
            var json = try JSONSerialization.jsonObject(with: Data(original)) as! [String: Any]
            edit(&json)
            try FileIO.writeAtomically(path, Array(try JSONSerialization.data(withJSONObject: json)))
            switch try TrialRecord.load(directory: dir) {
            case .success?: return nil
            case .failure(let e)?: return e.message
            case nil: return "no record"
            }
        }
        XCTAssertNil(try problem { _ in })
        XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(original)) as! [String: Any])["testSamples"] as? Int, 200)
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("prepSeconds must be from 0 to 1,000,000,000 seconds (got 1e+300)", { $0["prepSeconds"] = 1e300 }),
            ("prepSeconds must be from 0 to 1,000,000,000 seconds (got -1.0)", { $0["prepSeconds"] = -1 }),
            ("shardsWritten must be from 0 to 1,000,000,000,000 (got 9223372036854775807)", { $0["shardsWritten"] = Int.max }),
            ("testSamples must be from 1 to 1,000,000,000,000 (got 0)", { $0["testSamples"] = 0 }),
            ("trainSamples must be from 1 to 1,000,000,000,000 (got -3)", { $0["trainSamples"] = -3 }),
            ("complete is true but confusion is missing", { $0["confusion"] = nil }),
            ("complete is true but manifestSHA256 is missing", { $0["manifestSHA256"] = nil }),
            ("complete is false but confusion is set", { $0["complete"] = false }),
            ("confusion[3] has 9 entries; classNames names 10 classes", { var c = $0["confusion"] as! [[Int]]; c[3].removeLast(); $0["confusion"] = c }),
            ("confusion has 9 rows; classNames names 10 classes", { $0["confusion"] = Array(($0["confusion"] as! [[Int]]).prefix(9)) }),
            ("confusion[1][1] must be from 0 to 200, the test samples (got 9223372036854775807)",
             { var c = $0["confusion"] as! [[Int]]; c[1][1] = Int.max; c[2][2] = Int.max; $0["confusion"] = c }),
            ("confusion[0][0] must be from 0 to 200, the test samples (got -1)", { var c = $0["confusion"] as! [[Int]]; c[0][0] = -1; $0["confusion"] = c }),
            ("confusion counts 201 test samples; testSamples says 200", { var c = $0["confusion"] as! [[Int]]; c[4][4] += 1; $0["confusion"] = c }),
            ("classNames must name from 2 to 65,535 classes (got 1)", { $0["classNames"] = ["a"]; $0["confusion"] = [[200]] }),
            ("classNames[2] is empty; a class name is from 1 to 256 bytes of UTF-8",
             { var n = $0["classNames"] as! [String]; n[2] = ""; $0["classNames"] = n }),
            ("is not a trial record (key prepSeconds: Expected to decode Double but found a string instead.)", { $0["prepSeconds"] = "soon" }),
        ]
        for (expected, edit) in cases {
            XCTAssertEqual(try problem(edit), path + ": " + expected)
        }
    }

    func testInterruptedPrepAndTrainingAreRedoneAlone() throws {
        let out = try F.copyOfSharedRun("interrupted")
        let file = try F.writeFile(F.tinyExperimentText())
        let original = try F.metrics(out + "/runs/mixup-seed1")
        // A kill during mixprep: no manifest, one shard missing.
        FileIO.remove(out + "/shards/baseline-seed1/manifest.json")
        FileIO.remove(out + "/shards/baseline-seed1/train/epoch-000/shard-00001.mxs")
        FileIO.remove(out + "/runs/baseline-seed1/trial.json")
        FileIO.remove(out + "/runs/baseline-seed1/checkpoint-001.ckpt")
        // A kill during training: no checkpoint yet.
        FileIO.remove(out + "/runs/mixup-seed1/checkpoint-001.ckpt")
        FileIO.remove(out + "/runs/mixup-seed1/metrics.csv")
        let untouched = try F.snapshot(out + "/runs/mixup-seed0")

        let outcome = try ExperimentRunner.run(try ExperimentSpec.load(file),
                                               options: ExperimentOptions(out: out, threads: 1, quiet: true))
        let byName = Dictionary(uniqueKeysWithValues: outcome.trials.map { ($0.name, $0) })
        XCTAssertEqual(byName["baseline-seed0"]!.training, .skipped)
        XCTAssertEqual(byName["mixup-seed0"]!.training, .skipped)
        XCTAssertEqual(byName["baseline-seed1"]!.shardsWritten, 1)
        XCTAssertEqual(byName["baseline-seed1"]!.shardsKept, 2)
        XCTAssertEqual(byName["baseline-seed1"]!.training, .trained)
        XCTAssertEqual(byName["mixup-seed1"]!.shardsWritten, 0)
        XCTAssertTrue(byName["mixup-seed1"]!.prepRan)
        XCTAssertEqual(byName["mixup-seed1"]!.training, .trained)
        XCTAssertEqual([outcome.skipped, outcome.trained, outcome.prepared], [2, 2, 1])
        // Same seed, same shards: the redone run reproduces its metrics.
        let redone = try F.metrics(out + "/runs/mixup-seed1")
        XCTAssertEqual(redone.map(\.testAccuracy), original.map(\.testAccuracy))
        XCTAssertEqual(redone.map(\.trainLoss), original.map(\.trainLoss))
        let after = try F.snapshot(out + "/runs/mixup-seed0")
        for (name, b) in untouched { XCTAssertEqual(after[name]!.mtime, b.mtime, name) }
        // The report's numbers are those of the runs now on disk.
        let summary = try ExperimentSummary.decode(try FileIO.read(out + "/summary.json"))
        let run = summary.runs.first { $0.arm == "mixup" && $0.seed == 1 }!
        XCTAssertEqual(run.finalTestAccuracy, redone.last!.testAccuracy, accuracy: 1e-6)
    }

    func testKilledRunResumesFromItsLastCheckpoint() throws {
        let arms = "[[arms]]\nname = \"mixup\"\n"
        let file = try F.writeFile(F.tinyExperimentText(trials: "[3]", epochs: 2, arms: arms, trainLimit: 200))
        let out = F.tempDirectory("resume") + "/out"
        let options = ExperimentOptions(out: out, threads: 1, quiet: true)
        let first = try ExperimentRunner.run(try ExperimentSpec.load(file), options: options)
        XCTAssertEqual(first.trials.map(\.training), [.trained])
        let full = try F.metrics(out + "/runs/mixup-seed3")
        XCTAssertEqual(full.count, 2)
        // Killed after epoch 1: the second checkpoint and the trial record's completion are gone.
        FileIO.remove(out + "/runs/mixup-seed3/checkpoint-002.ckpt")
        FileIO.remove(out + "/runs/mixup-seed3/trial.json")
        let again = try ExperimentRunner.run(try ExperimentSpec.load(file), options: options)
        XCTAssertEqual(again.trials.map(\.training), [.resumed(epochs: 1)])
        XCTAssertEqual(again.trials[0].shardsWritten, 0)
        let resumed = try F.metrics(out + "/runs/mixup-seed3")
        XCTAssertEqual(resumed.map(\.testAccuracy), full.map(\.testAccuracy))
        XCTAssertEqual(resumed.map(\.testLoss), full.map(\.testLoss))
        // One arm: the headline states it without a comparison.
        XCTAssertEqual(again.headline, ["mixup: \(pct(full[1].testAccuracy)) % final test accuracy (1 trial, 2 epochs)"])
        XCTAssertEqual(again.summary.runs[0].bestEpoch, full[0].testAccuracy > full[1].testAccuracy ? 1 : 2)
    }

    func testChangedSettingsAreRefusedNamingTheKey() throws {
        let out = try F.copyOfSharedRun("changed")
        let text = F.tinyExperimentText().replacingOccurrences(of: "hidden = 32", with: "hidden = 24")
        let file = try F.writeFile(text)
        XCTAssertThrowsError(try ExperimentRunner.run(try ExperimentSpec.load(file),
                                                      options: ExperimentOptions(out: out, threads: 1, quiet: true))) { e in
            let message = "\(e)"
            XCTAssertTrue(message.contains("runs/baseline-seed0: holds a run made with other settings (differs in: train.hidden)"), message)
            XCTAssertFalse(message.contains("\n"))
        }
    }

    func testRunHeldByAnotherProcessIsWaitedForAndTakenOverWhenItsHolderDies() throws {
        let out = try F.copyOfSharedRun("locked")
        let file = try F.writeFile(F.tinyExperimentText())
        let original = try F.metrics(out + "/runs/baseline-seed0")
        // baseline-seed0 was interrupted, and "another process" still holds it.
        FileIO.remove(out + "/runs/baseline-seed0/checkpoint-001.ckpt")
        FileIO.remove(out + "/runs/baseline-seed0/trial.json")
        var holder: FileLock? = try XCTUnwrap(FileLock.tryAcquire(out + "/runs/baseline-seed0/.lock"))
        let lines = Locked([String]())
        let result = Locked<Result<ExperimentOutcome, Error>?>(nil)
        let finished = expectation(description: "runner returned")
        let spec = try ExperimentSpec.load(file)
        Thread.detachNewThread {
            let r = Result { try ExperimentRunner.run(spec, options: ExperimentOptions(out: out, threads: 1, quiet: false)) { line in
                lines.withLock { $0.append(line) }
            } }
            result.withLock { $0 = r }
            finished.fulfill()
        }
        // The runner does every free run, then waits for the held one.
        let deadline = Date().addingTimeInterval(120)
        while !lines.withLock({ $0.contains("[1/4] baseline-seed0: waiting for the other process") }) && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        Thread.sleep(forTimeInterval: 0.3)
        let seen = lines.withLock { $0 }
        XCTAssertEqual(seen.filter { $0.hasPrefix("[") }, [
            "[1/4] baseline-seed0: another process is running it; coming back to it at the end",
            "[2/4] mixup-seed0: finished; skipped",
            "[3/4] baseline-seed1: finished; skipped",
            "[4/4] mixup-seed1: finished; skipped",
            "[1/4] baseline-seed0: waiting for the other process",
        ])
        XCTAssertNil(result.withLock { $0 }, "the runner returned while a run was held")
        XCTAssertFalse(FileIO.exists(out + "/runs/baseline-seed0/trial.json"), "the runner touched a held run")
        // The holder dies without finishing: the runner takes the run over.
        holder = nil
        wait(for: [finished], timeout: 120)
        let outcome = try XCTUnwrap(result.withLock { $0 }).get()
        XCTAssertEqual(outcome.trials.map(\.name), ["mixup-seed0", "baseline-seed1", "mixup-seed1", "baseline-seed0"])
        XCTAssertEqual(outcome.trials.map(\.training), [.skipped, .skipped, .skipped, .trained])
        XCTAssertEqual(try F.metrics(out + "/runs/baseline-seed0").map(\.testAccuracy), original.map(\.testAccuracy))
        let summary = try ExperimentSummary.decode(try FileIO.read(out + "/summary.json"))
        XCTAssertEqual(summary.runs.first { $0.arm == "baseline" && $0.seed == 0 }!.finalTestAccuracy,
                       original.last!.testAccuracy, accuracy: 1e-6)
        _ = holder
    }

    func testReferenceAccuraciesAreShownNextToTheResults() throws {
        let outcome = try F.sharedRun().outcome
        var s = outcome.summary
        let plain = ExperimentReport.markdown(s, plan: outcome.plan, contactSheets: [])
        XCTAssertFalse(plain.contains("reference"), "no reference column without references")
        s.arms[0].referenceAccuracy = 0.745
        s.arms[1].referenceAccuracy = 0.765
        s.reference = "the article"
        let md = ExperimentReport.markdown(s, plan: outcome.plan, contactSheets: [])
        XCTAssertTrue(md.contains("| vs baseline | disk per run | reference |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n"), md)
        let disk = s.arms.map { ByteSize.describe(Int($0.shardBytes!.mean)) }
        XCTAssertTrue(md.contains(" | — | \(disk[0]) | 74.50 % |\n"), md)
        XCTAssertTrue(md.contains(" points | \(disk[1]) | 76.50 % |\n"), md)
        // Arms of two trials or more get the interval of their mean.
        let a = s.arms[0].finalTestAccuracy
        let half = 12.706 * a.std! / 2.0.squareRoot()
        XCTAssertTrue(md.contains(String(format: "95%% intervals of the mean final test accuracy (Student t, n − 1 degrees of freedom): baseline %.2f to %.2f %%;",
                                         100 * (a.mean - half), 100 * (a.mean + half))), md)
        let here = String(format: "%+.2f", 100 * s.comparisons[0].difference)
        XCTAssertTrue(md.contains("Reference (the article): baseline 74.50 %, mixup 76.50 % — mixup +2.00 points; here: mixup \(here) points.\n"), md)
    }

    /// Each arm's disk is what its runs' shard directories hold: every shard file, summed
    /// from the files themselves here; the recipe and materialised epochs are recorded per arm.
    func testArmsRecordDiskRecipeAndMaterialisedEpochs() throws {
        let outcome = try F.sharedRun().outcome
        for arm in outcome.summary.arms {
            var sizes: [Double] = []
            for trial in outcome.plan.trials(of: arm.name) {
                let root = URL(fileURLWithPath: trial.shardDirectory)
                let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.fileSizeKey])!
                var total = 0
                for case let url as URL in files where url.pathExtension == "mxs" {
                    total += try url.resourceValues(forKeys: [.fileSizeKey]).fileSize!
                }
                XCTAssertGreaterThan(total, 0)
                sizes.append(Double(total))
            }
            XCTAssertEqual(arm.shardBytes?.values, sizes, arm.name)
            XCTAssertEqual(arm.materialisedEpochs, outcome.plan.epochs)
            XCTAssertEqual(arm.training, outcome.plan.trials[0].pipeline.train.recipeDescription)
        }
        // Equal recipes and epochs get no column; differing ones do.
        var s = outcome.summary
        XCTAssertFalse(ExperimentReport.markdown(s, plan: outcome.plan, contactSheets: []).contains("epochs materialised"))
        s.arms[1].materialisedEpochs = 5
        s.arms[1].training = "cosine lr 0.001 → 0"
        let md = ExperimentReport.markdown(s, plan: outcome.plan, contactSheets: [])
        XCTAssertTrue(md.contains("| arm | mixing | training | trials |"), md)
        XCTAssertTrue(md.contains("| epochs materialised | disk per run |"), md)
        XCTAssertTrue(md.contains("| mixup | sample, p 0.2, α 0.2 | cosine lr 0.001 → 0 | "), md)
    }

    func testThreadsAreShownByStretchesOfEpochs() {
        XCTAssertEqual(ExperimentReport.threadsText([1, 1, 1]), "1")
        XCTAssertEqual(ExperimentReport.threadsText([2, 2, 1, 1, 1]), "2 (1–2), 1 (3–5)")
        XCTAssertEqual(ExperimentReport.threadsText([nil, nil, 1]), "— (1–2), 1 (3)")
        XCTAssertEqual(ExperimentReport.threadsText([nil]), "—")
    }

    func pct(_ x: Double) -> String { String(format: "%.2f", 100 * x) }
}
