import Foundation
import Fuzzing
import MixCore
import TestSupport
import XCTest

/// CI's fuzz pass: `mixfuzz` run as CI would run it, for a fixed seed and a
/// fixed number of cases per target (the long run is a documented command,
/// README "Bad input"), and the harness shown to catch what it claims to.
final class FuzzRunTests: XCTestCase {
    /// Cases per target in CI (debug build): about 35 s for all targets on 2 cores (`image` 5 s, `csv` 2 s of it).
    static let ciCases = 1200

    /// `mixfuzz replay --seed 9 --case N --save` twice per target: the same outcome and the same input bytes.
    static func assertReplayRegenerates(targets: [String], case n: Int, in name: String,
                                        file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = try temporaryDirectory(name)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for target in targets {
            var outputs: [String] = []
            for copy in ["a", "b"] {
                let r = try TestSupport.run(TestSupport.executable("mixfuzz"), ["replay", "--target", target, "--seed", "9", "--case", String(n),
                                                                                 "--save", dir + "/\(target)-\(copy)", "--root", TestSupport.packageRoot])
                XCTAssertEqual(r.status, 0, r.err, file: file, line: line)
                outputs.append(r.out.replacing(/mixfuzz-replay-[0-9]+/, with: "mixfuzz-replay-PID"))
            }
            XCTAssertEqual(outputs[0], outputs[1], target, file: file, line: line)
            XCTAssertTrue(outputs[0].hasPrefix("accepted") || outputs[0].hasPrefix("refused with a named error"), outputs[0], file: file, line: line)
            XCTAssertEqual(try FileIO.read(dir + "/\(target)-a"), try FileIO.read(dir + "/\(target)-b"), target, file: file, line: line)
        }
    }

    static func temporaryDirectory(_ name: String) throws -> String {
        let dir = NSTemporaryDirectory() + "mixshards-fuzz-\(name)-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileIO.makeDirectories(dir)
        return dir
    }

    static func mixfuzz(_ args: [String]) throws -> (status: Int32, out: String, err: String, summary: RunSummary?, seconds: Double) {
        let dir = try temporaryDirectory("run")
        let json = dir + "/summary.json"
        let start = Date()
        let r = try TestSupport.run(TestSupport.executable("mixfuzz"),
                                    args + ["--root", TestSupport.packageRoot, "--out", dir + "/failures", "--json", json, "--quiet"])
        let seconds = Date().timeIntervalSince(start)
        let summary = (try? FileIO.read(json)).flatMap { try? JSONDecoder().decode(RunSummary.self, from: Data($0)) }
        return (r.status, r.out, r.err, summary, seconds)
    }

    /// Every target, fixed seed: no crash, hang, memory blow-up or unnamed error,
    /// and each target's mutants both pass and fail its readers (so they reach past the first check).
    func testFixedSeedPassOverEveryTarget() throws {
        let r = try Self.mixfuzz(["run", "--seed", "1", "--cases", "\(Self.ciCases)"])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        let summary = try XCTUnwrap(r.summary, r.err)
        print("mixfuzz CI pass: \(summary.executions) executions in \(String(format: "%.1f", r.seconds)) s\n" + summary.table())
        XCTAssertEqual(summary.targets.map(\.target), FuzzTargets.standard.map(\.name))
        for t in summary.targets {
            XCTAssertEqual(t.executions, UInt64(Self.ciCases), t.target)
            XCTAssertEqual(t.failures, 0, "\(t.target): \(t.failureFiles)")
            XCTAssertEqual(t.crashes + t.hangs + t.memoryBlowups + t.unnamedErrors, 0, t.target)
            XCTAssertGreaterThan(t.accepted, 0, "\(t.target): no mutant was accepted")
            XCTAssertGreaterThan(t.namedErrors, 0, "\(t.target): no mutant was refused")
            XCTAssertLessThan(t.peakRSSMiB, 1024, t.target)
        }
    }

