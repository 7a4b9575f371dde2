import ImageCodecs
import Datasets
import Foundation
import Imaging
import MixCore
import XCTest

final class CIFAR10Tests: XCTestCase {
    /// The embedded subset, found from this file's location.
    static let mini = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../data/cifar10-mini").standardized.path

    func tmp(_ name: String = #function) throws -> String {
        let dir = NSTemporaryDirectory() + "mixshards-ds-\(name.filter { $0.isLetter })-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileIO.makeDirectories(dir)
        return dir
    }

    func testFolderMatchesTheFilesAndFingerprintIsSHA256OfTheirConcatenation() throws {
        let d = try Dataset.load(Self.mini)
        XCTAssertEqual(d.train.count, 2000)
        XCTAssertEqual(d.test.count, 500)
        XCTAssertEqual(d.classNames, CIFAR10.defaultClassNames)
        let b1 = try FileIO.read(Self.mini + "/data_batch_1.bin")
        let b2 = try FileIO.read(Self.mini + "/data_batch_2.bin")
        let t = try FileIO.read(Self.mini + "/test_batch.bin")
        XCTAssertEqual(d.train.labels[0], Int32(b1[0]))
        XCTAssertEqual(Array(d.train.image(0)), Array(b1[1..<3073]))
        XCTAssertEqual(Array(d.train.image(1000)), Array(b2[1..<3073]))
        XCTAssertEqual(Array(d.test.image(499)), Array(t[(499 * 3073 + 1)..<(500 * 3073)]))
        XCTAssertEqual(d.fingerprint, SHA256.hex(SHA256.hash(b1 + b2 + t)))
    }

    func testOfficialArchiveReadsTheSameAsTheFolder() throws {
        let dir = try tmp()
        try FileIO.makeDirectories(dir + "/cifar-10-batches-bin")
        for f in ["data_batch_1.bin", "data_batch_2.bin", "test_batch.bin", "batches.meta.txt"] {
            try FileIO.writeAtomically(dir + "/cifar-10-batches-bin/" + f, try FileIO.read(Self.mini + "/" + f))
        }
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/bin/tar")
        tar.arguments = ["-czf", dir + "/cifar-10-binary.tar.gz", "-C", dir, "cifar-10-batches-bin"]
        try tar.run()
        tar.waitUntilExit()
        XCTAssertEqual(tar.terminationStatus, 0)
        let a = try Dataset.load(dir + "/cifar-10-binary.tar.gz")
        let f = try Dataset.load(Self.mini)
        XCTAssertEqual(a.train, f.train)
        XCTAssertEqual(a.test, f.test)
        XCTAssertEqual(a.fingerprint, f.fingerprint)
        XCTAssertEqual(a.classNames, f.classNames)
        // A truncated archive is a one-line error naming it.
        let gz = try FileIO.read(dir + "/cifar-10-binary.tar.gz")
        try FileIO.writeAtomically(dir + "/cut.tar.gz", Array(gz.prefix(gz.count / 2)))
        XCTAssertThrowsError(try Dataset.load(dir + "/cut.tar.gz")) { XCTAssertTrue("\($0)".contains("cut.tar.gz: gzip stream is truncated"), "\($0)") }
        // An archive inflating past the cap (a gzip bomb) is refused, naming it, before it is held whole.
        XCTAssertThrowsError(try CIFAR10.loadArchive(dir + "/cifar-10-binary.tar.gz", maxInflatedBytes: 1 << 20)) {
            XCTAssertEqual("\($0)", dir + "/cifar-10-binary.tar.gz: inflates to more than 1 MiB, the limit for this input (a gzip bomb?)")
        }
    }

    func testBadInputsNameTheFile() throws {
        let dir = try tmp()
        let good = try FileIO.read(Self.mini + "/test_batch.bin")
        // Wrong size.
        try FileIO.writeAtomically(dir + "/data_batch_1.bin", Array(good.prefix(3073 * 2 + 5)))
        try FileIO.writeAtomically(dir + "/test_batch.bin", good)
        XCTAssertThrowsError(try Dataset.load(dir)) {
            XCTAssertTrue("\($0)".contains("data_batch_1.bin: size 6151 is not a positive multiple"), "\($0)")
        }
        // Bad label.
        var bad = Array(good.prefix(3073 * 3))
        bad[3073 * 2] = 10
        try FileIO.writeAtomically(dir + "/data_batch_1.bin", bad)
        XCTAssertThrowsError(try Dataset.load(dir)) {
            XCTAssertTrue("\($0)".contains("data_batch_1.bin: record 2 has label 10"), "\($0)")
        }
        // Missing test split.
        try FileIO.writeAtomically(dir + "/data_batch_1.bin", Array(good.prefix(3073)))
        FileIO.remove(dir + "/test_batch.bin")
        XCTAssertThrowsError(try Dataset.load(dir)) { XCTAssertTrue("\($0)".contains("missing split test"), "\($0)") }
        XCTAssertThrowsError(try Dataset.load(dir + "/nothing")) { XCTAssertTrue("\($0)".contains("nothing: no such file"), "\($0)") }
    }

