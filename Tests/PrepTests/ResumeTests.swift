import Foundation
import MixCore
import Pipeline
import Prep
import ShardStore
import XCTest

final class ResumeTests: XCTestCase {
    /// Kill a real `mixprep run` mid-way, damage a finished shard, rerun: the result equals an uninterrupted run.
    func testKilledThenResumedRunIsByteIdentical() throws {
        let base = try PrepFixtures.temporaryDirectory(name)
        let pipelineFile = base + "/p.toml"
        try PrepFixtures.writePipeline("""
            name = "resume"
            seed = 11
            [dataset]
            path = "\(PrepFixtures.mini)"
            [mix]
            p = 0.3
            [shards]
            epochs = 8
            samples_per_shard = 250
            samples_per_chunk = 50
            """, to: pipelineFile)
        let reference = base + "/reference", resumed = base + "/resumed"
        XCTAssertEqual(try PrepFixtures.run(["run", pipelineFile, "--out", reference, "--threads", "2", "--quiet"]).0, 0)

        let p = Process()
        p.executableURL = URL(fileURLWithPath: PrepFixtures.mixprep)
        p.arguments = ["run", pipelineFile, "--out", resumed, "--threads", "1", "--quiet"]
        try p.run()
        // Wait for a few shards, then kill it for real.
        let deadline = Date().addingTimeInterval(60)
        var done = 0
        while Date() < deadline {
            done = (try? FileIO.list(resumed + "/train/epoch-000"))?.filter { $0.hasSuffix(".mxs") }.count ?? 0
            if done >= 3 { break }
            usleep(10_000)
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal, "the run finished before it could be killed")
        XCTAssertFalse(FileIO.exists(resumed + "/manifest.json"))
        XCTAssertGreaterThanOrEqual(done, 3)

        // Damage one finished shard and leave a stray temp file, as a crash could.
        let victim = resumed + "/train/epoch-000/shard-00001.mxs"
        var bytes = try FileIO.read(victim)
        bytes[bytes.count / 2] ^= 0xFF
        try FileIO.writeAtomically(victim, bytes)
        try FileIO.writeAtomically(resumed + "/train/epoch-000/shard-00005.mxs.tmp", [1, 2, 3])

        let (status, out, err) = try PrepFixtures.run(["run", pipelineFile, "--out", resumed, "--threads", "2"])
        XCTAssertEqual(status, 0, err)
        XCTAssertTrue(out.contains("kept (verified)"), out)
        XCTAssertTrue(err.contains("redone train/epoch-000/shard-00001.mxs"), err)
        XCTAssertEqual(try PrepFixtures.snapshot(reference), try PrepFixtures.snapshot(resumed))
    }

    func testADifferentPipelineOrSeedIsRefused() throws {
        let dir = try PrepFixtures.temporaryDirectory(name)
        _ = try PrepRunner.run(try PrepFixtures.pipeline(epochs: 1, seed: 1), options: PrepOptions(outDirectory: dir, quiet: true))
        XCTAssertThrowsError(try PrepRunner.run(try PrepFixtures.pipeline(epochs: 1, seed: 2), options: PrepOptions(outDirectory: dir, quiet: true))) {
            XCTAssertTrue("\($0)".contains("different pipeline (differs in: seed"), "\($0)")
        }
        XCTAssertThrowsError(try PrepRunner.run(try PrepFixtures.pipeline(epochs: 1, p: 0.1, seed: 1), options: PrepOptions(outDirectory: dir, quiet: true))) {
            XCTAssertTrue("\($0)".contains("[mix]"), "\($0)")
        }
        // The same pipeline again: already complete, nothing rewritten.
        let before = try PrepFixtures.snapshot(dir)
        let report = try PrepRunner.run(try PrepFixtures.pipeline(epochs: 1, seed: 1), options: PrepOptions(outDirectory: dir, quiet: true))
        XCTAssertTrue(report.alreadyComplete)
        XCTAssertEqual(before, try PrepFixtures.snapshot(dir))
    }

