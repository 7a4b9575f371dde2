import Foundation
import MixCore
import NN
import Pipeline
import ShardStore
import ShardFormat
import ShardTestSupport
import TestSupport
import Training
import XCTest

/// Issue 10's allocation bombs and absurd sizes, run through the real tools as
/// child processes: each gets one `error:` line and exit 1 with a peak resident
/// set size (wait4's ru_maxrss) under 1 GiB. Every measurement is printed as
/// `peak RSS | case | command | MiB` for the record.
final class MemoryBoundTests: XCTestCase {
    static let limit = 1 << 30

    var mixprep: String { TestSupport.executable("mixprep") }
    var mixtrain: String { TestSupport.executable("mixtrain") }

    /// Runs a tool, asserts one `error:` line containing each of `expected`, exit 1 and a peak RSS under 1 GiB.
    func assertBounded(_ label: String, _ tool: String, _ args: [String], _ expected: String...,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try TestSupport.runMeasuringMemory(tool, args)
        let name = (tool as NSString).lastPathComponent
        let shown = ([name, args.first ?? ""] + args.filter { ["--samples", "--skip-corrupt", "--resume", "--batch"].contains($0) }).joined(separator: " ")
        print(String(format: "peak RSS | %@ | %@ | %.1f MiB", label, shown, r.peakRSSMiB))
        XCTAssertEqual(r.status, 1, "\(label): \(name) \(args): \(r.err)", file: file, line: line)
        // One error line (verify also prints its progress line on a non-terminal).
        let errors = r.err.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        XCTAssertEqual(errors.count, 1, "\(label): \(r.err)", file: file, line: line)
        XCTAssertFalse(r.err.split(separator: "\n").contains { !$0.hasPrefix("error: ") && !$0.hasPrefix("verify: ") }, r.err, file: file, line: line)
        XCTAssertTrue(expected.allSatisfy { errors.first?.contains($0) ?? false }, "\(label): \(r.err)", file: file, line: line)
        XCTAssertLessThan(r.peakRSSBytes, Self.limit, "\(label): \(name) \(args)", file: file, line: line)
    }

    /// A valid one-chunk shard of `n` samples of 3×4×4, 2 classes, to craft from.
    func smallShard(n: Int = 1) -> [UInt8] {
        let shape = SampleShape(channels: 3, height: 4, width: 4, classCount: 2)
        let block = SampleBlock(shape: shape, images: [UInt8](repeating: 9, count: n * shape.imageBytes),
                                labels: Array(repeating: 0.5, count: 2 * n),
                                provenance: (0..<n).map { Provenance(primary: UInt32($0), partner: UInt32($0), lambda: 1) })
        return ShardWriter.encode(block, encoding: ShardEncoding(samplesPerChunk: n), split: .train, epoch: 0, shardIndex: 0)
    }

    /// One chunk of `samples` 4×1024×1024 images declared in a shard of a few hundred bytes (valid CRCs).
    func bigChunk(samples: Int) -> [UInt8] {
        var c = CraftedShard(smallShard())
        c.header(CraftedShard.Header.channels, UInt16(4))
        c.header(CraftedShard.Header.height, UInt16(1024))
        c.header(CraftedShard.Header.width, UInt16(1024))
        c.header(CraftedShard.Header.sampleCount, UInt32(samples))
        c.header(CraftedShard.Header.samplesPerChunk, UInt32(samples))
        c.footer(CraftedShard.Footer.sampleCount, UInt32(samples))
        c.index(chunk: 0, CraftedShard.Index.sampleCount, UInt32(samples))
        c.index(chunk: 0, CraftedShard.Index.rawBytes, UInt32(samples * (4 * 1024 * 1024 + 4 * 2 + 12)))
        return c.bytes
    }

