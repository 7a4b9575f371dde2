import Foundation
import MixCore
import Pipeline
import Prep
import XCTest

/// Paths, pipelines and directory comparison for the end-to-end tests.
enum PrepFixtures {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized.path
    static let mini = repo + "/data/cifar10-mini"

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

    /// Every regular file under `dir` (relative path → bytes).
    static func snapshot(_ dir: String) throws -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        let e = FileManager.default.enumerator(atPath: dir)!
        while let rel = e.nextObject() as? String {
            if FileIO.isDirectory(dir + "/" + rel) { continue }
            out[rel] = try FileIO.read(dir + "/" + rel)
        }
        return out
    }

    /// The built `mixprep` executable, next to the test bundle.
    static var mixprep: String {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("mixprep").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return repo + "/.build/debug/mixprep"
    }

    /// Runs `mixprep` with `args`; returns (exit status, stdout, stderr).
    @discardableResult
    static func run(_ args: [String], env: [String: String] = [:]) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: mixprep)
        p.arguments = args
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
