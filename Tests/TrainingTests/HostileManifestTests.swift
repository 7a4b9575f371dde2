import Foundation
import MixCore
import NN
import Pipeline
import ShardStore
import Prep
import TestSupport
import Training
import XCTest

/// The trainer and loader no longer trust the manifest's listing; verify checks every field it used to pass (issue 10, item 6).
final class HostileManifestTests: XCTestCase {
    /// A copy of the tiny shard directory whose manifest `edit` changed.
    func directory(_ name: String, _ edit: (inout Manifest) -> Void) throws -> String {
        let dir = try Fixtures.copy(try Fixtures.shardDirectory(), name: name)
        var m = try Manifest.load(directory: dir)
        edit(&m)
        try FileIO.writeAtomically(dir + "/" + Manifest.fileName, try m.encoded())
        return dir
    }

    /// The loader refuses `dir` with `expected`, and so does `mixtrain bench-loader`: that one line and exit 1.
    func assertLoaderRefuses(_ dir: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertThrowsError(try ShardLoader(path: dir, options: LoaderOptions()), file: file, line: line) {
            XCTAssertEqual("\($0)", expected, file: file, line: line)
        }
        let r = try TestSupport.run(TestSupport.executable("mixtrain"), ["bench-loader", dir])
        XCTAssertEqual(r.status, 1, r.err, file: file, line: line)
        XCTAssertEqual(r.err, "error: \(expected)\n", file: file, line: line)
    }

    func testTrainerChecksTheListing() throws {
        var dir = try directory("twice") { $0.train[0].shards[1] = $0.train[0].shards[0] }
        try assertLoaderRefuses(dir, "\(dir)/manifest.json: shard train/epoch-000/shard-00000.mxs is listed twice")

        for args in [["train", dir, "--out", Fixtures.tempDirectory("twicerun")], ["bench-loader", dir]] {
            let r = try TestSupport.run(TestSupport.executable("mixtrain"), args)
            XCTAssertEqual(r.status, 1, r.err)
            XCTAssertEqual(r.err, "error: \(dir)/manifest.json: shard train/epoch-000/shard-00000.mxs is listed twice\n")
        }

        dir = try directory("escape") { $0.test.shards[0].file = "../shards-tiny/test/shard-00000.mxs" }
        try assertLoaderRefuses(dir, "\(dir)/manifest.json: shard \"../shards-tiny/test/shard-00000.mxs\" is not a path inside the directory")
        dir = try directory("absolute") { $0.test.shards[0].file = "/etc/passwd" }
        try assertLoaderRefuses(dir, "\(dir)/manifest.json: shard \"/etc/passwd\" is not a path inside the directory")

        dir = try directory("empty") { $0.train[1].shards[2].samples = 0 }
        try assertLoaderRefuses(dir, "\(dir)/manifest.json: shard train/epoch-001/shard-00002.mxs is listed with 0 samples and \(try Manifest.load(directory: dir).train[1].shards[2].bytes) bytes (a shard holds from 1 to 4,294,967,295 samples)")

        dir = try directory("size") { $0.train[0].shards[0].bytes += 1 }
        let size = FileIO.fileSize(dir + "/train/epoch-000/shard-00000.mxs")!
        try assertLoaderRefuses(dir, "\(dir)/train/epoch-000/shard-00000.mxs: \(size) bytes, manifest.json says \(size + 1)")

        dir = try directory("swapped") { $0.train.swapAt(0, 1) }
        try assertLoaderRefuses(dir, "\(dir)/manifest.json: train[0] is numbered epoch 1, expected 0")

        dir = try directory("version") { $0.formatVersion = 99 }
        try assertLoaderRefuses(dir, "\(dir)/manifest.json: format \"MixShard\" version 99 is not supported (this build reads MixShard versions from 1 to 4)")

        // A source shape the shards contradict (export sized its sheets by it, and refused a 1,024-wide one
        // without naming the directory: found by mixfuzz's manifest target), worded as the Python reader words it.
        dir = try directory("shape") { $0.source.width = 16 }
        try assertLoaderRefuses(dir, "\(dir)/train/epoch-000/shard-00000.mxs: image shape 32×32 (width×height, 3 channels) differs from the "
                                + "manifest's 16×32 (width×height, 3 channels)")
    }

    /// Issue 22: `export --positions 5,1999` on a manifest listing a shard with 2^63 − 1 samples
    /// trapped on overflow adding up the positions (exit 132). The listing bounds each count by
    /// the shard header's 32 bits, and export counts the samples each shard really holds.
    /// A listed SHA-256 is echoed in messages; one that is not 64 lowercase hex digits (here with a
    /// newline, as the Python reader's fuzzer made) is refused before it can split a message.
    func testListedSHA256sAreHexDigests() throws {
        let dir = try directory("sha-newline") { $0.train[0].shards[0].sha256 = "a3\n8be" + String(repeating: "0", count: 58) }
        try assertLoaderRefuses(dir, "\(dir)/manifest.json: shard train/epoch-000/shard-00000.mxs is listed with a sha256 "
                                + "that is not 64 lowercase hex digits")
    }