    func manyChunkSamples() -> [UInt8] {
        var c = CraftedShard(smallShard())
        c.header(CraftedShard.Header.sampleCount, UInt32(343_000))
        c.header(CraftedShard.Header.samplesPerChunk, UInt32(343_000))
        c.footer(CraftedShard.Footer.sampleCount, UInt32(343_000))
        c.index(chunk: 0, CraftedShard.Index.sampleCount, UInt32(343_000))
        c.index(chunk: 0, CraftedShard.Index.rawBytes, UInt32(343_000 * (48 + 8 + 12)))
        return c.bytes
    }

    func wrappingIndex() -> [UInt8] {
        var c = CraftedShard(smallShard())
        c.header(CraftedShard.Header.chunkCount, UInt32.max)
        c.footer(CraftedShard.Footer.chunkCount, UInt32.max)
        c.footer(CraftedShard.Footer.indexOffset, UInt64(c.bytes.count) &- (32 * UInt64(UInt32.max) + 32))
        return c.bytes
    }

    func hugeImages() -> [UInt8] {
        var c = CraftedShard(smallShard())
        for field in [CraftedShard.Header.channels, CraftedShard.Header.height, CraftedShard.Header.width] {
            c.header(field, UInt16.max)
        }
        return c.bytes
    }

    /// A copy of the tiny shard directory whose first training shard is `bytes`, listed
    /// with its true size and SHA-256 (so only the reader's own checks can refuse it).
    func directory(_ name: String, firstShard bytes: [UInt8]) throws -> String {
        let dir = try Fixtures.copy(try Fixtures.shardDirectory(), name: name)
        try FileIO.writeAtomically(dir + "/train/epoch-000/shard-00000.mxs", bytes)
        var m = try Manifest.load(directory: dir)
        m.train[0].shards[0].bytes = bytes.count
        m.train[0].shards[0].sha256 = SHA256.hex(SHA256.hash(bytes))
        try FileIO.writeAtomically(dir + "/" + Manifest.fileName, try m.encoded())
        return dir
    }

    /// Items 1 and 2: crafted shards (valid CRCs) through every reader.
    func testCraftedShardsThroughEveryReader() throws {
        let cases: [(String, [UInt8], String)] = [
            ("1 GiB chunk", bigChunk(samples: 256), "exceed the format's 256 MiB per chunk"),
            ("4 GiB chunk", bigChunk(samples: 1023), "exceed the format's 256 MiB per chunk"),
            ("343,000-sample chunk", manyChunkSamples(), "samplesPerChunk 343000 exceeds the format limit 65536"),
            ("indexOffset wraps", wrappingIndex(), "footer: file size"),
            ("65535³ images", hugeImages(), "image shape 65,535×65,535 (width×height, 65535 channels) exceeds"),
        ]
        for (i, (label, bytes, expected)) in cases.enumerated() {
            XCTAssertLessThan(bytes.count, 1000)
            let dir = try directory("crafted\(i)", firstShard: bytes)
            let shard = dir + "/train/epoch-000/shard-00000.mxs"
            try assertBounded(label, mixprep, ["inspect", "--samples", shard], shard + ": ", expected)
            try assertBounded(label, mixprep, ["verify", dir, "--threads", "1"], shard + ": ", expected)
            try assertBounded(label, mixtrain, ["bench-loader", dir], shard + ": ", expected)
            try assertBounded(label, mixtrain, ["train", dir, "--out", Fixtures.tempDirectory("rss"), "--threads", "1"], shard + ": ", expected)
            try assertBounded(label, mixtrain, ["train", dir, "--out", Fixtures.tempDirectory("rss"), "--threads", "1", "--skip-corrupt"],
                              shard + ": ", expected)
        }
    }

