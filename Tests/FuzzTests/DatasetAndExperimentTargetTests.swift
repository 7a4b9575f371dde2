import Datasets
import Foundation
import MixCore
import TestSupport
import XCTest
@testable import Fuzzing

/// The `cifar100` and `experiment` targets: their seeds are read, their cases
/// are reproducible per seed and differ between cases, and their mutants are
/// both read and refused (they reach past the first check).
final class DatasetAndExperimentTargetTests: XCTestCase {
    static func context(_ name: String) throws -> FuzzContext {
        let scratch = NSTemporaryDirectory() + "mixshards-fuzz-\(name)-\(getpid())"
        Scratch.removeTree(scratch)
        try FileIO.makeDirectories(scratch)
        return FuzzContext(root: TestSupport.packageRoot, scratch: scratch)
    }

    /// Runs cases `0..<count` of seed `seed`: the outcomes by kind, and the inputs.
    static func sweep(_ target: FuzzTarget, name: String, seed: UInt64, count: Int) -> (success: Int, named: Int, unnamed: [String], inputs: [[UInt8]]) {
        var success = 0, named = 0
        var unnamed: [String] = [], inputs: [[UInt8]] = []
        for n in 0..<count {
            var rng = FuzzRNG(seed: seed, target: name, case: UInt64(n))
            let input = target.generate(rng: &rng)
            inputs.append(input)
            switch target.run(input) {
            case .success: success += 1
            case .namedError: named += 1
            case .unnamedError(let message): unnamed.append("case \(n): \(message)")
            }
        }
        return (success, named, unnamed, inputs)
    }

    func testCIFAR100SeedsAreTheOfficialLayout() throws {
        let context = try Self.context("c100-seeds")
        defer { Scratch.removeTree(context.scratch) }
        let target = try CIFAR100Target(context: context)
        XCTAssertEqual(CIFAR100Target.fineNames.count, 100)
        XCTAssertEqual(Set(CIFAR100Target.fineNames).count, 100)
        XCTAssertEqual(CIFAR100Target.coarseNames.count, 20)
        XCTAssertEqual(target.seeds.count, 2)
        for seed in target.seeds {
            XCTAssertEqual(target.run(seed), .success)
            // Both forms were read, as CIFAR-100 with its fine labels.
            let archive = try Dataset.load(target.archivePath), folder = try Dataset.load(target.folder)
            XCTAssertEqual([archive.name, folder.name], ["cifar100", "cifar100"])
            XCTAssertEqual(archive.train.labels, [19, 29, 0, 99])
            XCTAssertEqual(folder.test.labels, [49, 33])
            XCTAssertEqual(archive.classNames[99], "worm")
            XCTAssertEqual(archive.fingerprint, folder.fingerprint)
        }
        // The folder form: a directory or FIFO member is made as one (and refused without being read).
        let fifo = ArchiveTarget.tar(target.memberSets[0].map {
            var m = $0
            if m.name.hasSuffix("/train.bin") { m.type = 0x36 }
            return m
        })
        XCTAssertFalse(target.writeFolder(fifo))
        XCTAssertThrowsError(try Dataset.load(target.folder)) {
            XCTAssertEqual("\($0)", target.folder + "/train.bin: is a FIFO, not a regular file")
        }
        guard case .namedError = target.run(fifo) else { return XCTFail("a FIFO train.bin was not refused") }
    }

    /// Cases 192061, 262274, 482698, 640713 and 646521 of seed 2 trapped the harness, not the
    /// reader: a member named `…/\u{746}…` (a '/' then a combining mark, one Character, so the
    /// reader's split by '/' keeps it in the base name) made the folder form write into a missing folder.
    func testCIFAR100FolderFormSkipsASlashInABaseName() throws {
        let context = try Self.context("c100-slash")
        defer { Scratch.removeTree(context.scratch) }
        let target = try CIFAR100Target(context: context)
        var members = target.memberSets[0]
        members.append(ArchiveTarget.Member(name: "cifar-100-binary/x/\u{746}train.bin", type: 0x30, data: [1, 2, 3]))
        let tar = ArchiveTarget.tar(members)
        XCTAssertEqual(CIFAR100Target.folderEntries(tar).map(\.name).sorted(),
                       ["cifar-100-binary", "coarse_label_names.txt", "fine_label_names.txt", "test.bin", "train.bin"])
        XCTAssertFalse(target.writeFolder(tar))  // (the directory member makes a folder)
        XCTAssertEqual(target.run(tar), .success)
        for n: UInt64 in [192_061, 482_698] {
            var rng = FuzzRNG(seed: 2, target: "cifar100", case: n)
            guard case .namedError = target.run(target.generate(rng: &rng)) else { return XCTFail("case \(n) was not refused") }
        }
    }

    func testCIFAR100CasesAreReproducibleAndReachTheReader() throws {
        let context = try Self.context("c100-cases")
        defer { Scratch.removeTree(context.scratch) }
        let target = try CIFAR100Target(context: context)
        let a = Self.sweep(target, name: "cifar100", seed: 5, count: 150)
        let b = Self.sweep(target, name: "cifar100", seed: 5, count: 150)
        XCTAssertEqual(a.inputs, b.inputs)
        XCTAssertEqual([a.success, a.named], [b.success, b.named])
        XCTAssertEqual(a.unnamed, [])
        XCTAssertGreaterThan(Set(a.inputs).count, 120)  // a few mutants coincide (the same member dropped)
        XCTAssertGreaterThan(a.success, 15)
        XCTAssertGreaterThan(a.named, 50)
        var other = FuzzRNG(seed: 6, target: "cifar100", case: 0)
        XCTAssertNotEqual(target.generate(rng: &other), a.inputs[0])
    }

    func testExperimentSeedsAreRead() throws {
        let context = try Self.context("exp-seeds")
        defer { Scratch.removeTree(context.scratch) }
        let target = try ExperimentTarget(context: context)
        // article.toml, article-mini.toml, augment-ablation.toml, materialised-epochs.toml, policy-search.toml,
        // and the two written in code.
        XCTAssertEqual(target.seeds.count, 7)
        for seed in target.seeds { XCTAssertEqual(target.run(seed), .success, String(decoding: seed, as: UTF8.self)) }
    }

    func testExperimentCasesAreReproducibleAndReachTheReader() throws {
        let context = try Self.context("exp-cases")
        defer { Scratch.removeTree(context.scratch) }
        let target = try ExperimentTarget(context: context)
        let a = Self.sweep(target, name: "experiment", seed: 5, count: 300)
        let b = Self.sweep(target, name: "experiment", seed: 5, count: 300)
        XCTAssertEqual(a.inputs, b.inputs)
        XCTAssertEqual([a.success, a.named], [b.success, b.named])
        XCTAssertEqual(a.unnamed, [])
        XCTAssertGreaterThan(Set(a.inputs).count, 280)
        XCTAssertGreaterThan(a.success, 30)
        XCTAssertGreaterThan(a.named, 100)
    }

    /// `mixfuzz replay --seed --case` regenerates the new targets' cases exactly, as for the others.
    func testReplayRegeneratesTheirCases() throws {
        try FuzzRunTests.assertReplayRegenerates(targets: ["cifar100", "experiment"], case: 23, in: "replay-new")
    }
}
