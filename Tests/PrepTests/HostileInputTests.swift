import ImageCodecs
import Foundation
import Imaging
import MixCore
import Pipeline
import Prep
import ShardFormat
import ShardTestSupport
import XCTest

/// Hostile and careless input to `mixprep` (issue 10): one line naming what is wrong, exit 1, no crash.
final class HostileInputTests: XCTestCase {
    var base = ""

    override func setUpWithError() throws {
        base = try PrepFixtures.temporaryDirectory(name)
    }

    /// Runs `mixprep args`; asserts exit 1 and a single `error:` line containing `expected`.
    func assertRefused(_ args: [String], _ expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let (status, _, err) = try PrepFixtures.run(args)
        XCTAssertEqual(status, 1, "\(args): \(err)", file: file, line: line)
        let lines = err.trimmingCharacters(in: .newlines).components(separatedBy: "\n")
        XCTAssertEqual(lines.count, 1, "\(args): \(err)", file: file, line: line)
        XCTAssertTrue(err.hasPrefix("error: ") && err.contains(expected), "\(args): \(err)", file: file, line: line)
    }

    func goodShard() -> [UInt8] {
        var rng = CounterRNG(seed: 1, stream: .test)
        let shape = SampleShape(channels: 3, height: 4, width: 4, classCount: 2)
        let n = 6
        let images = (0..<(n * shape.imageBytes)).map { _ in UInt8(truncatingIfNeeded: rng.nextUInt32()) }
        let block = SampleBlock(shape: shape, images: images, labels: Array(repeating: 0.5, count: 2 * n),
                                provenance: (0..<n).map { Provenance(primary: UInt32($0), partner: UInt32($0), lambda: 1) })
        return ShardWriter.encode(block, encoding: ShardEncoding(samplesPerChunk: 4), split: .train, epoch: 0, shardIndex: 0)
    }

    /// Crafted shards with valid CRCs used to kill `inspect` with SIGILL; now each is one line and exit 1.
    func testInspectRefusesCraftedShards() throws {
        var wrap = CraftedShard(goodShard())
        wrap.header(CraftedShard.Header.chunkCount, UInt32.max)
        wrap.footer(CraftedShard.Footer.chunkCount, UInt32.max)
        wrap.footer(CraftedShard.Footer.indexOffset, UInt64(wrap.bytes.count) &- (32 * UInt64(UInt32.max) + 32))
        try FileIO.writeAtomically(base + "/wrap.mxs", wrap.bytes)
        try assertRefused(["inspect", "--samples", base + "/wrap.mxs"], base + "/wrap.mxs: footer: file size")

        var huge = CraftedShard(goodShard())
        for field in [CraftedShard.Header.channels, CraftedShard.Header.height, CraftedShard.Header.width] {
            huge.header(field, UInt16.max)
        }
        try FileIO.writeAtomically(base + "/huge.mxs", huge.bytes)
        try assertRefused(["inspect", "--samples", base + "/huge.mxs"], base + "/huge.mxs: header: image shape 65,535×65,535 (width×height, 65535 channels) exceeds")

        var bomb = CraftedShard(goodShard())
        bomb.header(CraftedShard.Header.sampleCount, UInt32(343_000))
        bomb.header(CraftedShard.Header.samplesPerChunk, UInt32(343_000))
        bomb.header(CraftedShard.Header.chunkCount, UInt32(1))
        bomb.footer(CraftedShard.Footer.sampleCount, UInt32(343_000))
        bomb.footer(CraftedShard.Footer.chunkCount, UInt32(1))
        try FileIO.writeAtomically(base + "/bomb.mxs", bomb.bytes)
        try assertRefused(["inspect", "--samples", base + "/bomb.mxs"], base + "/bomb.mxs: header: samplesPerChunk 343000 exceeds the format limit 65536")
    }

    /// Images larger than the format allows are refused at prep, before any shard is written.
    func testPrepRefusesImagesBeyondTheFormatLimits() throws {
        let data = base + "/wide"
        for split in ["train", "test"] {
            for c in ["a", "b"] {
                try FileIO.makeDirectories("\(data)/\(split)/\(c)")
                try PNG.write(RGBImage(width: 1100, height: 1), to: "\(data)/\(split)/\(c)/0.png")
            }
        }
        var p = try PrepFixtures.pipeline()
        p.dataset.path = data
        XCTAssertThrowsError(try PrepRunner.run(p, options: PrepOptions(outDirectory: base + "/out", threads: 1, quiet: true))) { e in
            XCTAssertEqual("\(e)", "\(data): images are 1100×1 (width×height); the format allows sides from 1 to 1,024")
        }
        XCTAssertFalse(FileIO.exists(base + "/out"))
    }

    /// Sizes that would exhaust memory at train are refused at prep, naming the key.
    func testPrepRefusesAbsurdTrainingSizes() throws {
        for (key, value, expected) in [("hidden", "1000000000", "train.hidden must be from 1 to 8,192 (got 1000000000)"),
                                       ("batch", "10000000", "train.batch must be from 1 to 4,096 (got 10000000)"),
                                       ("widths", "[1, 1, 1, 1000000]", "train.widths must be 4 channel counts, each from 1 to 1,024")] {
            let file = base + "/\(key).toml"
            try FileIO.writeAtomically(file, "[dataset]\npath = \"\(PrepFixtures.mini)\"\n[train]\n\(key) = \(value)\n")
            try assertRefused(["run", file, "--out", base + "/out"], expected)
        }
        XCTAssertFalse(FileIO.exists(base + "/out"))
    }