    /// Careless input (issue 10, item 7): an empty archive and a binary batches.meta.txt get clear one-line errors.
    func testEmptyArchiveAndBinaryMeta() throws {
        let dir = try tmp()
        try FileIO.writeAtomically(dir + "/empty.tar.gz", [UInt8]())
        XCTAssertThrowsError(try Dataset.load(dir + "/empty.tar.gz")) {
            XCTAssertEqual("\($0)", dir + "/empty.tar.gz: is empty (0 bytes), not a gzip file")
        }
        var record = Array(try FileIO.read(Self.mini + "/test_batch.bin").prefix(3073))
        record[0] = 1
        try FileIO.writeAtomically(dir + "/data_batch_1.bin", record)
        try FileIO.writeAtomically(dir + "/test_batch.bin", record)
        try FileIO.writeAtomically(dir + "/batches.meta.txt", Array(record[1..<200]))
        XCTAssertThrowsError(try Dataset.load(dir)) {
            XCTAssertEqual("\($0)", dir + "/batches.meta.txt: is not UTF-8 text (expected one class name per line)")
        }
        try FileIO.writeAtomically(dir + "/batches.meta.txt", "cat\ndog\u{01}\n")
        XCTAssertThrowsError(try Dataset.load(dir)) {
            XCTAssertEqual("\($0)", dir + "/batches.meta.txt: holds control character U+1 (expected one class name per line)")
        }
        try FileIO.writeAtomically(dir + "/batches.meta.txt", "cat\r\ndog\tx\n\n")
        XCTAssertEqual(try Dataset.load(dir).classNames, ["cat", "dog\tx"])
        // Issue 22: a class name is at most 256 bytes of UTF-8 (here 257: "d" and 128 two-byte "é").
        try FileIO.writeAtomically(dir + "/batches.meta.txt", "cat\nd" + String(repeating: "é", count: 128) + "\n")
        XCTAssertThrowsError(try Dataset.load(dir)) {
            XCTAssertEqual("\($0)", dir + "/batches.meta.txt: class 2 \"d" + String(repeating: "é", count: 23)
                           + "…\" is 257 bytes long; a class name is from 1 to 256 bytes of UTF-8")
        }
        try FileIO.writeAtomically(dir + "/batches.meta.txt", "cat\n" + String(repeating: "é", count: 128) + "\n")
        XCTAssertEqual(try Dataset.load(dir).classNames[1].utf8.count, 256)
    }
}

/// CIFAR-100's binary version (issue 10, item 10): fine labels, 100 class names.
final class CIFAR100Tests: XCTestCase {
    /// A small CIFAR-100-shaped folder made from the embedded CIFAR-10 records:
    /// coarse label = record mod 20, fine label = 10 · CIFAR-10 label + record mod 10.
    static func makeFolder(_ dir: String, train: Int = 120, test: Int = 40) throws -> (fine: [Int32], records: [UInt8]) {
        let source = try FileIO.read(CIFAR10Tests.mini + "/data_batch_1.bin")
        var fine: [Int32] = [], canonical: [UInt8] = []
        func records(_ range: Range<Int>) -> [UInt8] {
            var out: [UInt8] = []
            for r in range {
                let f = UInt8(10 * Int(source[r * 3073]) + r % 10)
                fine.append(Int32(f))
                let pixels = source[(r * 3073 + 1)..<((r + 1) * 3073)]
                out += [UInt8(r % 20), f] + pixels
                canonical += [f] + pixels
            }
            return out
        }
        try FileIO.makeDirectories(dir)
        try FileIO.writeAtomically(dir + "/train.bin", records(0..<train))
        try FileIO.writeAtomically(dir + "/test.bin", records(train..<(train + test)))
        try FileIO.writeAtomically(dir + "/fine_label_names.txt", (0..<100).map { "class\($0)\n" }.joined())
        try FileIO.writeAtomically(dir + "/coarse_label_names.txt", (0..<20).map { "super\($0)\n" }.joined())
        return (fine, canonical)
    }