    /// Item 2: a 1 MB gzip bomb (1 GB inflated) given as the dataset archive.
    func testGzipBomb() throws {
        let dir = Fixtures.tempDirectory("bomb")
        let bomb = dir + "/cifar-10-binary.tar.gz"
        let sh = Process()
        sh.executableURL = URL(fileURLWithPath: "/bin/sh")
        // 100 gzip members of 10 MB of zeros each: about 1 MB that inflates to 1 GB.
        sh.arguments = ["-c", "head -c 10000000 /dev/zero | gzip -9 > '\(dir)/m' && for i in $(seq 100); do cat '\(dir)/m'; done > '\(bomb)'"]
        try sh.run()
        sh.waitUntilExit()
        XCTAssertEqual(sh.terminationStatus, 0)
        XCTAssertLessThan(FileIO.fileSize(bomb) ?? .max, 1_100_000)
        try assertBounded("gzip bomb (1 GB of zeros in \(FileIO.fileSize(bomb)! / 1000) kB)", mixprep,
                          ["run", Fixtures.packageRoot + "/pipelines/quickstart.toml", "--data", bomb, "--out", dir + "/out"],
                          bomb + ": inflates to more than 256 MiB, the limit for this input (a gzip bomb?)")
    }

    /// Item 3: absurd batch, widths and hidden sizes, at prep and at train.
    func testAbsurdTrainingSizes() throws {
        let dir = try Fixtures.shardDirectory()
        try assertBounded("--batch 10000000", mixtrain, ["train", dir, "--out", Fixtures.tempDirectory("rss"), "--batch", "10000000"],
                          "--batch must be from 1 to 4,096 (got 10000000)")
        try assertBounded("--batch 10000000", mixtrain, ["bench-loader", dir, "--batch", "10000000"], "--batch must be from 1 to 4,096 (got 10000000)")
        for (key, value, expected) in [("hidden", "1000000000", "train.hidden must be from 1 to 8,192 (got 1000000000)"),
                                       ("widths", "[1, 1, 1, 1000000]", "train.widths must be 4 channel counts, each from 1 to 1,024")] {
            let file = Fixtures.tempDirectory("absurd") + "/p.toml"
            try FileIO.writeAtomically(file, "[dataset]\npath = \"\(Fixtures.miniCIFAR)\"\n[train]\n\(key) = \(value)\n")
            try assertBounded("train.\(key) = \(value)", mixprep, ["run", file, "--out", Fixtures.tempDirectory("rss")], expected)
            // A manifest whose embedded pipeline asks for it (as an older mixprep accepted).
            let copy = try Fixtures.copy(dir, name: "absurd-" + key)
            var m = try Manifest.load(directory: copy)
            if key == "hidden" { m.pipeline.train.hidden = 1_000_000_000 } else { m.pipeline.train.widths = [1, 1, 1, 1_000_000] }
            try FileIO.writeAtomically(copy + "/" + Manifest.fileName, try m.encoded())
            try assertBounded("train.\(key) = \(value)", mixtrain, ["train", copy, "--out", Fixtures.tempDirectory("rss")], expected)
        }
    }

    /// Item 3: crafted checkpoints with a valid SHA-256 (parameter counts 2^62 and 2^63, a negative epoch).
    func testCraftedCheckpoints() throws {
        let dir = try Fixtures.shardDirectory()
        let model = SeedCNN(config: CNNConfig(widths: [4, 8, 8, 8], hidden: 16, classes: 10), seed: 1)
        let good = Checkpoint(model: model, optimizer: Adam(parameterCount: model.parameterCount, learningRate: 1e-3),
                              normalizer: .legacy(channels: 3), epoch: 1,
                              batch: 50, seed: 7, metrics: [], pipelineName: "tiny", manifestSHA256: "", sourceFingerprint: "")
        let run = Fixtures.tempDirectory("ckptrss")
        let path = run + "/checkpoint-001.ckpt"
        for (label, bytes, expected) in [
            ("checkpoint of 2^63 parameters", try Fixtures.craftedCheckpoint(good, count: 1 << 63) { _ in }, "for 9223372036854775808 parameters"),
            ("checkpoint of 2^62 parameters", try Fixtures.craftedCheckpoint(good, count: 1 << 62) { _ in }, "for 4611686018427387904 parameters"),
            ("header parameterCount 2^62", try Fixtures.craftedCheckpoint(good) { $0["parameterCount"] = 1 << 62 }, "header: parameterCount 4611686018427387904"),
            ("checkpoint of epoch -1", try Fixtures.craftedCheckpoint(good) { $0["epoch"] = -1 }, "header: epoch -1"),
        ] {
            try FileIO.writeAtomically(path, bytes)
            try assertBounded(label, mixtrain, ["eval", path, dir, "--threads", "1"], path + ": ", expected)
            try assertBounded(label, mixtrain, ["train", dir, "--out", run, "--resume", "--threads", "1"],
                              "\(run): none of its 1 checkpoint is usable (newest: \(path): ", expected)
        }
    }

