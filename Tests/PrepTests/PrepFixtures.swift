import Foundation
import MixCore
import Pipeline
import Prep
import TestSupport
import XCTest

/// Paths, pipelines and directory comparison for the end-to-end tests.
enum PrepFixtures {
    static let repo = TestSupport.packageRoot
    static let mini = TestSupport.miniCIFAR

    static func temporaryDirectory(_ name: String) throws -> String {
        let dir = NSTemporaryDirectory() + "mixshards-prep-\(name.filter { $0.isLetter || $0.isNumber })-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileIO.makeDirectories(dir)
        return dir
    }

    /// A small pipeline on the embedded data: 2,000 train and 500 test images.
    static func pipeline(epochs: Int = 2, mode: String = "sample", p: Double = 0.5, seed: Int = 3,
                         samplesPerShard: Int = 400, trainLimit: Int = 0) throws -> Pipeline {
        try Pipeline.parse("""
            name = "test"
            seed = \(seed)
            [dataset]
            path = "\(mini)"
            train_limit = \(trainLimit)
            [mix]
            mode = "\(mode)"
            p = \(p)
            alpha = 0.4
            [shards]
            epochs = \(epochs)
            samples_per_shard = \(samplesPerShard)
            samples_per_chunk = 64
            """)
    }

    static func writePipeline(_ text: String, to path: String) throws {
        try FileIO.writeAtomically(path, text)
    }

    /// Every regular file under `dir` (relative path → bytes), but lock files
    /// (`.mixprep.lock`, a worker's own lock: bookkeeping, not content).
    static func snapshot(_ dir: String) throws -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        let e = FileManager.default.enumerator(atPath: dir)!
        while let rel = e.nextObject() as? String {
            if FileIO.isDirectory(dir + "/" + rel) || rel.hasSuffix(".lock") { continue }
            out[rel] = try FileIO.read(dir + "/" + rel)
        }
        return out
    }

    /// Runs `p` into `base`/t1 at 1 thread, `base`/t2 at 2 threads, and `base`/w as a worker
    /// split (share 1 of 2 on 2 threads, then share 0 on 1 thread, then `finalize`); checks that
    /// a worker share alone writes no manifest; returns the three snapshots.
    static func threadAndWorkerSnapshots(_ p: Pipeline, in base: String, file: StaticString = #filePath, line: UInt = #line) throws
        -> (t1: [String: [UInt8]], t2: [String: [UInt8]], split: [String: [UInt8]]) {
        _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: base + "/t1", threads: 1, quiet: true))
        _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: base + "/t2", threads: 2, quiet: true))
        _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: base + "/w", threads: 2, worker: WorkerSlot(index: 1, count: 2), quiet: true))
        XCTAssertFalse(FileIO.exists(base + "/w/manifest.json"), "a worker share must not write the manifest", file: file, line: line)
        _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: base + "/w", threads: 1, worker: WorkerSlot(index: 0, count: 2), quiet: true))
        try PrepRunner.finalize(directory: base + "/w", threads: 2, quiet: true)
        return (try snapshot(base + "/t1"), try snapshot(base + "/t2"), try snapshot(base + "/w"))
    }

    /// The built `mixprep` executable.
    static var mixprep: String { TestSupport.executable("mixprep") }

    /// Runs `mixprep` with `args`; returns (exit status, stdout, stderr).
    @discardableResult
    static func run(_ args: [String], env: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        try TestSupport.run(mixprep, args, env: env)
    }
}
