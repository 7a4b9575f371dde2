import Experiment
import Foundation
import MixCore
import TestSupport
import XCTest

/// `mixtrain experiment` through the built executable.
final class ExperimentCLITests: XCTestCase {
    typealias F = ExperimentFixtures

    /// Runs the built `mixtrain`; returns exit status, stdout, stderr.
    func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        try TestSupport.run(TestSupport.executable("mixtrain"), args)
    }

    func testExperimentCommand() throws {
        let file = try F.writeFile(F.tinyExperimentText(trials: "[0, 1, 2]", trainLimit: 200))
        let out = F.tempDirectory("cli") + "/out"
        let r = try run(["experiment", file, "--out", out, "--trials", "2", "--threads", "1", "--quiet"])
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, r.out)
        XCTAssertTrue(lines[0].hasPrefix("mixup: ") && lines[0].contains(" % vs baseline ")
                      && lines[0].contains(" % final test accuracy (1 trial each, 1 epoch): ") && lines[0].hasSuffix(" points"), r.out)
        XCTAssertEqual(lines[1], "report: \(out)/report.md")
        XCTAssertEqual(try FileIO.list(out + "/runs"), ["baseline-seed2", "mixup-seed2"])
        XCTAssertEqual(r.err, "")
    }

    func testTwoProcessesShareOneExperiment() throws {
        let file = try F.writeFile(F.tinyExperimentText(trainLimit: 200))
        let out = F.tempDirectory("two") + "/out"
        let results = Locked([(status: Int32, out: String, err: String)]())
        let mixtrain = TestSupport.executable("mixtrain")
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            let r = try! TestSupport.run(mixtrain, ["experiment", file, "--out", out, "--threads", "1"])
            results.withLock { $0.append(r) }
        }
        let both = results.withLock { $0 }
        XCTAssertEqual(both.map(\.status), [0, 0], both.map(\.err).joined())
        // Every run was trained by exactly one of the two.
        let trained = both.flatMap { $0.err.split(separator: "\n").filter { $0.contains(": mixtrain → ") } }
            .map { String($0.split(separator: " ")[1].dropLast()) }
        XCTAssertEqual(trained.sorted(), ["baseline-seed0", "baseline-seed1", "mixup-seed0", "mixup-seed1"], both.map(\.err).joined())
        // Both print the same answer, and the report is that of all four runs.
        XCTAssertEqual(both[0].out, both[1].out)
        let summary = try ExperimentSummary.decode(try FileIO.read(out + "/summary.json"))
        XCTAssertEqual(summary.runs.count, 4)
        XCTAssertFalse(try FileIO.list(out).contains { $0.hasSuffix(".tmp") })
    }

    /// Issue 22: a tampered trial.json of a finished run, then a rerun: `prepSeconds: 1e300`
    /// trapped formatting the report, a ragged or 9×9 confusion matrix was an index out of range,
    /// Int64.max entries overflowed (all exit 132), and a removed `confusion` made every rerun
    /// fail with "has not finished", forever. Now the rerun names the file and the problem in
    /// one warning, redoes that trial — evaluating its final checkpoint again, nothing else —
    /// and the report holds the same numbers; the next rerun has nothing to say.
    func testTamperedTrialRecordIsRedone() throws {
        let (_, file, _) = try F.sharedRun()
        let original = try ExperimentSummary.decode(try FileIO.read(F.sharedRun().out + "/summary.json"))
        func edit(_ json: inout [String: Any], row: Int, _ change: (inout [Int]) -> Void) {
            var c = json["confusion"] as! [[Int]]
            change(&c[row])
            json["confusion"] = c
        }
        let cases: [(String, String, (inout [String: Any]) -> Void)] = [
            ("prep1e300", "prepSeconds must be from 0 to 1,000,000,000 seconds (got 1e+300)", { $0["prepSeconds"] = 1e300 }),
            ("ragged", "confusion[3] has 9 entries; classNames names 10 classes", { edit(&$0, row: 3) { $0.removeLast() } }),
            ("nineByNine", "confusion has 9 rows; classNames names 10 classes",
             { $0["confusion"] = ($0["confusion"] as! [[Int]]).prefix(9).map { Array($0.prefix(9)) } }),
            ("int64max", "confusion[0][0] must be from 0 to 200, the test samples (got 9223372036854775807)",
             { edit(&$0, row: 0) { $0[0] = Int.max }; edit(&$0, row: 1) { $0[1] = Int.max } }),
            ("noConfusion", "complete is true but confusion is missing", { $0["confusion"] = nil }),
        ]
        for (name, problem, change) in cases {
            let out = try F.copyOfSharedRun(name)
            let path = out + "/runs/mixup-seed1/trial.json"
            let before = try FileIO.read(path)
            var json = try JSONSerialization.jsonObject(with: Data(before)) as! [String: Any]
            change(&json)
            try FileIO.writeAtomically(path, Array(try JSONSerialization.data(withJSONObject: json)))
            let r = try run(["experiment", file, "--out", out, "--threads", "1", "--quiet"])
            XCTAssertEqual(r.status, 0, "\(name): \(r.err)")
            XCTAssertEqual(r.err, "warning: \(path): \(problem); redoing this trial (shards and checkpoints that verify are kept, its prep time is lost)\n")
            // The redone record holds the same results (the final checkpoint, evaluated again); only the prep it did not redo is gone.
            var redone = try JSONSerialization.jsonObject(with: Data(try FileIO.read(path))) as! [String: Any]
            var old = try JSONSerialization.jsonObject(with: Data(before)) as! [String: Any]
            XCTAssertEqual(redone["prepSeconds"] as? Double, 0)
            for key in ["prepSeconds", "shardsWritten"] { (redone[key], old[key]) = (nil, nil) }
            XCTAssertEqual(NSDictionary(dictionary: redone), NSDictionary(dictionary: old), name)
            let summary = try ExperimentSummary.decode(try FileIO.read(out + "/summary.json"))
            XCTAssertEqual(summary.arms.map(\.confusion), original.arms.map(\.confusion), name)
            XCTAssertEqual(summary.runs.map(\.finalTestAccuracy), original.runs.map(\.finalTestAccuracy), name)
            // Done: the next rerun skips every run and says nothing.
            let again = try run(["experiment", file, "--out", out, "--threads", "1", "--quiet"])
            XCTAssertEqual(again.status, 0)
            XCTAssertEqual(again.err, "", name)
        }

        // A record consistent in itself but not with its final checkpoint (9 classes, the network 10):
        // the checkpoint is evaluated again, the rest of the record (its prep time) kept.
        let out = try F.copyOfSharedRun("ninecls")
        let path = out + "/runs/baseline-seed0/trial.json"
        let before = try JSONSerialization.jsonObject(with: Data(try FileIO.read(path))) as! [String: Any]
        var json = before
        let nine = (json["confusion"] as! [[Int]]).prefix(9).map { Array($0.prefix(9)) }
        json["confusion"] = nine
        json["classNames"] = Array((json["classNames"] as! [String]).prefix(9))
        json["testSamples"] = nine.joined().reduce(0, +)
        try FileIO.writeAtomically(path, Array(try JSONSerialization.data(withJSONObject: json)))
        let r = try run(["experiment", file, "--out", out, "--threads", "1", "--quiet"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.err, "warning: \(path): its confusion matrix has 9 classes, the final checkpoint 10; evaluating the final checkpoint again\n")
        let after = try JSONSerialization.jsonObject(with: Data(try FileIO.read(path))) as! [String: Any]
        XCTAssertEqual(NSDictionary(dictionary: after), NSDictionary(dictionary: before))
    }

    func testBadInputGivesOneLineErrorAndNonZeroExit() throws {
        let file = try F.writeFile(F.tinyExperimentText().replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0"))
        let r = try run(["experiment", file])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.err, "error: \(file): arms.mixup.alpha must be from 0.001 to 1,000,000 (got 0.0)\n")
        // Issue 22: an arm with α = 1e-320 used to trap its prep (exit 132).
        let tiny = try F.writeFile(F.tinyExperimentText().replacingOccurrences(of: "alpha = 0.2", with: "alpha = 1e-320"))
        let t = try run(["experiment", tiny, "--out", F.tempDirectory("tinyalpha") + "/out"])
        XCTAssertEqual(t.status, 1)
        XCTAssertEqual(t.err, "error: \(tiny): arms.mixup.alpha must be from 0.001 to 1,000,000 (got 1e-320)\n")
        let missing = try run(["experiment", "/nonexistent/x.toml"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.err.split(separator: "\n").count, 1, missing.err)
        XCTAssertTrue(missing.err.hasPrefix("error: /nonexistent/x.toml: cannot open"), missing.err)
        let badTrials = try run(["experiment", file, "--trials", "0,x"])
        XCTAssertNotEqual(badTrials.status, 0)
        XCTAssertTrue(badTrials.err.contains("--trials must be seeds ≥ 0 separated by commas"), badTrials.err)
    }
}
