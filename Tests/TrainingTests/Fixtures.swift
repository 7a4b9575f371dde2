import Foundation
import MixCore
import Pipeline
import Prep
import ShardFormat
import TestSupport
@testable import Training
import XCTest

/// Shared test data: tiny shard directories made with `PrepRunner` from the
/// embedded CIFAR-10 subset, created once per test process.
enum Fixtures {
    static let packageRoot = TestSupport.packageRoot
    static let miniCIFAR = TestSupport.miniCIFAR

    /// A fresh temporary folder for this process.
    static let scratch: String = {
        let dir = NSTemporaryDirectory() + "mixtrain-tests-\(getpid())"
        try? FileIO.makeDirectories(dir)
        atexit { try? FileManager.default.removeItem(atPath: Fixtures.scratch) }
        return dir
    }()

    /// A unique folder under `scratch`.
    static func tempDirectory(_ name: String) -> String {
        let dir = scratch + "/" + name + "-" + String(UInt64.random(in: 0...UInt64.max) % 1_000_000_000)
        try? FileIO.makeDirectories(dir)
        return dir
    }

    /// The tiny pipeline: 300 train / 100 test images, 2 materialised epochs,
    /// shards of 128 samples in chunks of 32, and a tiny network.
    static func tinyPipeline(train: Int = 300, test: Int = 100, epochs: Int = 2) -> Pipeline {
        var p = Pipeline()
        p.name = "tiny"
        p.seed = 7
        p.dataset.path = miniCIFAR
        p.dataset.trainLimit = train
        p.dataset.testLimit = test
        p.shards.epochs = epochs
        p.shards.samplesPerShard = 128
        p.shards.samplesPerChunk = 32
        p.train.epochs = 2
        p.train.batch = 50
        p.train.widths = [4, 8, 8, 8]
        p.train.hidden = 16
        return p
    }

    /// `good`'s file with `edit` applied to its JSON header and `count` (default: the real one) as
    /// its parameter count, with a valid SHA-256: what a crafted checkpoint looks like to the decoder.
    static func craftedCheckpoint(_ good: Checkpoint, count: UInt64? = nil, _ edit: (inout [String: Any]) -> Void) throws -> [UInt8] {
        let bytes = try good.encoded()
        let jsonBytes = Int(bytes[12]) | Int(bytes[13]) << 8 | Int(bytes[14]) << 16 | Int(bytes[15]) << 24
        var header = try JSONSerialization.jsonObject(with: Data(bytes[16..<(16 + jsonBytes)])) as! [String: Any]
        edit(&header)
        let json = Array(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        var out = Array(bytes[0..<12])
        out.appendLE(UInt32(json.count))
        out += json
        out.appendLE(count ?? UInt64(good.header.parameterCount))
        out += bytes[(16 + jsonBytes + 8)..<(bytes.count - 32)]
        out += SHA256.hash(out)
        return out
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var made: [String: String] = [:]

    /// A shard directory for `pipeline`, made once and shared (treat as read-only).
    static func shardDirectory(_ key: String = "tiny", _ pipeline: @autoclosure () -> Pipeline = tinyPipeline()) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let dir = made[key] { return dir }
        let dir = scratch + "/shards-" + key
        _ = try PrepRunner.run(pipeline(), options: PrepOptions(outDirectory: dir, threads: 2, quiet: true))
        let problems = try TestSupport.manifestSchemaProblems(directory: dir)
        guard problems.isEmpty else { throw MixError(problems.joined(separator: "; ")) }
        made[key] = dir
        return dir
    }

    /// A private copy of a shard directory (for corrupting).
    static func copy(_ dir: String, name: String) throws -> String {
        let dest = tempDirectory(name)
        try FileIO.makeDirectories(dest)
        let fm = FileManager.default
        try? fm.removeItem(atPath: dest)
        try fm.copyItem(atPath: dir, toPath: dest)
        return dest
    }

    /// Flips one byte in the middle of chunk `chunk`'s stored bytes.
    static func corruptChunk(file: String, chunk: Int) throws {
        let reader = try ShardReader(path: file)
        let e = reader.index[chunk]
        var bytes = try FileIO.read(file)
        bytes[Int(e.offset) + Int(e.storedBytes) / 2] ^= 0x5A
        try FileIO.writeAtomically(file, bytes)
    }

    /// The source CIFAR-10 training records: (planar image bytes, class).
    static func sourceTrain() throws -> [(image: ArraySlice<UInt8>, label: Int)] {
        var out: [(ArraySlice<UInt8>, Int)] = []
        for name in ["data_batch_1.bin", "data_batch_2.bin"] {
            let bytes = try FileIO.read(miniCIFAR + "/" + name)
            var at = 0
            while at + 3073 <= bytes.count {
                out.append((bytes[(at + 1)..<(at + 3073)], Int(bytes[at])))
                at += 3073
            }
        }
        return out
    }
}
