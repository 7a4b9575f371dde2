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