    /// A FIFO where a shard or a dataset archive should be used to hang every tool; now refused by name.
    func testFIFOsAreRefusedNotRead() throws {
        XCTAssertEqual(mkfifo(base + "/fifo.mxs", 0o644), 0)
        try assertRefused(["inspect", base + "/fifo.mxs"], base + "/fifo.mxs: is a FIFO, not a regular file")
        XCTAssertEqual(mkfifo(base + "/cifar.tar.gz", 0o644), 0)
        try assertRefused(["run", PrepFixtures.repo + "/pipelines/quickstart.toml", "--data", base + "/cifar.tar.gz", "--out", base + "/o"],
                          base + "/cifar.tar.gz: is a FIFO, not a regular file")
        XCTAssertEqual(mkfifo(base + "/pipeline.toml", 0o644), 0)
        try assertRefused(["run", base + "/pipeline.toml"], base + "/pipeline.toml: is a FIFO, not a regular file")
        // A directory where a shard should be gets the same clear message.
        try FileIO.makeDirectories(base + "/dir.mxs")
        try assertRefused(["inspect", base + "/dir.mxs"], base + "/dir.mxs: is a directory, not a regular file")
    }

    /// `--out ""` used to write into `/`; a pipeline name could lead outside the working folder.
    func testOutputPathsAreChecked() throws {
        let quickstart = PrepFixtures.repo + "/pipelines/quickstart.toml"
        try assertRefused(["run", quickstart, "--out", ""], "the output directory is empty (--out \"\"); name a directory")
        try assertRefused(["export", base, "--out", ""], "the output directory is empty (--out \"\")")
        for (name, shown) in [("../../x", "\"../../x\""), ("", "\"\""), ("a\\nb", "\"a\\nb\""), (".hidden", "\".hidden\""), ("a/b", "\"a/b\"")] {
            let file = base + "/named.toml"
            try FileIO.writeAtomically(file, "name = \"\(name)\"\n[dataset]\npath = \"\(PrepFixtures.mini)\"\n")
            try assertRefused(["run", file], "named.toml: name must be letters, digits, '.', '_' or '-', not starting with '.' (got \(shown))")
        }
        XCTAssertTrue(try Pipeline.parse("name = \"cifar10-mixup_v2.1\"\n[dataset]\npath = \"x\"\n").problems().isEmpty)
    }

    /// Issue 22: `mix.alpha = 1e-320` passed validation, λ came out NaN and `mixprep run`
    /// trapped converting it (exit 132) in every mixing mode; nan and inf literals likewise.
    func testUnusableAlphaAndNonFiniteFloatsAreRefusedBeforeAnythingIsWritten() throws {
        for mode in ["sample", "batch", "cutmix"] {
            let file = base + "/\(mode).toml"
            try FileIO.writeAtomically(file, "[dataset]\npath = \"\(PrepFixtures.mini)\"\ntrain_limit = 100\n[mix]\nmode = \"\(mode)\"\np = 1.0\nalpha = 1e-320\n")
            try assertRefused(["run", file, "--out", base + "/out", "--threads", "1"],
                              file + ": mix.alpha must be from 0.001 to 1,000,000 (got 1e-320)")
        }
        let file = base + "/nan.toml"
        try FileIO.writeAtomically(file, "[dataset]\npath = \"\(PrepFixtures.mini)\"\n[train]\neps = inf\n")
        try assertRefused(["run", file, "--out", base + "/out"], file + ": train.eps must be a finite number (got inf)")
        XCTAssertFalse(FileIO.exists(base + "/out"))
    }

    /// Item 7 at the command line: an empty archive, a binary class-name file and a damaged prep.json each get one line.
    func testCarelessDatasetAndStateFiles() throws {
        let quickstart = PrepFixtures.repo + "/pipelines/quickstart.toml"
        try FileIO.writeAtomically(base + "/empty.tar.gz", [UInt8]())
        try assertRefused(["run", quickstart, "--data", base + "/empty.tar.gz", "--out", base + "/o1"],
                          base + "/empty.tar.gz: is empty (0 bytes), not a gzip file")
        let data = base + "/meta"
        try FileIO.makeDirectories(data)
        for f in ["data_batch_1.bin", "test_batch.bin"] {
            try FileIO.writeAtomically(data + "/" + f, Array(try FileIO.read(PrepFixtures.mini + "/" + f).prefix(3073 * 4)))
        }
        try FileIO.writeAtomically(data + "/batches.meta.txt", (0..<600).map { UInt8(truncatingIfNeeded: $0 * 37) })
        try assertRefused(["run", quickstart, "--data", data, "--out", base + "/o2"],
                          data + "/batches.meta.txt: is not UTF-8 text (expected one class name per line)")
        XCTAssertFalse(FileIO.exists(base + "/o2"))

        let out = base + "/o3"
        XCTAssertEqual(try PrepFixtures.run(["run", quickstart, "--limit", "100", "--epochs", "1", "--out", out, "--quiet"]).status, 0)
        FileIO.remove(out + "/manifest.json")
        try FileIO.writeAtomically(out + "/prep.json", "{\"identity\": 3}")
        try assertRefused(["run", quickstart, "--limit", "100", "--epochs", "1", "--out", out, "--quiet"],
                          out + "/prep.json: not a valid run state: key identity: Expected to decode an object but found number instead.")
    }
}
