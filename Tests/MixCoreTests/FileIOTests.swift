import Foundation
import XCTest
import MixCore

final class FileIOTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "mixcore-fileio-\(getpid())-\(UUID().uuidString)"
        try FileIO.makeDirectories(dir)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Writers of one file at once (workers starting together all write `prep.json`) each
    /// get a temporary file of their own: with a shared `path.tmp`, one truncated another's
    /// and a rename failed (issue 24). Every write succeeds, one of them is whole on disk,
    /// nothing is left behind; a link planted where a temporary file would go is not followed.
    func testConcurrentWritersAndPlantedLinks() throws {
        let path = dir + "/prep.json"
        let contents = (0..<8).map { w in [UInt8](repeating: UInt8(w), count: 50_000 + w) }
        let failures = Locked([String]())
        DispatchQueue.concurrentPerform(iterations: 8) { w in
            for _ in 0..<20 {
                do { try FileIO.writeAtomically(path, contents[w]) } catch { failures.withLock { $0.append("\(error)") } }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        XCTAssertTrue(contents.contains(try FileIO.read(path)))
        XCTAssertEqual(try FileIO.list(dir), ["prep.json"])
        // createAtomically: of racing creators exactly one wins, and the file is its bytes.
        let created = Locked([Int]()), once = dir + "/once.json"
        DispatchQueue.concurrentPerform(iterations: 8) { w in
            if (try? FileIO.createAtomically(once, contents[w])) == true { created.withLock { $0.append(w) } }
        }
        XCTAssertEqual(created.withLock { $0 }.count, 1)
        XCTAssertEqual(try FileIO.read(dir + "/once.json"), contents[created.withLock { $0 }[0]])
        // A symlink planted at the first temporary name is neither followed nor replaced.
        let target = dir + "/target"
        try FileIO.writeAtomically(target, [7])
        XCTAssertEqual(symlink(target, "\(dir)/x.json.\(getpid())-0.tmp"), 0)
        try FileIO.writeAtomically(dir + "/x.json", [1, 2])
        XCTAssertEqual(try FileIO.read(target), [7])
        XCTAssertEqual(try FileIO.read(dir + "/x.json"), [1, 2])
        FileIO.removeTemporaries(of: dir + "/x.json")
        XCTAssertFalse(try FileIO.list(dir).contains { $0.hasSuffix(".tmp") })
    }

    /// Files handed to `BackgroundCommits` are under their names, whole, once `wait()` has
    /// returned, and not before they are handed over; a commit that fails (its folder gone)
    /// is rethrown by `wait()` naming the file, after the others have still been committed.
    func testBackgroundCommits() throws {
        let commits = FileIO.BackgroundCommits()
        let contents = (0..<6).map { i in [UInt8](repeating: UInt8(i), count: 100_000 + i) }
        for (i, bytes) in contents.enumerated() {
            let writer = try FileIO.AtomicWriter(dir + "/shard-\(i).mxs")
            try writer.append(bytes)
            XCTAssertFalse(FileIO.exists(dir + "/shard-\(i).mxs"))
            commits.commit(writer)
        }
        try commits.wait()
        for (i, bytes) in contents.enumerated() { XCTAssertEqual(try FileIO.read(dir + "/shard-\(i).mxs"), bytes) }
        XCTAssertFalse(try FileIO.list(dir).contains { $0.hasSuffix(".tmp") })

        try FileIO.makeDirectories("gone", in: dir)
        let doomed = try FileIO.AtomicWriter(dir + "/gone/a.mxs"), fine = try FileIO.AtomicWriter(dir + "/b.mxs")
        try doomed.append([1])
        try fine.append([2])
        try FileManager.default.removeItem(atPath: dir + "/gone")
        try commits.check()
        commits.commit(doomed)
        commits.commit(fine)
        XCTAssertThrowsError(try commits.wait()) { XCTAssertTrue("\($0)".contains("gone/a.mxs"), "\($0)") }
        XCTAssertThrowsError(try commits.check(), "check() keeps reporting the failure once it has happened")
        XCTAssertEqual(try FileIO.read(dir + "/b.mxs"), [2])
    }

    func testWriteAtomically() throws {
        let path = dir + "/out.bin"
        let first = (0 ..< 10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try FileIO.writeAtomically(path, first)
        XCTAssertEqual(try FileIO.read(path), first)
        XCTAssertFalse(FileIO.exists(path + ".tmp"))
        XCTAssertEqual(FileIO.fileSize(path), first.count)
        XCTAssertEqual(try FileIO.list(dir), ["out.bin"])

        // Overwriting with shorter content leaves exactly the new bytes.
        try FileIO.writeAtomically(path, "hello\n")
        XCTAssertEqual(try FileIO.read(path), Array("hello\n".utf8))
        XCTAssertFalse(FileIO.exists(path + ".tmp"))

        // Empty content.
        try FileIO.writeAtomically(path, [UInt8]())
        XCTAssertEqual(try FileIO.read(path), [])
        XCTAssertEqual(try FileIO.list(dir), ["out.bin"])

        // A failure names the file and leaves nothing behind.
        XCTAssertThrowsError(try FileIO.writeAtomically(dir + "/missing/x.bin", [1, 2, 3])) { error in
            XCTAssertTrue("\(error)".contains("missing/x.bin"), "\(error)")
        }
        XCTAssertThrowsError(try FileIO.read(dir + "/nope")) { error in
            XCTAssertTrue("\(error)".contains("nope"), "\(error)")
        }
    }

    func testListSortsBytewise() throws {
        for name in ["b", "a10", "B", "a2", "a", "_x", "é"] {
            try FileIO.writeAtomically(dir + "/" + name, name)
        }
        try FileIO.makeDirectories(dir + "/sub/deeper")
        XCTAssertTrue(FileIO.isDirectory(dir + "/sub/deeper"))
        XCTAssertFalse(FileIO.isDirectory(dir + "/a"))
        XCTAssertEqual(try FileIO.list(dir), ["B", "_x", "a", "a10", "a2", "b", "sub", "é"])
        XCTAssertThrowsError(try FileIO.list(dir + "/absent"))
        // makeDirectories on an existing path is fine.
        try FileIO.makeDirectories(dir + "/sub")
        FileIO.remove(dir + "/a")
        XCTAssertFalse(FileIO.exists(dir + "/a"))
    }

    func testMappedFile() throws {
        let path = dir + "/mapped.bin"
        let content = (0 ..< 70_000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
        try FileIO.writeAtomically(path, content)
        let file = try MappedFile(path)
        XCTAssertEqual(file.count, content.count)
        XCTAssertEqual(file.path, path)
        withExtendedLifetime(file) {
            XCTAssertEqual(Array(file.bytes), content)
        }

        let empty = dir + "/empty.bin"
        try FileIO.writeAtomically(empty, [UInt8]())
        let e = try MappedFile(empty)
        XCTAssertEqual(e.count, 0)
        XCTAssertEqual(e.bytes.count, 0)

        XCTAssertThrowsError(try MappedFile(dir + "/absent.bin")) { error in
            XCTAssertTrue("\(error)".contains("absent.bin"))
        }
    }

    func testProgressWithZeroTotal() {
        let quiet = Progress("quiet", total: 0, quiet: true)
        quiet.advance()
        quiet.advance(by: 5, status: "x")
        XCTAssertGreaterThanOrEqual(quiet.finish(), 0)

        // Prints (to standard error) with an unknown total, and on every advance with interval 0.
        let p = Progress("test", total: 0, unit: "bytes", interval: 0)
        for _ in 0 ..< 3 { p.advance(by: 10, status: "ok") }
        XCTAssertGreaterThanOrEqual(p.finish(), 0)
        XCTAssertGreaterThanOrEqual(p.elapsed, 0)

        // A finish before any work, and with a known total.
        XCTAssertGreaterThanOrEqual(Progress("none", total: 0, interval: 0).finish(), 0)
        let q = Progress("known", total: 4, interval: 0)
        for _ in 0 ..< 4 { q.advance() }
        q.finish()
    }

    func testMixErrorNamesFile() {
        let e = MixError.file("/x/y.mxs", "bad magic")
        XCTAssertEqual(e.description, "/x/y.mxs: bad magic")
        XCTAssertEqual(e, MixError("/x/y.mxs: bad magic"))
    }

    /// A FIFO, a directory or a device where a file should be is refused by name,
    /// never opened for a blocking read (a FIFO used to hang every tool).
    func testNonRegularFilesAreRefusedWithoutBlocking() throws {
        let fifo = dir + "/shard.mxs"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        for (path, kind) in [(fifo, "a FIFO"), (dir, "a directory"), ("/dev/null", "a character device")] {
            XCTAssertThrowsError(try FileIO.read(path)) { XCTAssertEqual("\($0)", "\(path): is \(kind), not a regular file") }
            XCTAssertThrowsError(try MappedFile(path)) { XCTAssertEqual("\($0)", "\(path): is \(kind), not a regular file") }
        }
        // A regular file still maps, and an empty one is fine.
        try FileIO.writeAtomically(dir + "/ok", [1, 2, 3])
        let mapped = try MappedFile(dir + "/ok")
        withExtendedLifetime(mapped) { XCTAssertEqual(Array(mapped.bytes), [1, 2, 3]) }
        try FileIO.writeAtomically(dir + "/empty", [UInt8]())
        XCTAssertEqual(try MappedFile(dir + "/empty").count, 0)
    }
}

/// JSON decoding failures become one line naming the key (issue 10, item 7).
final class DecodingErrorTextTests: XCTestCase {
    struct Inner: Codable { var epoch: Int }
    struct Outer: Codable { var name: String; var train: [Inner] }

    func text(_ json: String) -> String {
        do {
            _ = try JSONDecoder().decode(Outer.self, from: Data(json.utf8))
            return "decoded"
        } catch {
            return MixError.describe(decoding: error)
        }
    }

    func testKeyPathAndReason() {
        XCTAssertEqual(text(#"{"name": "a", "train": [{"epoch": 0}, {"epoch": "x"}]}"#),
                       "key train[1].epoch: Expected to decode Int but found a string instead.")
        XCTAssertEqual(text(#"{"name": "a", "train": [{}]}"#), "missing key train[0].epoch")
        XCTAssertEqual(text(#"{"train": []}"#), "missing key name")
        XCTAssertEqual(text("not json"), "The given data was not valid JSON.")
        XCTAssertEqual(MixError.describe(decoding: MixError("two\nlines")), "two lines")
    }

    /// Paths are shown normalised: `data/x`, not `pipelines/../data/x` (issue 10, item 11).
    func testNormalizedPath() throws {
        for (path, expected) in [("pipelines/../data/cifar10-mini", "data/cifar10-mini"), ("./a//b/./c/", "a/b/c"), ("a/..", "."),
                                 ("../x", "../x"), ("a/../../x", "../x"), ("/a/../b", "/b"), ("/..", "/"), ("", "."), ("/", "/")] {
            XCTAssertEqual(FileIO.normalizedPath(path), expected, path)
        }
        // `..` after a symbolic link stays: the link's parent is elsewhere.
        let dir = NSTemporaryDirectory() + "normalised-\(getpid())"
        try FileIO.makeDirectories(dir + "/real/sub")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertEqual(symlink(dir + "/real/sub", dir + "/link"), 0)
        XCTAssertEqual(FileIO.normalizedPath(dir + "/link/../x"), dir + "/link/../x")
        XCTAssertEqual(FileIO.normalizedPath(dir + "/real/sub/../x"), dir + "/real/x")
    }
}

/// Issue 22 (found by the Python reader's fuzzer): a sparse 4 GiB `manifest.json` costs nothing
/// to make; a reader with a limit refuses it from its size, before allocating.
final class FileIOLimitTests: XCTestCase {
    func testReadWithALimitRefusesALargerFileBeforeAllocating() throws {
        let path = NSTemporaryDirectory() + "limit-\(getpid()).json"
        defer { FileIO.remove(path) }
        try FileIO.writeAtomically(path, [UInt8]("{}".utf8))
        XCTAssertEqual(try FileIO.read(path, limit: 2, what: "a manifest"), [UInt8]("{}".utf8))
        XCTAssertEqual(truncate(path, 4 << 30), 0)  // sparse: no disk, no memory
        XCTAssertThrowsError(try FileIO.read(path, limit: 256 << 20, what: "a manifest")) {
            XCTAssertEqual("\($0)", "\(path): is 4,294,967,296 bytes, more than a manifest may have (268,435,456)")
        }
    }
}
