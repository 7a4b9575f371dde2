import ImageCodecs
import Foundation
import Imaging
import MixCore
import Pipeline
import ShardStore
import Prep
import ShardFormat
import TestSupport
import XCTest

/// What a newcomer runs into (issue 10, items 8–11): skipped files are named, an
/// empty class is refused, shapes the CNN cannot take are flagged at prep,
/// unsupported CIFAR layouts are named, `--version`, `export --test --epoch`,
/// the verify table and normalised paths.
final class CarelessInputTests: XCTestCase {
    var base = ""

    override func setUpWithError() throws {
        base = try PrepFixtures.temporaryDirectory(name)
    }

    /// PNG class folders `a`, `b` with `count` images of `side`×`height` per class and split.
    func pngFolders(_ root: String, side: Int = 16, height: Int? = nil, count: Int = 2) throws {
        for split in ["train", "test"] {
            for c in ["a", "b"] {
                try FileIO.makeDirectories("\(root)/\(split)/\(c)")
                for i in 0..<count {
                    // Not blank: a blank image's channels are constant, which mixprep warns about.
                    let h = height ?? side
                    let pixels = (0..<(side * h * 3)).map { UInt8(truncatingIfNeeded: $0 * 7 + i * 13) }
                    try PNG.write(RGBImage(width: side, height: h, pixels: pixels), to: "\(root)/\(split)/\(c)/\(i).png")
                }
            }
        }
    }

    func pipelineFile(data: String) throws -> String {
        let file = base + "/p.toml"
        try FileIO.writeAtomically(file, "name = \"p\"\n[dataset]\npath = \"\(data)\"\n[shards]\nsamples_per_shard = 2\n")
        return file
    }

