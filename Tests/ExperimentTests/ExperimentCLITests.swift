import Foundation
import MixCore
import XCTest

/// `mixtrain experiment` through the built executable.
final class ExperimentCLITests: XCTestCase {
    typealias F = ExperimentFixtures

    /// The `mixtrain` binary next to the test bundle (same build directory).
    func binary() throws -> String {
        var candidates: [URL] = []
        if let exe = Bundle.main.executableURL { candidates.append(exe.deletingLastPathComponent()) }
        candidates.append(Bundle.main.bundleURL)
        candidates.append(Bundle(for: ExperimentCLITests.self).bundleURL.deletingLastPathComponent())
        for dir in candidates {
            var d = dir
            for _ in 0..<3 {
                let path = d.appendingPathComponent("mixtrain").path
                if FileManager.default.isExecutableFile(atPath: path) { return path }
                d.deleteLastPathComponent()
            }
        }
        XCTFail("mixtrain executable not found next to the test bundle (\(candidates.map(\.path)))")
        throw XCTSkip("no binary")
    }

    func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try binary())
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
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

    func testBadInputGivesOneLineErrorAndNonZeroExit() throws {
        let file = try F.writeFile(F.tinyExperimentText().replacingOccurrences(of: "alpha = 0.2", with: "alpha = 0"))
        let r = try run(["experiment", file])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.err, "error: \(file): arms.mixup.alpha must be > 0 (got 0.0)\n")
        let missing = try run(["experiment", "/nonexistent/x.toml"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.err.split(separator: "\n").count, 1, missing.err)
        XCTAssertTrue(missing.err.hasPrefix("error: /nonexistent/x.toml: cannot open"), missing.err)
        let badTrials = try run(["experiment", file, "--trials", "0,x"])
        XCTAssertNotEqual(badTrials.status, 0)
        XCTAssertTrue(badTrials.err.contains("--trials must be seeds ≥ 0 separated by commas"), badTrials.err)
    }
}
