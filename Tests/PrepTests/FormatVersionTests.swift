import Experiment
import Foundation
import MixCore
import Pipeline
import Prep
import ShardFormat
import ShardStore
import TestSupport
import XCTest

/// MixShard v3 against v2: every pipeline the repository ships, written both ways, yields
/// the same samples — dense label rows bit for bit, pixels and provenance byte for byte.
final class FormatVersionTests: XCTestCase {
    /// Every pipeline of `pipelines/` (an experiment file gives one per arm), on small data:
    /// the embedded CIFAR-10 subset (300 training, 100 test images; an image-file pipeline, the
    /// test fixture of class folders), at most 2 epochs of shards of 100 in chunks of 64, so that
    /// pipelines without mixing store references. Plus quickstart with label smoothing 0.1,
    /// which no shipped pipeline uses.
    static func shippedPipelines() throws -> [(String, Pipeline)] {
        let folder = PrepFixtures.repo + "/pipelines"
        var out: [(String, Pipeline)] = []
        for file in try FileIO.list(folder).filter({ $0.hasSuffix(".toml") }).sorted() {
            let path = folder + "/" + file
            if let p = try? Pipeline.load(path) {
                out.append((file, p))
            } else {
                let plan = try ExperimentPlan(spec: try ExperimentSpec.load(path), options: ExperimentOptions(trials: [0]))
                out += plan.trials.map { ("\(file) arm \($0.arm.name)", $0.pipeline) }
            }
        }
        // Arms with the [augment] policy ops write v4 only (v2 cannot record them: PolicyOpsEpochTests).
        out.removeAll { $0.1.augment.recordsOps }
        XCTAssertGreaterThanOrEqual(out.count, 19)  // 4 pipeline files, and 2 + 2 + 5 + 6 arms of 4 experiment files
        for i in out.indices {
            var p = out[i].1
            if p.dataset.size != nil {
                p.dataset.path = PrepFixtures.repo + "/Tests/DatasetsTests/Fixtures/layouts/folders"
                p.dataset.size = [16]  // the fixture's images are small; 64×64 would only be slower
            } else {
                p.dataset.path = PrepFixtures.mini
                p.dataset.trainLimit = 300
                p.dataset.testLimit = 100
            }
            p.shards.epochs = min(p.shards.epochs, 2)
            p.shards.samplesPerShard = 100
            p.shards.samplesPerChunk = 64
            out[i].1 = p
        }
        var smoothed = try Pipeline.load(folder + "/quickstart.toml")
        smoothed.mix.smoothing = 0.1
        smoothed.dataset.path = PrepFixtures.mini
        (smoothed.dataset.trainLimit, smoothed.dataset.testLimit) = (300, 100)
        (smoothed.shards.epochs, smoothed.shards.samplesPerShard, smoothed.shards.samplesPerChunk) = (2, 100, 64)
        out.append(("quickstart.toml with smoothing 0.1", smoothed))
        return out
    }