    func testFolderAndArchive() throws {
        let base = NSTemporaryDirectory() + "mixshards-c100-\(getpid())"
        try? FileManager.default.removeItem(atPath: base)
        let (fine, canonical) = try Self.makeFolder(base + "/cifar-100-binary")
        let d = try Dataset.load(base + "/cifar-100-binary")
        XCTAssertEqual(d.name, "cifar100")
        XCTAssertEqual(d.classNames.count, 100)
        XCTAssertEqual(d.classNames[37], "class37")
        XCTAssertEqual([d.train.count, d.test.count], [120, 40])
        XCTAssertEqual(d.train.labels + d.test.labels, fine)
        let src = try FileIO.read(CIFAR10Tests.mini + "/data_batch_1.bin")
        XCTAssertEqual(Array(d.test.image(39)), Array(src[(159 * 3073 + 1)..<(160 * 3073)]))
        XCTAssertEqual(d.fingerprint, SHA256.hex(SHA256.hash(canonical)))

        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/bin/tar")
        tar.arguments = ["-czf", base + "/cifar-100-binary.tar.gz", "-C", base, "cifar-100-binary"]
        try tar.run()
        tar.waitUntilExit()
        let a = try Dataset.load(base + "/cifar-100-binary.tar.gz")
        XCTAssertEqual(a.train, d.train)
        XCTAssertEqual(a.test, d.test)
        XCTAssertEqual(a.classNames, d.classNames)
        XCTAssertEqual(a.fingerprint, d.fingerprint)

        // Bad input names the file: a fine label beyond the names, a size that is not whole records, no names.
        try FileIO.writeAtomically(base + "/cifar-100-binary/fine_label_names.txt", "a\nb\n")
        XCTAssertThrowsError(try Dataset.load(base + "/cifar-100-binary")) {
            XCTAssertTrue("\($0)".hasPrefix(base + "/cifar-100-binary/train.bin: record 0 has fine label "), "\($0)")
        }
        try FileIO.writeAtomically(base + "/cifar-100-binary/test.bin", [1, 2, 3])
        FileIO.remove(base + "/cifar-100-binary/fine_label_names.txt")
        XCTAssertThrowsError(try Dataset.load(base + "/cifar-100-binary")) {
            XCTAssertEqual("\($0)", base + "/cifar-100-binary: no fine_label_names.txt (CIFAR-100's binary version ships one; mixprep uses the fine labels)")
        }
        try FileIO.writeAtomically(base + "/cifar-100-binary/fine_label_names.txt", (0..<100).map { "c\($0)\n" }.joined())
        XCTAssertThrowsError(try Dataset.load(base + "/cifar-100-binary")) {
            XCTAssertEqual("\($0)", base + "/cifar-100-binary/test.bin: size 3 is not a positive multiple of the 3074-byte CIFAR-100 record")
        }
    }

    /// A CIFAR-100 archive or folder without one of its splits was refused as if it were CIFAR-10
    /// ("no data_batch_*.bin", or "not a dataset" listing CIFAR-10 and PNG folders only), a fifth of
    /// the `cifar100` fuzz target's refusals: the missing split is named as CIFAR-100's.
    func testAMissingSplitIsNamed() throws {
        let base = NSTemporaryDirectory() + "mixshards-c100-split-\(getpid())"
        try? FileManager.default.removeItem(atPath: base)
        let dir = base + "/cifar-100-binary"
        _ = try Self.makeFolder(dir, train: 3, test: 2)
        func tarGz(_ name: String) throws -> String {
            let tar = Process()
            tar.executableURL = URL(fileURLWithPath: "/bin/tar")
            tar.arguments = ["-czf", base + "/" + name, "-C", base, "cifar-100-binary"]
            try tar.run()
            tar.waitUntilExit()
            return base + "/" + name
        }
        for split in ["test", "train"] {
            let kept = try FileIO.read(dir + "/\(split).bin")
            FileIO.remove(dir + "/\(split).bin")
            XCTAssertThrowsError(try Dataset.load(dir)) {
                XCTAssertEqual("\($0)", dir + ": missing split \(split): no \(split).bin (CIFAR-100's binary version holds train.bin and test.bin)")
            }
            let archive = try tarGz("no-\(split).tar.gz")
            XCTAssertThrowsError(try Dataset.load(archive)) {
                XCTAssertEqual("\($0)", archive + ": missing split \(split): no \(split).bin in the archive "
                                   + "(CIFAR-100's binary version holds train.bin and test.bin)")
            }
            try FileIO.writeAtomically(dir + "/\(split).bin", kept)
        }
        XCTAssertEqual(try Dataset.load(try tarGz("whole.tar.gz")).train.count, 3)
        // A folder of neither kind lists every layout it would read.
        let empty = base + "/empty"
        try FileIO.makeDirectories(empty)
        XCTAssertThrowsError(try Dataset.load(empty)) {
            XCTAssertEqual("\($0)", empty + ": not a dataset: expected data_batch_*.bin + test_batch.bin (CIFAR-10), train.bin + test.bin (CIFAR-100), "
                               + "train/<class>/ with test/<class>/ or val/<class>/, train.csv with test.csv or val.csv, "
                               + "or one folder of classes with dataset.test_fraction")
        }
    }
}
