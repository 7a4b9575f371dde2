import Foundation
import MixCore
import Pipeline
import ShardStore
import Prep
import XCTest

/// Manifests `mixfuzz` found crashing `mixprep verify` and `export`, now refused with one line.
final class FuzzFoundPrepTests: XCTestCase {
    /// A small complete directory (60 train, 20 test images; 2 epochs; a source copy), made once.
    static let directory: String = {
        let dir = NSTemporaryDirectory() + "mixshards-fuzzfound-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        let pipeline = try! Pipeline.parse("""
            name = "fuzzfound"
            seed = 5
            [dataset]
            path = "\(PrepFixtures.mini)"
            train_limit = 60
            test_limit = 20
            [mix]
            p = 0.5
            [shards]
            epochs = 2
            samples_per_shard = 30
            samples_per_chunk = 16
            references = true
            """)
        _ = try! PrepRunner.run(pipeline, options: PrepOptions(outDirectory: dir, threads: 1, quiet: true))
        return dir
    }()

    /// A copy of the directory whose manifest is `edit`ed.
    func directory(_ edit: (inout Manifest) -> Void) throws -> String {
        let dir = try PrepFixtures.temporaryDirectory(name)
        for f in try FileManager.default.subpathsOfDirectory(atPath: Self.directory) where !FileIO.isDirectory(Self.directory + "/" + f) {
            try FileIO.makeDirectories(((dir + "/" + f) as NSString).deletingLastPathComponent)
            try FileIO.writeAtomically(dir + "/" + f, try FileIO.read(Self.directory + "/" + f))
        }
        var manifest = try Manifest.load(directory: dir)
        edit(&manifest)
        try FileIO.writeAtomically(dir + "/" + Manifest.fileName, try manifest.encoded())
        return dir
    }

    func verifyProblems(_ dir: String) throws -> [String] {
        try Verifier.verify(directory: dir, threads: 1).problems
    }

    func testTheFixtureVerifies() throws {
        XCTAssertEqual(try verifyProblems(Self.directory), [])
    }

    /// samples_per_shard 0 in a manifest used to trap (a stride of 0) in verify's plan;
    /// a huge or negative trainCount made a plan of 10^12 files or trapped on a negative range.
    func testVerifyChecksThePlanSizeBeforeBuildingIt() throws {
        let edits: [(inout Manifest) -> Void] = [
            { $0.pipeline.shards.samplesPerShard = 0 },
            { $0.pipeline.shards.samplesPerShard = -3 },
            { $0.source.trainCount = 1_000_000_000_000 },
            { $0.source.trainCount = -5 },
            { $0.source.trainCount = Int.max; $0.pipeline.shards.samplesPerShard = Int.max },
        ]
        for edit in edits {
            let dir = try directory(edit)
            let problems = try verifyProblems(dir)
            XCTAssertTrue(problems.contains("\(dir)/manifest.json: its shard list does not match the pipeline's plan"), "\(problems)")
        }
    }

    /// A source shape outside the format limits used to overflow or divide by zero in verify,
    /// and (with any shape unlike the shards') to trap in export's drawing.
    func testSourceShapeIsCheckedBeforeUse() throws {
        let huge = try directory { $0.source.width = 1 << 40; $0.source.height = 1 << 40 }
        let expected = "\(huge)/manifest.json: source shape 1,099,511,627,776×1,099,511,627,776 (width×height, 3 channels) with 10 classes is outside the format limits "
            + "(from 1 to 4 channels, sides from 1 to 1,024, from 1 to 65,535 classes)"
        XCTAssertTrue(try verifyProblems(huge).contains(expected))
        XCTAssertThrowsError(try export(huge, epoch: 0)) { XCTAssertEqual("\($0)", expected) }

        let none = try directory { $0.source.channels = 0; $0.source.channelStats = nil }
        XCTAssertTrue(try verifyProblems(none).contains { $0.contains("source shape 32×32 (width×height, 0 channels) with 10 classes is outside the format limits") })

        let wide = try directory { $0.source.width = 1000 }
        XCTAssertThrowsError(try export(wide, epoch: 0)) {
            XCTAssertEqual("\($0)", "\(wide)/train/epoch-000/shard-00000.mxs: image shape 32×32 (width×height, 3 channels) differs from the manifest's 1,000×32 (width×height, 3 channels)")
        }
        let grey2 = try directory { $0.source.channels = 2; $0.source.channelStats = nil }
        XCTAssertThrowsError(try export(grey2, epoch: nil)) {
            XCTAssertEqual("\($0)", "\(grey2)/train/epoch-000/shard-00000.mxs: image shape 32×32 (width×height, 3 channels) differs from the manifest's 32×32 (width×height, 2 channels)")
        }
        let fewer = try directory { $0.source.classNames.removeLast() }
        // export opens the directory as the loader does: every listed shard's header against the manifest first.
        XCTAssertThrowsError(try export(fewer, epoch: nil)) {
            XCTAssertEqual("\($0)", "\(fewer)/train/epoch-000/shard-00000.mxs: has 10 classes, the manifest names 9")
        }
    }

    /// export used to open whatever the manifest listed, `../` paths included.
    func testExportChecksTheListing() throws {
        let outside = try directory { $0.test.shards[0].file = "../outside.mxs" }
        XCTAssertThrowsError(try export(outside, epoch: nil)) {
            XCTAssertEqual("\($0)", "\(outside)/manifest.json: shard \"../outside.mxs\" is not a path inside the directory")
        }
        XCTAssertEqual(try export(Self.directory, epoch: 0).images, 4)
    }

    func export(_ dir: String, epoch: Int?) throws -> Exporter.Result {
        try Exporter.export(ExportRequest(directory: dir, outDirectory: dir + "-export", epoch: epoch, count: 4, positions: nil,
                                          mixedOnly: false, scale: 1, columns: 2))
    }
}
