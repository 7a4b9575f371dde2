import Experiment
import Foundation
import MixCore
import TestSupport
import XCTest

/// Shared test data: tiny experiments on the embedded CIFAR-10 subset.
enum ExperimentFixtures {
    static let packageRoot = TestSupport.packageRoot
    static let miniCIFAR = TestSupport.miniCIFAR

    /// A fresh temporary folder for this process, removed at exit.
    static let scratch: String = {
        let dir = NSTemporaryDirectory() + "experiment-tests-\(getpid())"
        try? FileIO.makeDirectories(dir)
        atexit { try? FileManager.default.removeItem(atPath: ExperimentFixtures.scratch) }
        return dir
    }()

    /// A unique folder under `scratch`.
    static func tempDirectory(_ name: String) -> String {
        let dir = scratch + "/" + name + "-" + String(UInt64.random(in: 0...UInt64.max) % 1_000_000_000)
        try? FileIO.makeDirectories(dir)
        return dir
    }

    /// The tiny experiment: baseline vs mixup, 400 train / 200 test images, a tiny network.
    static func tinyExperimentText(trials: String = "[0, 1]", epochs: Int = 1, arms: String = defaultArms,
                                   trainLimit: Int = 400) -> String {
        """
        name = "tiny"
        trials = \(trials)
        epochs = \(epochs)

        [dataset]
        path = "\(miniCIFAR)"
        train_limit = \(trainLimit)
        test_limit = 200

        [mix]
        mode = "sample"

        [shards]
        samples_per_shard = 200
        samples_per_chunk = 64

        [train]
        batch = 50
        widths = [8, 16, 16, 16]
        hidden = 32

        \(arms)
        """
    }

    static let defaultArms = """
        [[arms]]
        name = "baseline"
        mode = "none"

        [[arms]]
        name = "mixup"
        p = 0.2
        alpha = 0.2
        """

    /// Writes `text` as `name` in a fresh folder; returns the file's path.
    static func writeFile(_ text: String, name: String = "tiny.toml") throws -> String {
        let dir = tempDirectory("file")
        let path = dir + "/" + name
        try FileIO.writeAtomically(path, text)
        return path
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var shared: (out: String, file: String, outcome: ExperimentOutcome)?

    /// The tiny experiment run once into a shared folder (treat as read-only).
    static func sharedRun() throws -> (out: String, file: String, outcome: ExperimentOutcome) {
        lock.lock()
        defer { lock.unlock() }
        if let shared { return shared }
        let file = try writeFile(tinyExperimentText())
        let out = scratch + "/shared-experiment"
        let outcome = try ExperimentRunner.run(try ExperimentSpec.load(file),
                                               options: ExperimentOptions(out: out, threads: 1, quiet: true))
        for run in try FileIO.list(out + "/shards") {
            let problems = try TestSupport.manifestSchemaProblems(directory: out + "/shards/" + run)
            guard problems.isEmpty else { throw MixError(problems.joined(separator: "; ")) }
        }
        shared = (out, file, outcome)
        return (out, file, outcome)
    }

    /// A private copy of the shared experiment folder, and its experiment file.
    static func copyOfSharedRun(_ name: String) throws -> String {
        let (out, _, _) = try sharedRun()
        let dest = tempDirectory(name) + "/out"
        try FileManager.default.copyItem(atPath: out, toPath: dest)
        return dest
    }

    /// Every file under `dir` with its modification time and bytes.
    static func snapshot(_ dir: String) throws -> [String: (mtime: Date, bytes: [UInt8])] {
        var out: [String: (Date, [UInt8])] = [:]
        let fm = FileManager.default
        guard let e = fm.enumerator(atPath: dir) else { return [:] }
        for case let rel as String in e {
            let path = dir + "/" + rel
            guard !FileIO.isDirectory(path) else { continue }
            let attrs = try fm.attributesOfItem(atPath: path)
            out[rel] = (attrs[.modificationDate] as! Date, try FileIO.read(path))
        }
        return out
    }

    /// `metrics.csv` rows: (epoch, train loss, test loss, test accuracy).
    static func metrics(_ runDir: String) throws -> [(epoch: Int, trainLoss: Double, testLoss: Double, testAccuracy: Double)] {
        let text = String(decoding: try FileIO.read(runDir + "/metrics.csv"), as: UTF8.self)
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.first, "epoch,train_loss,test_loss,test_acc,images_per_s,seconds,threads,blas_kernel,lr")
        return lines.dropFirst().map { line in
            let f = line.split(separator: ",")
            return (Int(f[0])!, Double(f[1])!, Double(f[2])!, Double(f[3])!)
        }
    }
}