    func testEveryShippedPipelineYieldsTheSameSamplesInV2AndV3() throws {
        let base = try PrepFixtures.temporaryDirectory(name)
        var sparse = 0, mixed = 0, smoothed = 0, references = 0
        for (n, (what, p)) in try Self.shippedPipelines().enumerated() {
            var dirs: [String] = []
            for version in [2, 3] {
                let dir = base + "/\(n)-v\(version)"
                _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: dir, threads: 2, quiet: true, formatVersion: version))
                XCTAssertEqual(try Verifier.verify(directory: dir, threads: 2).problems, [], "\(what) v\(version)")
                XCTAssertEqual(try TestSupport.manifestSchemaProblems(directory: dir), [], "\(what) v\(version)")
                dirs.append(dir)
            }
            let (m2, m3) = (try Manifest.load(directory: dirs[0]), try Manifest.load(directory: dirs[1]))
            XCTAssertEqual([m2.formatVersion, m3.formatVersion], [2, 3], what)
            XCTAssertEqual(m2.train.map(\.stats), m3.train.map(\.stats), what)
            XCTAssertEqual(m2.summary, m3.summary, what)
            XCTAssertEqual(m2.train.flatMap(\.shards).map(\.file), m3.train.flatMap(\.shards).map(\.file), what)
            let sources = try [m2.openSourceCopy(directory: dirs[0]), m3.openSourceCopy(directory: dirs[1])]
            let files = (m2.sourceCopy.map { [$0.file] } ?? []) + m2.train.flatMap(\.shards).map(\.file) + m2.test.shards.map(\.file)
            for file in files {
                let readers = try [0, 1].map { try ShardReader(path: dirs[$0] + "/" + file, source: file == MixShardLayout.sourceFile ? nil : sources[$0]) }
                XCTAssertEqual(readers.map(\.header.version), [2, 3], "\(what) \(file)")
                XCTAssertEqual(readers.map(\.header.labelType), [.float32, .sparse], "\(what) \(file)")
                XCTAssertEqual(readers[0].index.count, readers[1].index.count, "\(what) \(file)")
                var chunks = [DecodedChunk(), DecodedChunk()]
                for i in readers[0].index.indices {
                    for v in 0..<2 { try readers[v].readChunk(i, into: &chunks[v]) }
                    let where_ = "\(what) \(file) chunk \(i)"
                    XCTAssertEqual(chunks[0].labels.map(\.bitPattern), chunks[1].labels.map(\.bitPattern), where_)
                    XCTAssertEqual(chunks[0].images, chunks[1].images, where_)
                    XCTAssertEqual(chunks[0].provenance, chunks[1].provenance, where_)
                    // v3 stores 12 bytes of label a sample, v2 4·K.
                    let k = Int(readers[0].header.classCount)
                    let e = (readers[0].index[i], readers[1].index[i])
                    XCTAssertEqual(Int(e.0.rawBytes) - Int(e.1.rawBytes), Int(e.0.sampleCount) * (4 * k - 12), where_)
                    sparse += chunks[1].records.count
                    mixed += chunks[1].records.filter { $0.weight != 1 }.count
                    references += chunks[1].provenance.filter(\.isReference).count
                    if readers[1].header.labelSmoothing > 0 { smoothed += chunks[1].count }
                }
            }
        }
        // The comparison covered mixed rows, smoothed rows and reference samples.
        XCTAssertGreaterThan(sparse, 9_000)
        XCTAssertGreaterThan(mixed, 500)
        XCTAssertGreaterThan(smoothed, 500)
        XCTAssertGreaterThan(references, 500)
    }

    /// `mixprep run --format-version`: 2 or 3 (v1 cannot hold what mixprep writes); prep.json
    /// records the version, so a worker or rerun of another version is refused by name.
    func testFormatVersionIsRecordedAndHeldTo() throws {
        let base = try PrepFixtures.temporaryDirectory(name)
        let p = try PrepFixtures.pipeline(epochs: 1, trainLimit: 100)
        for bad in [1, 4] {
            XCTAssertThrowsError(try PrepRunner.run(p, options: PrepOptions(outDirectory: base + "/bad", quiet: true, formatVersion: bad))) {
                XCTAssertEqual("\($0)", "formatVersion must be from 2 to 3 (got \(bad))")
            }
        }
        let dir = base + "/w"
        _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: dir, threads: 1, worker: WorkerSlot(index: 0, count: 2), quiet: true,
                                                       formatVersion: 2))
        XCTAssertEqual(try RunState.load(directory: dir)?.formatVersion, 2)
        XCTAssertThrowsError(try PrepRunner.run(p, options: PrepOptions(outDirectory: dir, threads: 1, worker: WorkerSlot(index: 1, count: 2),
                                                                       quiet: true))) {
            XCTAssertEqual("\($0)", "\(dir): already holds shards of a different pipeline (differs in: format version 3 vs 2); "
                           + "choose another --out or delete it")
        }
        _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: dir, threads: 1, worker: WorkerSlot(index: 1, count: 2), quiet: true,
                                                       formatVersion: 2))
        try PrepRunner.finalize(directory: dir, threads: 2, quiet: true)
        let m = try Manifest.load(directory: dir)
        XCTAssertEqual(m.formatVersion, 2)
        XCTAssertEqual(try ShardReader(path: dir + "/" + m.train[0].shards[0].file).header.version, 2)
        XCTAssertEqual(try Verifier.verify(directory: dir, threads: 2).problems, [])
        // A prep.json without the key (mixshards ≤ 0.4) is a v2 directory.
        let state = dir + "/" + RunState.fileName
        let text = String(decoding: try FileIO.read(state), as: UTF8.self)
        XCTAssertTrue(text.contains("\"formatVersion\" : 2"), text)
        try FileIO.writeAtomically(state, Array(text.replacingOccurrences(of: "\"formatVersion\" : 2,\n", with: "").utf8))
        XCTAssertEqual(try RunState.load(directory: dir)?.formatVersion, 2)
        // The command line: --format-version, checked before anything is read.
        let r = try PrepFixtures.run(["run", PrepFixtures.repo + "/pipelines/quickstart.toml", "--out", base + "/cli", "--format-version", "1"])
        XCTAssertEqual(r.status, 64, r.err)
        XCTAssertTrue(r.err.contains("--format-version must be from 2 to 3 (got 1)"), r.err)
    }
}