    /// Issue 22: a 30 MB class name in manifest.json made `export` ask for hundreds of GB and
    /// abort, and `verify` peak at 1.09 GB padding every class to it (exit 0, 300 MB of output).
    /// Every reader refuses the manifest naming the entry; `finalize` refuses such a prep.json.
    func testThirtyMegabyteClassName() throws {
        let dir = try Fixtures.copy(try Fixtures.shardDirectory(), name: "longname")
        var m = try Manifest.load(directory: dir)
        m.source.classNames[3] = String(repeating: "a", count: 30 << 20)
        try FileIO.writeAtomically(dir + "/" + Manifest.fileName, try m.encoded())
        let expected = dir + "/manifest.json: source.classNames[3] \"aaaaaaaaaaaaaaaaaaaaaaaa…\" is 31,457,280 bytes long; "
            + "a class name is from 1 to 256 bytes of UTF-8"
        let label = "30 MB class name"
        try assertBounded(label, mixprep, ["export", dir, "--out", Fixtures.tempDirectory("rssexport")], expected)
        try assertBounded(label, mixprep, ["verify", dir, "--threads", "1"], expected)
        try assertBounded(label, mixtrain, ["bench-loader", dir], expected)
        try assertBounded(label, mixtrain, ["train", dir, "--out", Fixtures.tempDirectory("rss"), "--threads", "1"], expected)

        let state = try Fixtures.copy(try Fixtures.shardDirectory(), name: "longprep")
        FileIO.remove(state + "/" + Manifest.fileName)
        var s = try XCTUnwrap(try RunState.load(directory: state))
        s.source.classNames[0] = String(repeating: "b", count: 30 << 20)
        try s.write(directory: state)
        try assertBounded(label, mixprep, ["finalize", state, "--threads", "1"],
                          state + "/prep.json: source.classNames[0] \"bbbbbbbbbbbbbbbbbbbbbbbb…\" is 31,457,280 bytes long")
    }

    /// Names at the limit (256 bytes) are fine, and the contact sheet does not grow with them:
    /// the legend cuts them at 480 pixels.
    func testClassNamesAtTheLimit() throws {
        let dir = try Fixtures.copy(try Fixtures.shardDirectory(), name: "limitname")
        var m = try Manifest.load(directory: dir)
        m.source.classNames = (0..<10).map { String(repeating: Character(String($0)), count: 256) }
        try FileIO.writeAtomically(dir + "/" + Manifest.fileName, try m.encoded())
        let v = try TestSupport.runMeasuringMemory(mixprep, ["verify", dir, "--threads", "1"])
        XCTAssertEqual(v.status, 0, v.err)
        XCTAssertTrue(v.out.contains("  " + String(repeating: "9", count: 256) + " "), v.out)
        let out = Fixtures.tempDirectory("limitexport")
        let e = try TestSupport.runMeasuringMemory(mixprep, ["export", dir, "--out", out, "--count", "2", "--scale", "1"])
        XCTAssertEqual(e.status, 0, e.err)
        let png = try FileIO.read(out + "/contact-sheet.png")
        let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual(width, 480 + 2 * 14)  // the legend's 480, two 14-pixel margins (the grid is narrower)
        print(String(format: "peak RSS | 256-byte class names | mixprep verify | %.1f MiB", v.peakRSSMiB))
        print(String(format: "peak RSS | 256-byte class names | mixprep export | %.1f MiB", e.peakRSSMiB))
    }

