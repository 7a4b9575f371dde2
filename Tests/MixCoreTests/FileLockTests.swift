import Foundation
import MixCore
import XCTest

final class FileLockTests: XCTestCase {
    func lockFile() -> String {
        NSTemporaryDirectory() + "filelock-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).lock"
    }

    func testSecondHolderIsRefusedUntilTheFirstReleases() throws {
        let path = lockFile()
        defer { FileIO.remove(path) }
        var first: FileLock? = try XCTUnwrap(FileLock.tryAcquire(path))
        XCTAssertNil(try FileLock.tryAcquire(path))
        XCTAssertNil(try FileLock.tryAcquire(path), "a refused attempt must not take the lock either")
        XCTAssertEqual(first?.path, path)
        first = nil
        XCTAssertNotNil(try FileLock.tryAcquire(path))
        XCTAssertTrue(FileIO.exists(path), "the lock file stays")
    }

    func testAcquireWaitsForTheHolder() throws {
        let path = lockFile()
        defer { FileIO.remove(path) }
        var holder: FileLock? = try XCTUnwrap(FileLock.tryAcquire(path))
        let got = Locked<Double?>(nil)
        let done = expectation(description: "acquired")
        let start = Date()
        Thread.detachNewThread {
            let lock = try! FileLock.acquire(path)
            got.withLock { $0 = Date().timeIntervalSince(start) }
            withExtendedLifetime(lock) { done.fulfill() }
        }
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertNil(got.withLock { $0 }, "acquire returned while the lock was held")
        holder = nil
        wait(for: [done], timeout: 10)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(got.withLock { $0 }), 0.3)
        _ = holder
    }

    func testUnopenableLockFileIsAnErrorNamingIt() {
        XCTAssertThrowsError(try FileLock.tryAcquire("/nonexistent-dir/x.lock")) { e in
            XCTAssertTrue("\(e)".hasPrefix("/nonexistent-dir/x.lock: cannot open lock file"), "\(e)")
        }
    }

    /// Shared holders coexist; an exclusive one excludes them; a recorded holder is readable and cleared on release.
    func testSharedLocksAndRecordedHolder() throws {
        let path = lockFile()
        defer { FileIO.remove(path) }
        var a: FileLock? = try XCTUnwrap(FileLock.tryAcquire(path, shared: true))
        var b: FileLock? = try XCTUnwrap(FileLock.tryAcquire(path, shared: true))
        XCTAssertNil(try FileLock.tryAcquire(path))
        XCTAssertNil(FileLock.holder(of: path))
        a = nil
        XCTAssertNil(try FileLock.tryAcquire(path))
        b = nil
        var x: FileLock? = try XCTUnwrap(FileLock.tryAcquire(path))
        x?.recordHolder("mixprep run")
        XCTAssertNil(try FileLock.tryAcquire(path, shared: true))
        let holder = try XCTUnwrap(FileLock.holder(of: path))
        XCTAssertTrue(holder.hasPrefix("mixprep run (pid \(getpid()) on "), holder)
        x = nil
        XCTAssertNil(FileLock.holder(of: path), "the record is cleared on release")
        _ = (a, b, x)
    }
}