    func testFinalizeRefusesMissingShards() throws {
        let dir = try PrepFixtures.temporaryDirectory(name)
        _ = try PrepRunner.run(try PrepFixtures.pipeline(epochs: 1), options: PrepOptions(outDirectory: dir, worker: WorkerSlot(index: 0, count: 2), quiet: true))
        XCTAssertThrowsError(try PrepRunner.finalize(directory: dir, threads: 2, quiet: true)) {
            XCTAssertEqual("\($0)", "\(dir): 3 of 7 shards missing: train/epoch-000/shard-00001.mxs, train/epoch-000/shard-00003.mxs, "
                           + "test/shard-00000.mxs; a worker has not finished (rerun it, or `mixprep run` without --worker)")
        }
    }

    /// A prep.json whose counts no mixprep wrote is refused before finalize builds its plan
    /// (10^15 training images ran for minutes, issue 22).
    func testFinalizeRefusesAPlanTooLargeToBuild() throws {
        let dir = try PrepFixtures.temporaryDirectory(name)
        _ = try PrepRunner.run(try PrepFixtures.pipeline(epochs: 1), options: PrepOptions(outDirectory: dir, worker: WorkerSlot(index: 0, count: 2), quiet: true))
        var state = try XCTUnwrap(try RunState.load(directory: dir))
        let honest = state
        state.source.trainCount = 1_000_000_000_000_000
        try state.write(directory: dir)
        XCTAssertThrowsError(try PrepRunner.finalize(directory: dir, threads: 2, quiet: true)) {
            XCTAssertEqual("\($0)", "\(dir)/prep.json: source.trainCount 1,000,000,000,000,000 is not a number of images a shard "
                           + "directory holds (from 0 to 4,294,967,295)")
        }
        state = honest
        state.source.trainCount = 4_000_000_000
        try state.write(directory: dir)
        XCTAssertThrowsError(try PrepRunner.finalize(directory: dir, threads: 2, quiet: true)) {
            XCTAssertTrue("\($0)".hasPrefix("\(dir)/prep.json: plans 10,000,00"), "\($0)")
            XCTAssertTrue("\($0)".hasSuffix(" shard files (4,000,000,000 training images, 1 epoch, 400 samples per shard); at most 10,000,000"), "\($0)")
        }
    }

    func testWorkerSlotFromJobArrays() throws {
        XCTAssertEqual(try WorkerSlot.fromEnvironment(["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"]), WorkerSlot(index: 3, count: 4))
        XCTAssertEqual(try WorkerSlot.fromEnvironment(["SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "2"]),
                       WorkerSlot(index: 3, count: 4))
        XCTAssertEqual(try WorkerSlot.fromEnvironment(["JOB_COMPLETION_INDEX": "1", "MIXPREP_WORKERS": "3"]), WorkerSlot(index: 1, count: 3))
        // With MIXPREP_WORKERS, the task id is the worker index: a task resubmitted alone
        // (`sbatch --array=1`, where Slurm says count 1 and min 1) is still worker 1 of 4.
        XCTAssertEqual(try WorkerSlot.fromEnvironment(["SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "1", "SLURM_ARRAY_TASK_MIN": "1",
                                                       "MIXPREP_WORKERS": "4"]), WorkerSlot(index: 1, count: 4))
        XCTAssertThrowsError(try WorkerSlot.fromEnvironment(["SLURM_ARRAY_TASK_ID": "4", "MIXPREP_WORKERS": "4"])) {
            XCTAssertEqual("\($0)", "SLURM_ARRAY_TASK_ID/MIXPREP_WORKERS = 4/4 is not a worker i of n with 0 ≤ i < n")
        }
        XCTAssertNil(try WorkerSlot.fromEnvironment([:]))
        XCTAssertThrowsError(try WorkerSlot.fromEnvironment(["JOB_COMPLETION_INDEX": "1"]))
        XCTAssertThrowsError(try WorkerSlot(parsing: "2/2"))
    }
}