    func testExportRefusesImpossibleSampleCounts() throws {
        let out = Fixtures.tempDirectory("exportcounts")
        var dir = try directory("intmax") { $0.train[0].shards[0].samples = Int.max }
        let bytes = try Manifest.load(directory: dir).train[0].shards[0].bytes
        let listing = "\(dir)/manifest.json: shard train/epoch-000/shard-00000.mxs is listed with 9223372036854775807 samples and \(bytes) bytes "
            + "(a shard holds from 1 to 4,294,967,295 samples)"
        var r = try TestSupport.run(TestSupport.executable("mixprep"), ["export", dir, "--positions", "5,299", "--out", out])
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertEqual(r.err, "error: \(listing)\n")
        try assertLoaderRefuses(dir, listing)

        // Within the 32 bits but not what the shard holds: named by the shard.
        dir = try directory("uint32max") { $0.train[0].shards[0].samples = Int(UInt32.max) }
        r = try TestSupport.run(TestSupport.executable("mixprep"), ["export", dir, "--positions", "5,299", "--out", out])
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertEqual(r.err, "error: \(dir)/train/epoch-000/shard-00000.mxs: holds 128 samples, the manifest says 4294967295\n")
        XCTAssertFalse(FileIO.exists(out + "/contact-sheet.png"))

        // The sound directory exports those two positions.
        r = try TestSupport.run(TestSupport.executable("mixprep"), ["export", try Fixtures.shardDirectory(), "--positions", "5,299", "--out", out])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(try FileIO.list(out).sorted(), ["contact-sheet.png", "index.md", "sample-000005.png", "sample-000299.png"])
    }

    func testVerifyChecksEveryListedField() throws {
        var dir = try directory("vversion") { $0.formatVersion = 99 }
        XCTAssertThrowsError(try Verifier.verify(directory: dir, threads: 1)) {
            XCTAssertTrue("\($0)".hasSuffix("manifest.json: format \"MixShard\" version 99 is not supported (this build reads MixShard versions from 1 to 4)"), "\($0)")
        }
        let v = try TestSupport.run(TestSupport.executable("mixprep"), ["verify", dir])
        XCTAssertEqual(v.status, 1)
        XCTAssertEqual(v.err, "error: \(dir)/manifest.json: format \"MixShard\" version 99 is not supported (this build reads MixShard versions from 1 to 4)\n")

        dir = try directory("vsamples") { $0.train[0].shards[0].samples = 1_000_000_000_000 }
        var r = try Verifier.verify(directory: dir, threads: 1)
        let bytes = try Manifest.load(directory: dir).train[0].shards[0].bytes
        XCTAssertEqual(r.problems, ["\(dir)/manifest.json: shard train/epoch-000/shard-00000.mxs is listed with 1000000000000 samples and \(bytes) bytes "
                                    + "(a shard holds from 1 to 4,294,967,295 samples)",
                                    "\(dir)/train/epoch-000/shard-00000.mxs: 128 samples, the manifest says 1000000000000"])

        dir = try directory("vswapped") {
            $0.train[0].epoch = 1
            $0.train[1].epoch = 0
        }
        r = try Verifier.verify(directory: dir, threads: 1)
        XCTAssertEqual(r.problems, ["\(dir)/manifest.json: train[0] is numbered epoch 1, expected 0",
                                    "\(dir)/manifest.json: train[1] is numbered epoch 0, expected 1"])
    }