    /// Issue 22: `export --scale 32 --count 100000` and `--columns 1000000` asked for 7.1 and
    /// 7.6 GB for the contact sheet. Sizes are computed before a shard is read; a sheet or a
    /// sample above 100,000,000 pixels is refused, saying what fits.
    func testExportRefusesImagesTooLargeToDraw() throws {
        let dir = try Fixtures.shardDirectory()  // 300 training samples per epoch, 32×32
        let out = Fixtures.tempDirectory("rsssheet")
        try assertBounded("--scale 32 --count 100000", mixprep, ["export", dir, "--out", out, "--scale", "32", "--count", "100000"],
                          "error: the contact sheet of 300 samples at --scale 32 would be 8,416×", " pixels (width×height), more than the "
                          + "100,000,000 drawn at most: at most 80 samples fit with --columns 8, so give --count 80 or less (or lower --scale)")
        try assertBounded("--scale 32 --columns 1000000", mixprep, ["export", dir, "--out", out, "--scale", "32", "--columns", "1000000", "--count", "100000"],
                          "error: the contact sheet of 300 samples at --scale 32 would be 315,600×1,202 pixels (width×height), more than the 100,000,000 drawn at most: at most 79 fit in a row, so use --columns 79 or less (or lower --scale)")
        try assertBounded("--scale 32, 100 positions", mixprep, ["export", dir, "--out", out, "--scale", "32", "--positions", (0..<100).map(String.init).joined(separator: ",")],
                          "the contact sheet of 100 samples", "so give --positions no more than 80 positions (or lower --scale)")
        XCTAssertFalse(FileIO.exists(out + "/sample-000000.png"))

        // Each sample alone: 1,024-pixel images at --scale 32 would be 32,768² pixels.
        let big = try Fixtures.copy(dir, name: "bigside")
        var m = try Manifest.load(directory: big)
        (m.source.height, m.source.width) = (1024, 1024)
        try FileIO.writeAtomically(big + "/" + Manifest.fileName, try m.encoded())
        try assertBounded("1,024² images at --scale 32", mixprep, ["export", big, "--out", out, "--scale", "32"],
                          "error: ", "shard-00000.mxs: image shape 32×32 (width×height, 3 channels) differs from the manifest's 1,024×1,024 (width×height, 3 channels)")

        // What fits is drawn: --count far above the samples there are takes them all, once.
        let all = try TestSupport.runMeasuringMemory(mixprep, ["export", dir, "--out", out, "--count", String(Int.max), "--columns", String(Int.max)])
        print(String(format: "peak RSS | --count and --columns Int.max (300 samples) | mixprep export | %.1f MiB", all.peakRSSMiB))
        XCTAssertEqual(all.status, 0, all.err)
        XCTAssertEqual(all.out, "wrote 300 sample PNGs, \(out)/contact-sheet.png and \(out)/index.md\n")
        XCTAssertLessThan(all.peakRSSBytes, 256 << 20)
    }

    /// The measurement's floor: what a tool that allocates nothing reports (python's fork of itself).
    func testMeasuringFloor() throws {
        let r = try TestSupport.runMeasuringMemory("/bin/true", [])
        print(String(format: "peak RSS | floor | /bin/true | %.1f MiB", r.peakRSSMiB))
        XCTAssertEqual(r.status, 0)
        XCTAssertLessThan(r.peakRSSBytes, 64 << 20)
        let v = try TestSupport.runMeasuringMemory(mixtrain, ["--version"])
        print(String(format: "peak RSS | baseline | mixtrain --version | %.1f MiB", v.peakRSSMiB))
        XCTAssertEqual(v.out, Manifest.toolVersion + "\n")
    }
}
