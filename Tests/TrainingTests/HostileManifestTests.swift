import Foundation
import MixCore
import Pipeline
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

    func assertLoaderRefuses(_ dir: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ShardLoader(path: dir, options: LoaderOptions()), file: file, line: line) {
            XCTAssertEqual("\($0)", expected, file: file, line: line)
        }
    }

    func testTrainerChecksTheListing() throws {
        var dir = try directory("twice") { $0.train[0].shards[1] = $0.train[0].shards[0] }
        assertLoaderRefuses(dir, "\(dir)/manifest.json: shard train/epoch-000/shard-00000.mxs is listed twice")

        for args in [["train", dir, "--out", Fixtures.tempDirectory("twicerun")], ["bench-loader", dir]] {
            let r = try TestSupport.run(TestSupport.executable("mixtrain"), args)
            XCTAssertEqual(r.status, 1, r.err)
            XCTAssertEqual(r.err, "error: \(dir)/manifest.json: shard train/epoch-000/shard-00000.mxs is listed twice\n")
        }

        dir = try directory("escape") { $0.test.shards[0].file = "../shards-tiny/test/shard-00000.mxs" }
        assertLoaderRefuses(dir, "\(dir)/manifest.json: shard \"../shards-tiny/test/shard-00000.mxs\" is not a path inside the directory")
        dir = try directory("absolute") { $0.test.shards[0].file = "/etc/passwd" }
        assertLoaderRefuses(dir, "\(dir)/manifest.json: shard \"/etc/passwd\" is not a path inside the directory")

        dir = try directory("empty") { $0.train[1].shards[2].samples = 0 }
        assertLoaderRefuses(dir, "\(dir)/manifest.json: shard train/epoch-001/shard-00002.mxs is listed with 0 samples and \(try Manifest.load(directory: dir).train[1].shards[2].bytes) bytes")

        dir = try directory("size") { $0.train[0].shards[0].bytes += 1 }
        let size = FileIO.fileSize(dir + "/train/epoch-000/shard-00000.mxs")!
        assertLoaderRefuses(dir, "\(dir)/train/epoch-000/shard-00000.mxs: \(size) bytes, manifest.json says \(size + 1)")

        dir = try directory("swapped") { $0.train.swapAt(0, 1) }
        assertLoaderRefuses(dir, "\(dir)/manifest.json: train[0] is numbered epoch 1, expected 0")

        dir = try directory("version") { $0.formatVersion = 99 }
        assertLoaderRefuses(dir, "\(dir)/manifest.json: format \"MixShard\" version 99 is not supported (this build reads MixShard versions 1...2)")
    }

    func testVerifyChecksEveryListedField() throws {
        var dir = try directory("vversion") { $0.formatVersion = 99 }
        XCTAssertThrowsError(try Verifier.verify(directory: dir, threads: 1)) {
            XCTAssertTrue("\($0)".hasSuffix("manifest.json: format \"MixShard\" version 99 is not supported (this build reads MixShard versions 1...2)"), "\($0)")
        }

        dir = try directory("vsamples") { $0.train[0].shards[0].samples = 1_000_000_000_000 }
        var r = try Verifier.verify(directory: dir, threads: 1)
        XCTAssertEqual(r.problems, ["\(dir)/train/epoch-000/shard-00000.mxs: 128 samples, the manifest says 1000000000000"])

        dir = try directory("vswapped") {
            $0.train[0].epoch = 1
            $0.train[1].epoch = 0
        }
        r = try Verifier.verify(directory: dir, threads: 1)
        XCTAssertEqual(r.problems, ["\(dir)/manifest.json: train[0] is numbered epoch 1, expected 0",
                                    "\(dir)/manifest.json: train[1] is numbered epoch 0, expected 1"])
    }
}