    func assertOneLineError(_ r: (status: Int32, out: String, err: String), _ expected: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 1, r.err, file: file, line: line)
        XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err, file: file, line: line)
        XCTAssertEqual(r.err, "error: " + expected + "\n", file: file, line: line)
    }

    /// Item 8: a file without an image extension is named in a warning; a file that claims
    /// to be an image and is not stops the run naming it; a class left without images is refused.
    func testNonImageFilesAreNamedAndAnEmptyClassIsRefused() throws {
        let data = base + "/png"
        try pngFolders(data)
        try FileIO.writeAtomically(data + "/train/a/notes.txt", [1, 2, 3])
        try FileIO.writeAtomically(data + "/train/a/.DS_Store", [0])
        var r = try PrepFixtures.run(["run", try pipelineFile(data: data), "--out", base + "/out1", "--quiet"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.err, "warning: \(data): skipped 1 file without a .jpg, .jpeg, .png or .webp extension: train/a/notes.txt\n")

        try FileIO.writeAtomically(data + "/train/a/fake.jpg", [1, 2, 3])
        r = try PrepFixtures.run(["run", try pipelineFile(data: data), "--out", base + "/out-fake", "--quiet"])
        assertOneLineError(r, "\(data)/train/a/fake.jpg: not a JPEG, PNG or WebP image (unknown first bytes)")
        XCTAssertFalse(FileIO.exists(base + "/out-fake"))
        FileIO.remove(data + "/train/a/fake.jpg")

        for i in 0..<2 {
            try FileManager.default.moveItem(atPath: "\(data)/test/b/\(i).png", toPath: "\(data)/test/b/\(i).bmp")
        }
        try FileManager.default.moveItem(atPath: "\(data)/train/b/0.png", toPath: "\(data)/train/b/0.gif")
        try FileManager.default.moveItem(atPath: "\(data)/train/b/1.png", toPath: "\(data)/train/b/1.gif")
        r = try PrepFixtures.run(["run", try pipelineFile(data: data), "--out", base + "/out2"])
        assertOneLineError(r, "\(data)/train/b: no JPEG, PNG or WebP images, so the class would be empty (2 other files: 0.gif, 1.gif; only .jpg, .jpeg, .png and .webp are read)")
        XCTAssertFalse(FileIO.exists(base + "/out2"))
    }

    /// Item 9: shapes the CNN cannot take are written, with a warning naming the rule; non-square
    /// sizes whose sides are multiples of 16 are ones it takes.
    func testShapesTheCNNCannotTakeAreFlaggedAtPrep() throws {
        let tail = "; the shards can be verified, inspected and exported, but `mixtrain train` will refuse them\n"
        for (name, side, height, problem): (String, Int, Int, String?) in [
            ("square48", 48, 48, nil), ("wide", 32, 16, nil),
            ("side20", 20, 20, "images are 20×20; the CNN needs a height and a width that are multiples of 16: nearest 16×16 "
                + "(dataset.size = 16 with resize = \"stretch\" or \"shorter\" gives it)"),
            ("odd", 40, 17, "images are 40×17; the CNN needs a height and a width that are multiples of 16: nearest 32×16 or 48×16 "
                + "(dataset.size = [16, 32] with resize = \"stretch\" or \"shorter\" gives the first)"),
        ] {
            let data = base + "/" + name
            try pngFolders(data, side: side, height: height, count: 1)
            let r = try PrepFixtures.run(["run", try pipelineFile(data: data), "--out", base + "/out-" + name, "--quiet"])
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertEqual(r.err, problem.map { "warning: \(data): \($0)" + tail } ?? "")
            XCTAssertTrue(FileIO.exists(base + "/out-\(name)/manifest.json"))
        }
        XCTAssertNil(TrainSection().imageShapeProblem(height: 32, width: 32))
        XCTAssertNil(TrainSection().imageShapeProblem(height: 48, width: 64))
        XCTAssertNil(TrainSection().imageShapeProblem(height: 64, width: 32))
        XCTAssertEqual(TrainSection().imageShapeProblem(height: 45, width: 60),
                       "images are 60×45; the CNN needs a height and a width that are multiples of 16: nearest 64×48 "
                       + "(dataset.size = [48, 64] with resize = \"stretch\" or \"shorter\" gives it)")
        XCTAssertEqual(TrainSection().imageShapeProblem(height: 40, width: 40),
                       "images are 40×40; the CNN needs a height and a width that are multiples of 16: nearest 32×32, 32×48, 48×32 or 48×48 "
                       + "(dataset.size = 32 with resize = \"stretch\" or \"shorter\" gives the first)")
        XCTAssertEqual(TrainSection().imageShapeProblem(height: 10, width: 16),
                       "images are 16×10; the CNN needs a height and a width that are multiples of 16: nearest 16×16 "
                       + "(dataset.size = 16 with resize = \"stretch\" or \"shorter\" gives it)")
    }

    /// Item 10: the Python (pickle) downloads are named as unsupported, not "not a dataset" / "missing split".
    func testUnsupportedCIFARLayoutsAreNamed() throws {
        let layouts: [(String, [String], String)] = [
            ("cifar-10-batches-py", ["data_batch_1", "data_batch_2", "test_batch", "batches.meta", "readme.html"],
             "CIFAR-10's Python version (pickled batches, as torchvision downloads it)"),
            ("cifar-100-python", ["train", "test", "meta", "file.txt~"], "CIFAR-100's Python version (pickled, as torchvision downloads it)"),
        ]
        let tail = ", which mixprep does not read; it reads the binary versions of CIFAR-10 and CIFAR-100 (cifar-10-binary.tar.gz, "
            + "cifar-100-binary.tar.gz, or their folders) and image files (train/<class>/ with test/<class>/ or val/<class>/, "
            + "train.csv with test.csv or val.csv, or one folder of classes with dataset.test_fraction)"
        for (folder, files, kind) in layouts {
            try FileIO.makeDirectories("\(base)/\(folder)")
            for f in files { try FileIO.writeAtomically("\(base)/\(folder)/\(f)", [7, 7, 7]) }
            let tar = Process()
            tar.executableURL = URL(fileURLWithPath: "/bin/tar")
            tar.arguments = ["-czf", "\(base)/\(folder).tar.gz", "-C", base, folder]
            try tar.run()
            tar.waitUntilExit()
            XCTAssertEqual(tar.terminationStatus, 0)
            for data in ["\(base)/\(folder)", "\(base)/\(folder).tar.gz"] {
                let r = try PrepFixtures.run(["run", try pipelineFile(data: data), "--out", base + "/o"])
                assertOneLineError(r, "\(data): this is \(kind)" + tail)
            }
        }
    }

    /// Item 11: `--version` on both tools.
    func testVersion() throws {
        for tool in ["mixprep", "mixtrain"] {
            let r = try TestSupport.run(TestSupport.executable(tool), ["--version"])
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertEqual(r.out, Manifest.toolVersion + "\n")
        }
        XCTAssertTrue(Manifest.toolVersion.hasPrefix("mixshards "))
    }

    /// Item 11: `export --test --epoch N` used to export the test split silently.
    func testExportRefusesTestWithAnEpoch() throws {
        let r = try PrepFixtures.run(["export", base, "--test", "--epoch", "1"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.hasPrefix("Error: --epoch 1 and --test cannot be used together: --test shows the test split\n"), r.err)
        XCTAssertEqual(try PrepFixtures.run(["export", base, "--epoch=-1"]).err.split(separator: "\n").first, "Error: --epoch must be ≥ 0")
    }

    /// Item 11: the per-class table of `verify` is aligned whatever the class names' lengths.
    func testVerifyTableIsAligned() {
        var s = ShardStats(classCount: 3)
        s.labelMass = [1.5, 22.25, 333]
        let names = ["a", "automobile", "a-class-name-longer-than-twelve"]
        let lines = StatsText.describe(s, classNames: names).components(separatedBy: "\n")
        let rows = Array(lines.drop { $0 != "label mass per class:" }.dropFirst())
        XCTAssertEqual(rows.count, 3)
        XCTAssertEqual(Set(rows.map(\.count)).count, 1, "\(rows)")
        XCTAssertEqual(rows[0], "  a                                     1.50   0.42%")
        XCTAssertEqual(Set(rows.map { $0.firstIndex(of: "%")!.utf16Offset(in: $0) }).count, 1)
    }

    /// Item 11: a pipeline's relative dataset path is shown normalised (`data/…`, not `pipelines/../data/…`).
    func testPathsAreNormalised() throws {
        let p = try Pipeline.load(PrepFixtures.repo + "/pipelines/quickstart.toml")
        XCTAssertEqual(p.dataset.path, PrepFixtures.repo + "/data/cifar10-mini")
        let r = try PrepFixtures.run(["run", PrepFixtures.repo + "/pipelines/quickstart.toml", "--epochs", "1", "--limit", "100",
                                      "--out", base + "/q"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("source: cifar10 at \(PrepFixtures.repo)/data/cifar10-mini: 100 train"), r.err)
        XCTAssertEqual(try Manifest.load(directory: base + "/q").source.path, PrepFixtures.repo + "/data/cifar10-mini")
    }

    /// Item 12: codec, strategy and filter are enums; an unknown name is an error naming the key, never a silent fallback.
    func testShardEncodingNamesAreCheckedEverywhere() throws {
        let r = try PrepFixtures.run(["run", PrepFixtures.repo + "/pipelines/quickstart.toml", "--strategy", "fast", "--out", base + "/o"])
        assertOneLineError(r, "--strategy must be one of default, filtered, huffman, rle (got \"fast\")")
        var p = try PrepFixtures.pipeline(epochs: 1)
        p.shards.strategy = .huffman
        p.shards.filter = .none
        p.shards.codec = .none
        let json = try Manifest.canonicalJSON(p)
        let text = String(decoding: json, as: UTF8.self)
        XCTAssertTrue(text.contains("\"codec\" : \"none\"") && text.contains("\"strategy\" : \"huffman\"") && text.contains("\"filter\" : \"none\""), text)
        XCTAssertEqual(try JSONDecoder().decode(Pipeline.self, from: Data(json)), p)
        let bad = text.replacingOccurrences(of: "\"strategy\" : \"huffman\"", with: "\"strategy\" : \"fast\"")
        XCTAssertThrowsError(try JSONDecoder().decode(Pipeline.self, from: Data(bad.utf8))) {
            XCTAssertEqual(MixError.describe(decoding: $0),
                           "key shards.strategy: shards.strategy must be one of default, filtered, huffman, rle (got \"fast\")")
        }
    }

    /// Item 10: CIFAR-100's binary version is read (fine labels, 100 classes) and goes through prep, verify and export.
    func testCIFAR100BinaryEndToEnd() throws {
        let data = base + "/cifar-100-binary"
        try FileIO.makeDirectories(data)
        let src = try FileIO.read(PrepFixtures.mini + "/data_batch_1.bin")
        var train: [UInt8] = [], test: [UInt8] = []
        for r in 0..<300 {
            let record = [UInt8(r % 20), UInt8((7 * r) % 100)] + src[(r * 3073 + 1)..<((r + 1) * 3073)]
            if r < 250 { train += record } else { test += record }
        }
        try FileIO.writeAtomically(data + "/train.bin", train)
        try FileIO.writeAtomically(data + "/test.bin", test)
        try FileIO.writeAtomically(data + "/fine_label_names.txt", (0..<100).map { "fine\($0)\n" }.joined())
        let out = base + "/shards"
        let r = try PrepFixtures.run(["run", try pipelineFile(data: data), "--out", out, "--quiet"])
        XCTAssertEqual(r.status, 0, r.err)
        let m = try Manifest.load(directory: out)
        XCTAssertEqual(m.source.name, "cifar100")
        XCTAssertEqual(m.source.classNames.count, 100)
        XCTAssertEqual([m.source.trainCount, m.source.testCount], [250, 50])
        XCTAssertEqual(try PrepFixtures.run(["verify", out]).status, 0)
        let e = try PrepFixtures.run(["export", out, "--count", "8", "--out", base + "/export"])
        XCTAssertEqual(e.status, 0, e.err)
    }
}
