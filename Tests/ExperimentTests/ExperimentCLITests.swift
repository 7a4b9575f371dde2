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