    /// Item 6: train, bench-loader and eval check each shard's SHA-256 against the manifest before first reading it.
    func testTrainerChecksEachShardsSHA256() throws {
        let zeros = String(repeating: "0", count: 64)
        var dir = try directory("sha") { $0.train[0].shards[1].sha256 = zeros }
        let shard = dir + "/train/epoch-000/shard-00001.mxs"
        let digest = SHA256.hex(SHA256.hash(try FileIO.read(shard)))
        let expected = "error: \(shard): SHA-256 \(digest.prefix(16))… differs from the 0000000000000000… that manifest.json lists\n"
        for args in [["train", dir, "--out", Fixtures.tempDirectory("sharun"), "--epochs", "1"], ["bench-loader", dir]] {
            let r = try TestSupport.run(TestSupport.executable("mixtrain"), args)
            XCTAssertEqual(r.status, 1, r.err)
            XCTAssertEqual(r.err, expected)
        }
        dir = try directory("shatest") { $0.test.shards[0].sha256 = zeros }
        let ckpt = Fixtures.tempDirectory("shaeval") + "/c.ckpt"
        let model = SeedCNN(config: CNNConfig(widths: [4, 8, 8, 8], hidden: 16), seed: 1)
        try Checkpoint(model: model, optimizer: Adam(parameterCount: model.parameterCount, learningRate: 1e-3),
                       normalizer: PixelNormalizer.forSource(try Manifest.load(directory: dir).source).normalizer, epoch: 1, batch: 50,
                       seed: 7, metrics: [], pipelineName: "tiny", manifestSHA256: "", sourceFingerprint: "").write(to: ckpt)
        let r = try TestSupport.run(TestSupport.executable("mixtrain"), ["eval", ckpt, dir, "--threads", "1"])
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertTrue(r.err.hasPrefix("error: \(dir)/test/shard-00000.mxs: SHA-256 ") && r.err.hasSuffix("that manifest.json lists\n"), r.err)

        // A flipped byte the manifest does not know about is caught by the hash first; with
        // --skip-corrupt it is a warning, and the chunk CRCs decide what is skipped.
        dir = try directory("flipped") { _ in }
        try Fixtures.corruptChunk(file: dir + "/train/epoch-000/shard-00000.mxs", chunk: 1)
        let strict = try TestSupport.run(TestSupport.executable("mixtrain"), ["bench-loader", dir])
        XCTAssertEqual(strict.status, 1)
        XCTAssertTrue(strict.err.hasPrefix("error: \(dir)/train/epoch-000/shard-00000.mxs: SHA-256 "), strict.err)
        XCTAssertTrue(strict.err.contains("that manifest.json lists (chunk 1: "), strict.err)
        let loader = try ShardLoader(path: dir, options: LoaderOptions(batch: 50, skipCorrupt: true))
        let warnings = Locked([String]())
        loader.warn = { w in warnings.withLock { $0.append(w) } }
        var seen = 0
        let stream = loader.trainBatches(epoch: 0)
        while let b = try stream.next() { seen += b.count; stream.recycle(b) }
        XCTAssertEqual(seen, 300 - 32)
        let w = warnings.withLock { $0 }
        XCTAssertEqual(w.count, 2, "\(w)")
        XCTAssertTrue(w[0].contains("that manifest.json lists (chunk 1: ") && w[0].hasSuffix("); reading its chunks that pass their checks (--skip-corrupt)"), w[0])
        XCTAssertTrue(w[1].hasPrefix("skipping corrupt chunk: \(dir)/train/epoch-000/shard-00000.mxs: chunk 1"), w[1])
    }

    /// The source copy of a directory with reference samples (MixShard v2) is hashed when the directory opens.
    func testTheSourceCopysSHA256IsChecked() throws {
        var p = Fixtures.tinyPipeline()
        p.shards.references = true
        let made = try Fixtures.shardDirectory("references", p)
        XCTAssertNotNil(try Manifest.load(directory: made).sourceCopy)
        let dir = try Fixtures.copy(made, name: "badsource")
        var m = try Manifest.load(directory: dir)
        m.sourceCopy!.sha256 = String(repeating: "f", count: 64)
        try FileIO.writeAtomically(dir + "/" + Manifest.fileName, try m.encoded())
        let file = dir + "/" + m.sourceCopy!.file
        XCTAssertThrowsError(try ShardLoader(path: dir, options: LoaderOptions())) {
            XCTAssertTrue("\($0)".hasPrefix(file + ": SHA-256 ") && "\($0)".hasSuffix(" differs from the ffffffffffffffff… that manifest.json lists"), "\($0)")
        }
        XCTAssertNoThrow(try ShardLoader(path: made, options: LoaderOptions()))
        XCTAssertEqual(try Verifier.verify(directory: made, threads: 1).problems, [], "the source copy is not a split with statistics")
    }

    /// Item 6: verify checks the manifest's settings and per-split statistics too.
    func testVerifyChecksSettingsAndStatistics() throws {
        var dir = try directory("vseed") { $0.seed = 99 }
        XCTAssertEqual(try Verifier.verify(directory: dir, threads: 1).problems, ["\(dir)/manifest.json: seed 99 differs from the pipeline's seed 7"])
        dir = try directory("vpipeline") { $0.pipeline.train.batch = 0 }
        XCTAssertEqual(try Verifier.verify(directory: dir, threads: 1).problems,
                       ["\(dir)/manifest.json: pipeline: train.batch must be from 1 to 4,096 (got 0)"])
        dir = try directory("vepochstats") { $0.train[1].stats.mixed += 1 }
        XCTAssertEqual(try Verifier.verify(directory: dir, threads: 1).problems,
                       ["\(dir)/manifest.json: statistics of train epoch 1 differ from its shards' contents"])
        dir = try directory("vteststats") { $0.test.stats.labelMass[0] += 1 }
        XCTAssertEqual(try Verifier.verify(directory: dir, threads: 1).problems,
                       ["\(dir)/manifest.json: statistics of the test split differ from its shards' contents"])
        let r = try TestSupport.run(TestSupport.executable("mixprep"), ["verify", dir, "--threads", "1"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.err.split(separator: "\n").filter { $0.hasPrefix("error: ") },
                       ["error: \(dir)/manifest.json: statistics of the test split differ from its shards' contents"])
        XCTAssertTrue(try Verifier.verify(directory: try Fixtures.shardDirectory(), threads: 1).problems.isEmpty)
    }
}