    /// Targets that fail on purpose: each failure is counted, its input written, and the run goes on after it.
    func testCanariesAreCaught() throws {
        let r = try Self.mixfuzz(["run", "--seed", "2", "--cases", "12", "--hang-seconds", "1", "--rss-limit-mb", "200",
                                  "--growth-limit-mb", "1", "--target", "canary-crash", "--target", "canary-hang",
                                  "--target", "canary-memory", "--target", "canary-unnamed", "--target", "canary-leak"])
        XCTAssertEqual(r.status, 1, r.out + r.err)
        let summary = try XCTUnwrap(r.summary, r.err)
        let byName = Dictionary(uniqueKeysWithValues: summary.targets.map { ($0.target, $0) })
        let crash = try XCTUnwrap(byName["canary-crash"]), hang = try XCTUnwrap(byName["canary-hang"])
        let memory = try XCTUnwrap(byName["canary-memory"]), unnamed = try XCTUnwrap(byName["canary-unnamed"])
        let leak = try XCTUnwrap(byName["canary-leak"])
        XCTAssertGreaterThan(crash.crashes, 0)
        XCTAssertGreaterThan(hang.hangs, 0)
        XCTAssertGreaterThan(memory.memoryBlowups, 0)
        XCTAssertGreaterThan(unnamed.unnamedErrors, 0)
        // Memory kept from case to case is measured, and a fresh worker takes over (not a failure).
        XCTAssertGreaterThan(leak.growthRestarts, 0)
        XCTAssertGreaterThan(leak.keptBytesPerCase, 100_000)
        XCTAssertEqual(leak.failures, 0)
        XCTAssertLessThan(crash.keptBytesPerCase, 100_000)
        // Every case ran: the supervisor restarts a worker after the failing case.
        for t in [crash, hang, memory, unnamed, leak] { XCTAssertEqual(t.executions, 12, t.target) }
        // Each case counted once. A case past --hang-seconds 1 is a hang: on a machine loaded
        // enough (a CI run beside two trainings) one of the crash canary's cases was.
        XCTAssertEqual(crash.crashes + crash.namedErrors + crash.accepted + crash.hangs, 12)
        // The failing inputs are on disk, named by target, seed and case, and replay the failure.
        let file = try XCTUnwrap(crash.failureFiles.first)
        XCTAssertTrue(file.contains("crash-canary-crash-seed2-case"), file)
        let input = try FileIO.read(file)
        XCTAssertLessThan(try XCTUnwrap(input.first), 64)
        XCTAssertTrue(r.err.contains("mixfuzz: CRASH (signal 4) in target canary-crash, seed 2, case"), r.err)
        // (A crashing replay cannot clean up after itself: its scratch directory is this test's.)
        let scratch = try Self.temporaryDirectory("replay-crash")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let replay = try TestSupport.run(TestSupport.executable("mixfuzz"), ["replay", file, "--target", "canary-crash", "--scratch", scratch])
        XCTAssertNotEqual(replay.status, 0)
        XCTAssertTrue(replay.err.contains("Index out of range"), replay.err)
        XCTAssertTrue(FileIO.exists(file.replacingOccurrences(of: ".bin", with: ".log")))
        XCTAssertTrue(try XCTUnwrap(hang.failureFiles.first).contains("hang-canary-hang-seed2-case"))
    }

    /// `replay --seed --case` regenerates a case's input exactly.
    func testReplayRegeneratesACase() throws {
        let dir = try Self.temporaryDirectory("replay")
        let exe = TestSupport.executable("mixfuzz")
        var outputs: [String] = []
        for name in ["a", "b"] {
            let r = try TestSupport.run(exe, ["replay", "--target", "shard", "--seed", "9", "--case", "17", "--save", dir + "/\(name).mxs",
                                              "--root", TestSupport.packageRoot])
            XCTAssertEqual(r.status, 0, r.err)
            outputs.append(r.out)
        }
        XCTAssertEqual(outputs[0], outputs[1])
        XCTAssertTrue(outputs[0].hasPrefix("accepted") || outputs[0].hasPrefix("refused with a named error"), outputs[0])
        XCTAssertEqual(try FileIO.read(dir + "/a.mxs"), try FileIO.read(dir + "/b.mxs"))
    }
}
