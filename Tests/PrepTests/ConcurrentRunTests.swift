import Foundation
import MixCore
import Pipeline
import Prep
import XCTest

/// Two `mixprep run` into one directory at once (issue 10, item 7): the second is
/// refused with one line saying who holds the directory; workers still share it.
final class ConcurrentRunTests: XCTestCase {
    func testASecondRunIntoTheSameDirectoryIsRefusedNamingTheHolder() throws {
        let base = try PrepFixtures.temporaryDirectory(name)
        let file = base + "/p.toml"
        try PrepFixtures.writePipeline("""
            name = "lock"
            [dataset]
            path = "\(PrepFixtures.mini)"
            [shards]
            epochs = 12
            samples_per_shard = 250
            """, to: file)
        let out = base + "/out"
        let first = Process()
        first.executableURL = URL(fileURLWithPath: PrepFixtures.mixprep)
        first.arguments = ["run", file, "--out", out, "--threads", "1", "--quiet"]
        try first.run()
        // Wait until the first run holds the directory (its lock file names it).
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && FileLock.holder(of: out + "/.mixprep.lock") == nil { usleep(5_000) }
        let second = try PrepFixtures.run(["run", file, "--out", out, "--threads", "1"])
        let firstStillRunning = first.isRunning
        first.waitUntilExit()
        XCTAssertEqual(first.terminationStatus, 0)
        XCTAssertTrue(firstStillRunning, "the first run ended before the second started; make it longer")
        XCTAssertEqual(second.status, 1, second.err)
        XCTAssertEqual(second.err.split(separator: "\n").count, 1, second.err)
        XCTAssertTrue(second.err.hasPrefix("error: \(out): another process is writing into it: mixprep run (pid \(first.processIdentifier) on "), second.err)
        XCTAssertTrue(second.err.hasSuffix("); wait for it to finish, or choose another --out\n"), second.err)
        // The winner's directory is whole, and the lock is free again.
        XCTAssertTrue(try Verifier.verify(directory: out, threads: 2).problems.isEmpty)
        XCTAssertNil(FileLock.holder(of: out + "/.mixprep.lock"))
        XCTAssertEqual(try PrepFixtures.run(["run", file, "--out", out, "--quiet"]).status, 0)
    }

    /// Workers share the directory; a whole run or finalize is refused while they work, and so is a worker twice.
    func testWorkersShareTheDirectoryButExcludeWholeRuns() throws {
        let base = try PrepFixtures.temporaryDirectory(name)
        let p = try PrepFixtures.pipeline(epochs: 1)
        let dir = base + "/w"
        try FileIO.makeDirectories(dir)
        let worker0 = try XCTUnwrap(FileLock.tryAcquire(dir + "/.mixprep.lock", shared: true))
        let own0 = try XCTUnwrap(FileLock.tryAcquire(dir + "/.mixprep-worker-0-of-2.lock"))
        own0.recordHolder("mixprep run --worker 0/2")
        XCTAssertThrowsError(try PrepRunner.run(p, options: PrepOptions(outDirectory: dir, threads: 1, quiet: true))) {
            XCTAssertEqual("\($0)", "\(dir): mixprep workers are writing into it; wait for it to finish, or choose another --out")
        }
        XCTAssertThrowsError(try PrepRunner.run(p, options: PrepOptions(outDirectory: dir, threads: 1, worker: WorkerSlot(index: 0, count: 2), quiet: true))) {
            XCTAssertTrue("\($0)".hasPrefix("\(dir): worker 0/2 is already running here (mixprep run --worker 0/2 (pid \(getpid()) on "), "\($0)")
        }
        _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: dir, threads: 1, worker: WorkerSlot(index: 1, count: 2), quiet: true))
        XCTAssertThrowsError(try PrepRunner.finalize(directory: dir, threads: 1, quiet: true)) {
            XCTAssertEqual("\($0)", "\(dir): mixprep workers are writing into it; wait for it to finish, or choose another --out")
        }
        withExtendedLifetime((worker0, own0)) {}
    }
}

/// Workers of a job array start at once on a fresh folder (issue 24; issue 22, item 2): they
/// used to share `prep.json.tmp`, and one in three tries failed to rename it.
final class ConcurrentWorkerStartTests: XCTestCase {
    func testFourWorkersStartedTogetherNeverRace() throws {
        let base = try PrepFixtures.temporaryDirectory(name)
        let pipe = base + "/p.toml"
        try FileIO.writeAtomically(pipe, "name = \"race\"\nseed = 4\n[dataset]\npath = \"\(PrepFixtures.mini)\"\ntrain_limit = 400\ntest_limit = 100\n"
                                   + "[shards]\nepochs = 2\nsamples_per_shard = 50\n")
        XCTAssertEqual(try PrepFixtures.run(["run", pipe, "--out", base + "/single", "--quiet"]).status, 0)
        let single = try PrepFixtures.snapshot(base + "/single")
        for attempt in 0..<4 {
            let out = base + "/array-\(attempt)"
            let results = Locked([Int: (status: Int32, out: String, err: String)]())
            DispatchQueue.concurrentPerform(iterations: 4) { w in
                let r = try? PrepFixtures.run(["run", pipe, "--out", out, "--quiet"],
                                              env: ["SLURM_ARRAY_TASK_ID": String(w), "MIXPREP_WORKERS": "4"])
                results.withLock { $0[w] = r }
            }
            for (w, r) in results.withLock({ $0 }) { XCTAssertEqual(r.status, 0, "attempt \(attempt), worker \(w): \(r.err)") }
            let fin = try PrepFixtures.run(["finalize", out, "--quiet"])
            XCTAssertEqual(fin.status, 0, fin.err)
            XCTAssertEqual(try PrepFixtures.snapshot(out), single, "attempt \(attempt)")
            XCTAssertFalse(try FileIO.list(out).contains { $0.hasSuffix(".tmp") })
        }
    }
}
