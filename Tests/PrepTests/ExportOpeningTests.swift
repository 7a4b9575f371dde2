import Foundation
import MixCore
import Pipeline
import Prep
import ShardFormat
import ShardStore
import ShardTestSupport
import XCTest

/// Issue 22, item 5: `export` opened each listed shard alone and skipped the header checks every
/// other reader makes; a shard in `train/epoch-000` whose header said epoch 7, split test or 999
/// samples was drawn as epoch 0's. It now opens the directory as the loader does (`ShardDirectory`).
final class ExportOpeningTests: XCTestCase {
    var base = ""

    override func setUpWithError() throws {
        base = try PrepFixtures.temporaryDirectory(name)
    }

    /// 300 training and 100 test images, two epochs of three shards of 100 (chunks of 64).
    func directory(_ name: String) throws -> String {
        let p = try Pipeline.parse("""
            name = "export"
            seed = 5
            [dataset]
            path = "\(PrepFixtures.mini)"
            train_limit = 300
            test_limit = 100
            [shards]
            epochs = 2
            samples_per_shard = 100
            samples_per_chunk = 64
            """)
        let dir = base + "/" + name
        _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: dir, threads: 2, quiet: true))
        return dir
    }

    /// Replaces `file` of `dir` with `bytes` and lists its size and SHA-256 in the manifest, as a careful forger would.
    func replace(_ dir: String, _ file: String, with bytes: [UInt8]) throws {
        try FileIO.writeAtomically(dir + "/" + file, bytes)
        var m = try Manifest.load(directory: dir)
        let entry = ShardEntry(file: file, samples: 0, bytes: bytes.count, sha256: bytes.withUnsafeBytes { SHA256.hexDigest(of: $0) })
        for e in m.train.indices {
            for s in m.train[e].shards.indices where m.train[e].shards[s].file == file {
                m.train[e].shards[s] = ShardEntry(file: file, samples: m.train[e].shards[s].samples, bytes: entry.bytes, sha256: entry.sha256)
            }
        }
        for s in m.test.shards.indices where m.test.shards[s].file == file {
            m.test.shards[s] = ShardEntry(file: file, samples: m.test.shards[s].samples, bytes: entry.bytes, sha256: entry.sha256)
        }
        try FileIO.writeAtomically(dir + "/" + Manifest.fileName, try m.encoded())
    }

    /// `dir` with header field `offset` of `file` set to `value` (header CRC fixed).
    func edited<T: FixedWidthInteger>(_ name: String, _ file: String, _ fields: [(Int, T)]) throws -> String {
        let dir = try directory(name)
        var c = CraftedShard(try FileIO.read(dir + "/" + file))
        for (offset, value) in fields { c.header(offset, value) }
        try replace(dir, file, with: c.bytes)
        return dir
    }

    /// `mixprep export` (the library and the command) refuses `dir` with `expected`, one line.
    /// (`prefix`: the message starts with `expected`.)
    func assertExportRefuses(_ dir: String, test: Bool = false, prefix: Bool = false, _ expected: String,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        func matches(_ message: String) -> Bool { prefix ? message.hasPrefix(expected) && !message.contains("\n") : message == expected }
        XCTAssertThrowsError(try Exporter.export(ExportRequest(directory: dir, outDirectory: dir + "-x", epoch: test ? nil : 0, count: 4,
                                                               positions: nil, mixedOnly: false, scale: 1, columns: 2)),
                             file: file, line: line) { XCTAssertTrue(matches("\($0)"), "\($0)", file: file, line: line) }
        let r = try PrepFixtures.run(["export", dir, "--out", dir + "-cli"] + (test ? ["--test"] : []))
        XCTAssertEqual(r.status, 1, file: file, line: line)
        XCTAssertTrue(r.err.hasPrefix("error: ") && r.err.hasSuffix("\n") && matches(String(r.err.dropFirst(7).dropLast())), r.err,
                      file: file, line: line)
        XCTAssertFalse(FileIO.exists(dir + "-cli"), file: file, line: line)
    }

    func testExportChecksEachHeaderAgainstTheManifestAndThePath() throws {
        let shard = "train/epoch-000/shard-00000.mxs"
        var dir = try edited("epoch", shard, [(48, UInt32(7))])
        try assertExportRefuses(dir, "\(dir)/\(shard): header says split train epoch 7, the manifest lists it under train epoch 0")
        dir = try directory("split-test")
        var c = CraftedShard(try FileIO.read(dir + "/" + shard))
        c.header(40, UInt8(1))
        c.header(48, UInt32.max)
        try replace(dir, shard, with: c.bytes)
        try assertExportRefuses(dir, "\(dir)/\(shard): header says split test epoch 4294967295, the manifest lists it under train epoch 0")
        dir = try edited("index", shard, [(52, UInt32(3))])
        try assertExportRefuses(dir, "\(dir)/\(shard): header says shard 3, the manifest lists it as shard 0")
        // A test shard must say the test split's epoch (0xFFFFFFFF).
        dir = try edited("testepoch", "test/shard-00000.mxs", [(48, UInt32(7))])
        try assertExportRefuses(dir, test: true, "\(dir)/test/shard-00000.mxs: header says split test epoch 7, the manifest lists it under test epoch 4294967295")
    }

    func testExportChecksSampleCountsNamesAndHashes() throws {
        let shard = "train/epoch-000/shard-00000.mxs"
        // A valid shard of 999 samples (shard 0's, repeated) where the manifest lists 100.
        var dir = try directory("count")
        let block = try ShardReader(path: dir + "/" + shard).readAll()
        guard case .sparse(let records, let smoothing) = block.labels else { return XCTFail("v3 shards store sparse labels") }
        let picks = (0..<999).map { $0 % 100 }, image = block.shape.imageBytes
        let big = SampleBlock(shape: block.shape, images: picks.flatMap { block.images[($0 * image)..<(($0 + 1) * image)] },
                              labels: .sparse(picks.map { records[$0] }, smoothing: smoothing), provenance: picks.map { block.provenance[$0] })
        let m = try Manifest.load(directory: dir)
        let encoding = m.pipeline.encoding(for: .train, shape: block.shape)
        try replace(dir, shard, with: ShardWriter.encode(big, encoding: encoding, split: .train, epoch: 0, shardIndex: 0))
        try assertExportRefuses(dir, "\(dir)/\(shard): holds 999 samples, the manifest says 100")
        // Epoch 1's shard listed as epoch 0's: its header agrees with neither the place nor the name.
        dir = try directory("name")
        var edited = try Manifest.load(directory: dir)
        (edited.train[0].shards[0], edited.train[1].shards[0]) = (edited.train[1].shards[0], edited.train[0].shards[0])
        try FileIO.writeAtomically(dir + "/" + Manifest.fileName, try edited.encoded())
        try assertExportRefuses(dir, "\(dir)/manifest.json: lists train/epoch-001/shard-00000.mxs as shard 0 of train epoch 0, "
                                     + "whose name is train/epoch-000/shard-00000.mxs")
        // A shard whose bytes are not the listed ones: checked before its first chunk is drawn, as the loader does.
        dir = try directory("hash")
        var bytes = try FileIO.read(dir + "/" + shard)
        bytes[200] ^= 1
        try FileIO.writeAtomically(dir + "/" + shard, bytes)
        let listed = try Manifest.load(directory: dir).train[0].shards[0].sha256
        let digest = bytes.withUnsafeBytes { SHA256.hexDigest(of: $0) }
        try assertExportRefuses(dir, prefix: true, "\(dir)/\(shard): SHA-256 \(digest.prefix(16))… differs from the \(listed.prefix(16))… that manifest.json lists (chunk 0: ")
    }
}
