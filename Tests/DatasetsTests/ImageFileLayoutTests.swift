import Datasets
import Foundation
import ImageCodecs
import Imaging
import MixCore
import XCTest

/// The layouts of image files (committed fixtures, `scripts/make-image-fixtures.py`),
/// recognised in order and listed in torchvision's order, and their decoding.
final class ImageFileLayoutTests: XCTestCase {
    static var layouts: String { Bundle.module.resourcePath! + "/Fixtures/layouts" }

    func listing(_ name: String, _ options: ListingOptions = ListingOptions(),
                 file: StaticString = #filePath, line: UInt = #line) throws -> FileListing {
        guard case .files(let l) = try DatasetSource.open(Self.layouts + "/" + name, options: options) else {
            XCTFail("\(name) is not image files", file: file, line: line)
            throw MixError("not image files")
        }
        return l
    }

    func testClassFoldersWithTestSplit() throws {
        let l = try listing("folders")
        XCTAssertEqual(l.layout, "class folders train/ + test/")
        XCTAssertEqual(l.classNames, ["cat", "dog"])
        // Upper-case extensions are read; nested folders walked after their parent's files
        // (torchvision sorts os.walk by path); hidden files ignored, others named once.
        XCTAssertEqual(l.train.map(\.path), ["train/cat/cat_001.jpg", "train/cat/cat_002.PNG", "train/cat/cat_003.webp",
                                             "train/dog/dog_001.JPEG", "train/dog/dog_002.png", "train/dog/dog_003.jpg",
                                             "train/dog/more/dog_004.png"])
        XCTAssertEqual(l.train.map(\.label), [0, 0, 0, 1, 1, 1, 1])
        XCTAssertEqual(l.test.map(\.path), ["test/cat/cat_101.jpg", "test/cat/cat_102.png", "test/dog/dog_101.webp", "test/dog/dog_102.JPEG"])
        XCTAssertEqual(l.warnings, [l.root + ": skipped 1 file without a .jpg, .jpeg, .png or .webp extension: train/cat/notes.txt"])
    }

    func testImageNetTrainAndVal() throws {
        let l = try listing("imagenet")
        XCTAssertEqual(l.layout, "class folders train/ + val/")
        XCTAssertEqual(l.classNames, ["n01440764", "n01443537"])
        XCTAssertEqual(l.train.count, 5)
        XCTAssertEqual(l.test.map(\.path), ["val/n01440764/ILSVRC2012_val_00000293.JPEG", "val/n01443537/ILSVRC2012_val_00000236.JPEG",
                                            "val/n01443537/ILSVRC2012_val_00002338.JPEG"])
        XCTAssertEqual(l.test.map(\.label), [0, 1, 1])
        XCTAssertEqual(l.warnings, [])
    }

    func testCSVListsWithQuotedLabelsAndCRLF() throws {
        let l = try listing("csv")
        XCTAssertEqual(l.layout, "CSV lists train.csv + val.csv")
        XCTAssertEqual(l.classNames, ["bird", "cat", "plane, small"])  // sorted as text
        XCTAssertEqual(l.train.map(\.label), [0, 2, 1, 0, 2, 1])
        XCTAssertEqual(l.train[1].path, "images/train_02.webp")
        XCTAssertEqual(l.test.map(\.label), [0, 2, 1])
        // dataset.classes fixes the order instead.
        let given = try listing("csv", ListingOptions(classes: ["plane, small", "cat", "bird"]))
        XCTAssertEqual(given.train.map(\.label), [2, 0, 1, 2, 0, 1])
    }

    func testThreeHundredClasses() throws {
        let l = try listing("csv300")
        XCTAssertEqual(l.classNames.count, 300)
        XCTAssertEqual(l.classNames.first, "class000")
        XCTAssertEqual(l.classNames.last, "class299")
        XCTAssertEqual(l.train.map(\.label), (0..<300).map(Int32.init))
        let decoded = try ImageFileDecoding(policy: SizePolicy(width: 8, height: 8, mode: .stretch)).decode(l)
        XCTAssertEqual(decoded.train.images.count, 300)
        XCTAssertEqual(decoded.train.images.labels[299], 299)
        // Past the format's 65,535 classes (what a shard header's u16 counts), refused by name.
        let dir = NSTemporaryDirectory() + "mixshards-65536-\(getpid())"
        try FileIO.makeDirectories(dir)
        try FileIO.writeAtomically(dir + "/train.csv", "path,label\n" + (0..<65_536).map { "x.png,c\($0)\n" }.joined())
        try FileIO.writeAtomically(dir + "/test.csv", "path,label\nx.png,c0\n")
        XCTAssertThrowsError(try DatasetSource.open(dir)) {
            XCTAssertEqual("\($0)", dir + "/train.csv: 65536 classes; the shard format holds at most 65535")
        }
    }

