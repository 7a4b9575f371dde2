import Foundation
import ImageCodecs
import Imaging
import MixCore
import Pipeline
import Prep
import ShardStore
import TestSupport
import XCTest

/// `mixprep run` on image files end to end: the layouts fixture through to a verified
/// directory with file lists, the same bytes at any thread count or worker split, bad
/// files stopped or skipped and listed, and the messages a user sees.
final class ImageDatasetPrepTests: XCTestCase {
    var base = ""
    static let folders = PrepFixtures.repo + "/Tests/DatasetsTests/Fixtures/layouts/folders"

    override func setUpWithError() throws {
        base = try PrepFixtures.temporaryDirectory(name)
    }

    func pipelineFile(_ data: String, extra: String = "", name: String = "p") throws -> String {
        let file = base + "/\(name).toml"
        try FileIO.writeAtomically(file, """
            name = "images"
            [dataset]
            path = "\(data)"
            size = 16
            resize = "shorter"
            \(extra)
            [mix]
            p = 0.5
            [shards]
            epochs = 2
            samples_per_shard = 3
            samples_per_chunk = 2
            """)
        return file
    }

    func testFoldersPrepToAVerifiedDirectoryThatNamesItsFiles() throws {
        let out = base + "/out"
        let r = try PrepFixtures.run(["run", try pipelineFile(Self.folders), "--out", out])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.hasPrefix("source: class folders train/ + test/ at \(Self.folders): 7 train, 4 test files, 2 classes; "
                                      + "decoding to 16×16 (resize shorter, crop center, bicubic)\n"), r.err)
        XCTAssertEqual(try TestSupport.manifestSchemaProblems(directory: out), [])
        let manifest = try Manifest.load(directory: out)
        XCTAssertEqual(manifest.source.layout, "class folders train/ + test/")
        XCTAssertEqual(manifest.source.files?.train.samples, 7)
        XCTAssertEqual(Set(manifest.source.files?.libraries.keys.map { $0 } ?? []), ["libjpeg-turbo", "libpng", "libwebp", "libswscale"])
        let v = try PrepFixtures.run(["verify", out])
        XCTAssertEqual(v.status, 0, v.err)
        // The first rows of the train list, and the files inspect and export name.
        let list = String(decoding: try FileIO.read(out + "/" + SourceFileList.trainFile), as: UTF8.self).split(separator: "\n")
        XCTAssertEqual(list[0], "index,path,label,class,bytes,sha256,width,height")
        XCTAssertTrue(list[1].hasPrefix("0,train/cat/cat_001.jpg,0,cat,"), String(list[1]))
        XCTAssertEqual(list.count, 8)
        let inspect = try PrepFixtures.run(["inspect", out + "/test/shard-00000.mxs", "--samples"])
        XCTAssertTrue(inspect.out.contains("    file test/cat/cat_101.jpg\n"), inspect.out)
        let export = try PrepFixtures.run(["export", out, "--out", base + "/export", "--count", "7"])
        XCTAssertEqual(export.status, 0, export.err)
        let index = String(decoding: try FileIO.read(base + "/export/index.md"), as: UTF8.self)
        XCTAssertTrue(index.contains("| primary file | partner file |"), index)
        XCTAssertTrue(index.contains("`train/dog/more/dog_004.png`"), index)
        // A tampered list is found by its hash; the fingerprint is recomputed from the lists.
        var bytes = try FileIO.read(out + "/" + SourceFileList.testFile)
        bytes[bytes.count - 2] ^= 1
        try FileIO.writeAtomically(out + "/" + SourceFileList.testFile, bytes)
        let bad = try PrepFixtures.run(["verify", out])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.err.contains("source/test-files.csv: SHA-256 "), bad.err)
    }

    /// Same seed, same bytes: at 1 and 2 threads, and made by two workers then finalised.
    func testBytesDoNotDependOnThreadsOrWorkers() throws {
        let pipe = try pipelineFile(Self.folders, extra: "", name: "p")
        for (dir, args) in [("t1", ["--threads", "1"]), ("t2", ["--threads", "2"])] {
            let r = try PrepFixtures.run(["run", pipe, "--out", base + "/" + dir, "--quiet"] + args)
            XCTAssertEqual(r.status, 0, r.err)
        }
        for w in ["1/2", "0/2"] {
            let r = try PrepFixtures.run(["run", pipe, "--out", base + "/split", "--quiet", "--worker", w])
            XCTAssertEqual(r.status, 0, r.err)
        }
        XCTAssertEqual(try PrepFixtures.run(["finalize", base + "/split", "--quiet"]).status, 0)
        let one = try PrepFixtures.snapshot(base + "/t1")
        XCTAssertEqual(one, try PrepFixtures.snapshot(base + "/t2"))
        XCTAssertEqual(one, try PrepFixtures.snapshot(base + "/split"))
        XCTAssertNotNil(one[SourceFileList.trainFile])
        // A rerun keeps everything.
        let again = try PrepFixtures.run(["run", pipe, "--out", base + "/t1"])
        XCTAssertTrue(again.err.contains("already complete"), again.err)
    }

    /// Bad files: one line naming the file, no output folder left; with --skip-bad,
    /// listed in skipped-files.csv, counted in the manifest and in a warning.
    func testABadFileStopsTheRunOrIsSkippedAndListed() throws {
        let data = base + "/data"
        for split in ["train", "test"] {
            for c in ["a", "b"] {
                try FileIO.makeDirectories("\(data)/\(split)/\(c)")
                for i in 0..<3 { try PNG.write(RGBImage(width: 20, height: 18, background: RGBColor(UInt8(i * 40), UInt8(9 + 3 * i), UInt8(200 - 7 * i))), to: "\(data)/\(split)/\(c)/\(i).png") }
            }
        }
        let whole = try FileIO.read("\(data)/train/b/1.png")
        try FileIO.writeAtomically("\(data)/train/b/1.png", Array(whole.prefix(whole.count / 2)))
        var r = try PrepFixtures.run(["run", try pipelineFile(data), "--out", base + "/stop"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.hasSuffix("error: \(data)/train/b/1.png: corrupt PNG: the file ends before the image data does (truncated)\n"), r.err)
        XCTAssertEqual(r.err.components(separatedBy: "error:").count, 2)
        XCTAssertFalse(FileIO.exists(base + "/stop"))

        r = try PrepFixtures.run(["run", try pipelineFile(data), "--out", base + "/skip", "--skip-bad", "--quiet"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.err, "warning: \(data): skipped 1 file that could not be decoded (dataset.skip_bad), first train/b/1.png: "
                       + "corrupt PNG: the file ends before the image data does (truncated)\n")
        let skipped = String(decoding: try FileIO.read(base + "/skip/" + SourceFileList.skippedFile), as: UTF8.self)
        XCTAssertTrue(skipped.hasPrefix("split,path,sha256,reason\ntrain,train/b/1.png,"), skipped)
        let m = try Manifest.load(directory: base + "/skip")
        XCTAssertEqual(m.source.skippedFiles, 1)
        XCTAssertEqual(m.source.trainCount, 5)
        XCTAssertEqual(m.pipeline.dataset.skipBad, true)
        XCTAssertEqual(try PrepFixtures.run(["verify", base + "/skip"]).status, 0)
        XCTAssertEqual(try TestSupport.manifestSchemaProblems(directory: base + "/skip"), [])
    }

    /// What "Errors that help" asks: sizes the CNN cannot take name the nearest that work; a
    /// non-square size whose sides are multiples of 16 (64×48) is one it takes.
    func testSizeProblemsNameWhatWorks() throws {
        let wide = base + "/wide.toml"
        try FileIO.writeAtomically(wide, "name = \"wide\"\n[dataset]\npath = \"\(Self.folders)\"\nsize = [48, 64]\nresize = \"stretch\"\n")
        var r = try PrepFixtures.run(["run", wide, "--out", base + "/wide", "--quiet"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.err, "warning: \(Self.folders): skipped 1 file without a .jpg, .jpeg, .png or .webp extension: train/cat/notes.txt\n")

        let odd = base + "/odd.toml"
        try FileIO.writeAtomically(odd, "name = \"odd\"\n[dataset]\npath = \"\(Self.folders)\"\nsize = [45, 60]\nresize = \"stretch\"\n")
        r = try PrepFixtures.run(["run", odd, "--out", base + "/odd", "--quiet"])
        XCTAssertEqual(r.status, 0, r.err)
        let problem = "images are 60×45; the CNN needs a height and a width that are multiples of 16: nearest 64×48 "
            + "(dataset.size = [48, 64] with resize = \"stretch\" or \"shorter\" gives it)"
        XCTAssertEqual(r.err, "warning: \(Self.folders): skipped 1 file without a .jpg, .jpeg, .png or .webp extension: train/cat/notes.txt\n"
                       + "warning: \(Self.folders): \(problem); the shards can be verified, inspected and exported, but `mixtrain train` will refuse them\n")
        let train = try TestSupport.run(TestSupport.executable("mixtrain"), ["train", base + "/odd", "--out", base + "/run"])
        XCTAssertEqual(train.status, 1)
        XCTAssertEqual(train.err, "error: \(base)/odd: \(problem)\n")
        XCTAssertFalse(FileIO.exists(base + "/run"))
    }

    func testDatasetKeysAreChecked() throws {
        let cases: [(String, String)] = [
            ("resize = \"shorter\"", "dataset.resize = \"shorter\" needs dataset.size (e.g. size = 64 or size = [48, 64] for height 48, width 64)"),
            ("size = [1, 2, 3]", "dataset.size must be one side or [height, width], each from 1 to 1,024 (got [1, 2, 3])"),
            ("size = 2000", "dataset.size must be one side or [height, width], each from 1 to 1,024 (got 2000)"),
            ("resample = \"nearest\"", "dataset.resample must be one of bicubic, bilinear, lanczos (got \"nearest\")"),
            ("crop = \"random\"", "dataset.crop must be one of center (got \"random\")"),
            ("test_fraction = 1.0", "dataset.test_fraction must be between 0 and 1, both excluded (got 1.0)"),
            ("classes = [\"a\", \"a\"]", "dataset.classes names a class twice"),
            ("size = \"big\"", "dataset.size must be an integer or an array of integers"),
        ]
        for (key, message) in cases {
            XCTAssertThrowsError(try Pipeline.parse("[dataset]\npath = \"x\"\n\(key)\n", file: "f.toml")) {
                XCTAssertEqual("\($0)", "f.toml: " + message, key)
            }
        }
        // Sizes apply to image files only.
        let cifar = base + "/cifar.toml"
        try FileIO.writeAtomically(cifar, "[dataset]\npath = \"\(PrepFixtures.mini)\"\nsize = 64\nresize = \"stretch\"\n")
        let r = try PrepFixtures.run(["run", cifar, "--out", base + "/c", "--quiet"])
        XCTAssertEqual(r.err, "error: dataset.size and dataset.resize apply to image files; \(PrepFixtures.mini) holds cifar10 records of 32×32\n")
        XCTAssertFalse(FileIO.exists(base + "/c"))
    }
}
