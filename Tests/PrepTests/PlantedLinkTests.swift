import Foundation
import MixCore
import TestSupport
import XCTest

/// Issue 22, item 1: symbolic links planted in an output folder (a shared one, say) never make
/// a tool write elsewhere. Each planted link points at a file (or folder) outside the output,
/// and the test checks that it is untouched after the run: the temporary names of every file
/// mixprep, mixtrain and export write, the lock file, and the folders mixprep creates.
final class PlantedLinkTests: XCTestCase {
    var base = ""
    var victim = ""
    let victimBytes = Array("precious: not to be overwritten\n".utf8)

    override func setUpWithError() throws {
        base = try PrepFixtures.temporaryDirectory(name)
        victim = base + "/victim.txt"
        try FileIO.writeAtomically(victim, victimBytes)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: base) }

    func plant(_ link: String, to target: String? = nil) {
        XCTAssertEqual(symlink(target ?? victim, link), 0, link)
    }

    func assertVictimUntouched(_ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try FileIO.read(victim), victimBytes, what, file: file, line: line)
    }

    /// quickstart on 300 images; with 3 epochs it writes `source/` too (unmixed samples as references).
    func prep(_ out: String, epochs: Int = 1) throws -> (status: Int32, out: String, err: String) {
        try PrepFixtures.run(["run", PrepFixtures.repo + "/pipelines/quickstart.toml", "--out", out,
                              "--epochs", "\(epochs)", "--limit", "300", "--quiet"])
    }

    /// The temporary names of mixprep, mixtrain, export and `inspect --dump` (`NAME.tmp` until
    /// mixshards 0.4; now `NAME.<pid>-<n>.tmp`, created with O_EXCL | O_NOFOLLOW).
    func testLinksAtTemporaryNamesAreNotFollowed() throws {
        let out = base + "/shards"
        try FileIO.makeDirectories(out)
        for name in ["prep.json.tmp", "manifest.json.tmp"] { plant(out + "/" + name) }
        var r = try prep(out)
        XCTAssertEqual(r.status, 0, r.err)
        try assertVictimUntouched("prep")
        XCTAssertEqual(try TestSupport.manifestSchemaProblems(directory: out), [])

        let run = base + "/run"
        try FileIO.makeDirectories(run)
        for name in ["checkpoint-001.ckpt.tmp", "metrics.csv.tmp", "report.md.tmp", "curves.svg.tmp"] { plant(run + "/" + name) }
        r = try TestSupport.run(TestSupport.executable("mixtrain"), ["train", out, "--out", run, "--epochs", "1", "--threads", "1", "--quiet"])
        XCTAssertEqual(r.status, 0, r.err)
        try assertVictimUntouched("mixtrain train")
        XCTAssertTrue(FileIO.exists(run + "/checkpoint-001.ckpt"))

        let export = base + "/export"
        try FileIO.makeDirectories(export)
        for name in ["index.md.tmp", "contact-sheet.png.tmp", "sample-000000.png.tmp"] { plant(export + "/" + name) }
        r = try PrepFixtures.run(["export", out, "--count", "2", "--out", export])
        XCTAssertEqual(r.status, 0, r.err)
        try assertVictimUntouched("export")

        plant(base + "/dump.bin.tmp")
        r = try PrepFixtures.run(["inspect", out + "/train/epoch-000/shard-00000.mxs", "--dump", base + "/dump.bin"])
        XCTAssertEqual(r.status, 0, r.err)
        try assertVictimUntouched("inspect --dump")
        XCTAssertGreaterThan(FileIO.fileSize(base + "/dump.bin") ?? 0, 0)
    }

    /// A lock file planted as a link used to have its target truncated (the holder's record).
    func testALockFileThatIsALinkIsRefused() throws {
        let out = base + "/shards"
        try FileIO.makeDirectories(out)
        plant(out + "/.mixprep.lock")
        let r = try prep(out)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.err, "error: \(out)/.mixprep.lock: is a symbolic link; lock files are never followed (remove it)\n")
        try assertVictimUntouched("lock")
        XCTAssertThrowsError(try FileLock.tryAcquire(out + "/.mixprep.lock"))
        try assertVictimUntouched("FileLock")
    }

    /// `OUT/train` (or `OUT/source`, `OUT/train/epoch-000`) as a link used to send the shards
    /// into the link's target.
    func testFoldersThatAreLinksAreRefused() throws {
        let elsewhere = base + "/elsewhere"
        try FileIO.makeDirectories(elsewhere)
        for folder in ["train", "source", "test"] {
            let out = base + "/shards-" + folder
            try FileIO.makeDirectories(out)
            plant(out + "/" + folder, to: elsewhere)
            let r = try prep(out, epochs: 3)
            XCTAssertEqual(r.status, 1, folder)
            XCTAssertEqual(r.err, "error: \(out)/\(folder): is a symbolic link where a folder is written; "
                           + "links inside an output are never followed (remove it)\n")
            XCTAssertEqual(try FileIO.list(elsewhere), [], folder)
        }
        // One level down, and a plain file where a folder belongs.
        let out = base + "/shards-deep"
        try FileIO.makeDirectories(out + "/train")
        plant(out + "/train/epoch-000", to: elsewhere)
        var r = try prep(out)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.hasPrefix("error: \(out)/train/epoch-000: is a symbolic link where a folder is written"), r.err)
        XCTAssertEqual(try FileIO.list(elsewhere), [])
        let filed = base + "/shards-file"
        try FileIO.makeDirectories(filed)
        try FileIO.writeAtomically(filed + "/train", [1])
        r = try prep(filed)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.err, "error: \(filed)/train: is a regular file where a folder is written (remove it)\n")
        // The output folder itself may be a link: the user chose it.
        let real = base + "/real-out"
        try FileIO.makeDirectories(real)
        plant(base + "/linked-out", to: real)
        r = try prep(base + "/linked-out")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(FileIO.exists(real + "/manifest.json"))
    }

    /// `makeDirectories(_:in:)` alone: creates nested folders, accepts existing ones, and names
    /// the first component that is not a folder.
    func testMakeDirectoriesInABase() throws {
        try FileIO.makeDirectories("a/b/c", in: base)
        try FileIO.makeDirectories("a/b/c", in: base)
        XCTAssertTrue(FileIO.isDirectory(base + "/a/b/c"))
        plant(base + "/a/link", to: base + "/a/b")
        XCTAssertThrowsError(try FileIO.makeDirectories("a/link/d", in: base)) { error in
            XCTAssertEqual("\(error)", "\(base)/a/link: is a symbolic link where a folder is written; links inside an output are never followed (remove it)")
        }
        XCTAssertFalse(FileIO.exists(base + "/a/b/d"))
    }
}