    func testOneFolderOfClassesHoldsOutAStratifiedSeededSplit() throws {
        XCTAssertThrowsError(try listing("single")) {
            XCTAssertEqual("\($0)", Self.layouts + "/single: a folder of classes without a test split: set dataset.test_fraction (e.g. 0.1) "
                           + "to hold out a seeded, stratified one, or add train/ and test/ (or val/) class folders")
        }
        let l = try listing("single", ListingOptions(testFraction: 0.4))
        XCTAssertEqual(l.layout, "one folder of classes, 40 % of each class held out (split_seed 0)")
        XCTAssertEqual(l.classNames, ["apple", "banana", "cherry"])
        XCTAssertEqual(l.train.count, 9)
        XCTAssertEqual(l.test.count, 6)
        for c in 0..<3 { XCTAssertEqual(l.test.filter { $0.label == Int32(c) }.count, 2) }  // 2 of each 5
        // Seeded: the same split again, another with another seed, and the listing order kept.
        XCTAssertEqual(try listing("single", ListingOptions(testFraction: 0.4)).test, l.test)
        XCTAssertNotEqual(try listing("single", ListingOptions(testFraction: 0.4, splitSeed: 1)).test, l.test)
        XCTAssertEqual(l.train.map(\.path), l.train.map(\.path).sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }))
        // A layout with a test split refuses test_fraction.
        XCTAssertThrowsError(try listing("folders", ListingOptions(testFraction: 0.1))) {
            XCTAssertTrue("\($0)".hasSuffix("dataset.test_fraction is for a folder without a test split, and this one has test/"), "\($0)")
        }
    }

    /// DESIGN.md's test vector of the held-out split (*Random numbers*): 5 files a class,
    /// fraction 0.4, split_seed 7 hold out files {1, 4} of class 0, {2, 4} of class 1 and
    /// {0, 3} of class 2 (numbered in listing order), as `python/tests/test_rng.py` computes.
    func testHeldOutSplitIsDesignsVector() throws {
        let l = try listing("single", ListingOptions(classes: ["cherry", "apple", "banana"], testFraction: 0.4, splitSeed: 7))
        let held = [["cherry/cherry_2.png", "cherry/cherry_5.PNG"], ["apple/apple_3.JPEG", "apple/apple_5.PNG"],
                    ["banana/banana_1.jpg", "banana/banana_4.webp"]]
        for c in 0..<3 {
            XCTAssertEqual(l.test.filter { $0.label == Int32(c) }.map(\.path), held[c], "class \(c)")
        }
        XCTAssertEqual(l.test.count, 6)
    }

    func testDecodingBringsMixedSizesToOneAndRecordsTheFiles() throws {
        let l = try listing("folders")
        let d = try ImageFileDecoding(policy: SizePolicy(width: 8, height: 6, mode: .shorter)).decode(l)
        XCTAssertEqual(d.train.images.count, 7)
        XCTAssertEqual([d.train.images.width, d.train.images.height], [8, 6])
        XCTAssertEqual(d.train.files.map(\.path), l.train.map(\.path))
        XCTAssertTrue(d.train.files.allSatisfy { $0.sha256.count == 64 && $0.bytes > 0 && $0.width >= 8 })
        // Without a size, images must all have the first one's.
        XCTAssertThrowsError(try ImageFileDecoding(policy: .asIs).decode(l)) {
            XCTAssertTrue("\($0)".hasSuffix("(width×height), the first training image is 10×8; set dataset.size and dataset.resize = \"shorter\" or \"stretch\" to resize the images"), "\($0)")
        }
    }

    func testABadFileStopsTheRunOrIsSkippedAndListed() throws {
        let dir = NSTemporaryDirectory() + "mixshards-bad-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        for split in ["train", "test"] {
            for c in ["a", "b"] {
                try FileIO.makeDirectories("\(dir)/\(split)/\(c)")
                for i in 0..<2 { try PNG.write(RGBImage(width: 5, height: 4), to: "\(dir)/\(split)/\(c)/\(i).png") }
            }
        }
        let good = try PNG.encode(RGBImage(width: 5, height: 4))
        try FileIO.writeAtomically("\(dir)/train/b/cut.png", Array(good.prefix(good.count - 20)))
        guard case .files(let l) = try DatasetSource.open(dir) else { return XCTFail() }
        XCTAssertThrowsError(try ImageFileDecoding(policy: .asIs, threads: 1).decode(l)) {
            XCTAssertTrue("\($0)".hasPrefix(dir + "/train/b/cut.png: corrupt PNG: "), "\($0)")
        }
        let d = try ImageFileDecoding(policy: .asIs, skipBad: true).decode(l)
        XCTAssertEqual(d.train.images.count, 4)
        XCTAssertEqual(d.skipped.map(\.path), ["train/b/cut.png"])
        XCTAssertTrue(d.skipped[0].reason.hasPrefix("corrupt PNG: "), d.skipped[0].reason)
        XCTAssertEqual(d.train.files.map(\.path), ["train/a/0.png", "train/a/1.png", "train/b/0.png", "train/b/1.png"])
        XCTAssertEqual(Array(UnsafeBufferPointer(start: d.train.images.image(3), count: 60)), RGBImage(width: 5, height: 4).planarRGB())
    }

    func testEmptyClassAndFlatValAreRefusedWithAHint() throws {
        let dir = NSTemporaryDirectory() + "mixshards-empty-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileIO.makeDirectories("\(dir)/train/a")
        try FileIO.makeDirectories("\(dir)/train/b")
        try FileIO.makeDirectories("\(dir)/val")
        try PNG.write(RGBImage(width: 5, height: 4), to: "\(dir)/train/a/0.png")
        try FileIO.writeAtomically("\(dir)/train/b/0.bmp", [1])
        try PNG.write(RGBImage(width: 5, height: 4), to: "\(dir)/val/ILSVRC2012_val_00000001.JPEG")
        XCTAssertThrowsError(try DatasetSource.open(dir)) {
            XCTAssertEqual("\($0)", dir + "/train/b: no JPEG, PNG or WebP images, so the class would be empty (1 other file: 0.bmp; only .jpg, .jpeg, .png and .webp are read)")
        }
        try PNG.write(RGBImage(width: 5, height: 4), to: "\(dir)/train/b/1.png")
        XCTAssertThrowsError(try DatasetSource.open(dir)) {
            XCTAssertEqual("\($0)", dir + "/val: holds images but no class folders (ImageNet's val/ as downloaded is one flat folder: "
                           + "sort it into class folders, e.g. with valprep.sh, or list it in a val.csv)")
        }
    }

    func testCSVProblemsNameTheLine() throws {
        let dir = NSTemporaryDirectory() + "mixshards-csv-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileIO.makeDirectories(dir)
        let cases: [(String, String, String)] = [
            ("path,label\na.png,x\n", "file,label\na.png,x\n", "test.csv: line 1: the header must name the columns path and label (found \"file\", \"label\")"),
            ("path,label\na.png,x\n", "path,label\na.png,y\n", "test.csv: line 2: label \"y\" is not a class of train.csv"),
            ("path,label\na.png,x,3\n", "path,label\n", "train.csv: line 2: 3 fields, the header has 2"),
            ("path,label\n/etc/a.png,x\n", "path,label\n", "train.csv: line 2: path \"/etc/a.png\" is absolute; paths are relative to the CSV's folder"),
            ("path,label\n\"a.png,x\n", "path,label\n", "train.csv: line 2: a quoted field is never closed"),
            // Issue 22: a 30 MB label became a class name that export tried to lay out in 152 GB.
            ("path,label\na.png,x\nb.png," + String(repeating: "y", count: 30 << 20) + "\n", "path,label\n",
             "train.csv: line 3: label \"yyyyyyyyyyyyyyyyyyyyyyyy…\" is 31,457,280 bytes long; a class name is from 1 to 256 bytes of UTF-8"),
        ]
        for (train, test, expected) in cases {
            try FileIO.writeAtomically(dir + "/train.csv", train)
            try FileIO.writeAtomically(dir + "/test.csv", test)
            XCTAssertThrowsError(try DatasetSource.open(dir)) { XCTAssertEqual("\($0)", dir + "/" + expected) }
        }
    }

    func testCSVParserFollowsRFC4180() throws {
        let rows = try CSV.parse(Array("\u{FEFF}a,\"b \"\"q\"\", c\"\r\n\n\"multi\nline\",x\rlast,".utf8), name: "t.csv")
        XCTAssertEqual(rows, [CSV.Row(line: 1, fields: ["a", "b \"q\", c"]), CSV.Row(line: 3, fields: ["multi\nline", "x"]),
                              CSV.Row(line: 5, fields: ["last", ""])])
        XCTAssertEqual(CSV.line(["a", "b,c", "d\"e"]), "a,\"b,c\",\"d\"\"e\"\n")
        XCTAssertThrowsError(try CSV.parse(Array("a\"b\n".utf8), name: "t.csv")) {
            XCTAssertEqual("\($0)", "t.csv: line 1: a quote inside an unquoted field (quote the whole field)")
        }
    }
}
