import Foundation
import MixCore
import TestSupport
import XCTest

/// Issue 22, item 7: a mapped file truncated by another process used to kill the reader with
/// SIGBUS and no word; `MappedFile`'s guard turns it into one line naming the file, exit 1.
final class MappedFileGuardTests: XCTestCase {
    static let childVariable = "MIXSHARDS_MAPGUARD_CHILD"

    /// The child half, run only in the subprocess `testATruncatedMappingIsOneLineNamingTheFile`
    /// starts: maps the file, truncates it as another process would, and reads on.
    func testChildReadsATruncatedMapping() throws {
        guard let path = ProcessInfo.processInfo.environment[Self.childVariable] else {
            throw XCTSkip("runs as the child of testATruncatedMappingIsOneLineNamingTheFile")
        }
        let file = try MappedFile(path)
        XCTAssertEqual(truncate(path, 0), 0)
        var sum = 0
        for i in stride(from: 0, to: file.count, by: 4096) { sum &+= Int(file.bytes[i]) }
        XCTFail("read \(sum) from a truncated mapping without a fault")
    }

    func testATruncatedMappingIsOneLineNamingTheFile() throws {
        #if os(Linux)
        let dir = NSTemporaryDirectory() + "mapguard-\(getpid())"
        try FileIO.makeDirectories(dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/shard-00000.mxs"
        try FileIO.writeAtomically(path, [UInt8](repeating: 7, count: 3 * 4096))
        let r = try TestSupport.run(CommandLine.arguments[0], ["MixCoreTests.MappedFileGuardTests/testChildReadsATruncatedMapping"],
                                    env: [Self.childVariable: path])
        XCTAssertEqual(r.status, 1, r.out + r.err)
        XCTAssertEqual(r.err, "error: \(path): the file shrank while it was being read "
                       + "(did another process truncate or rewrite it?); stopped\n")
        #else
        throw XCTSkip("the test bundle re-runs itself on Linux only")
        #endif
    }

    /// Mappings are registered while alive and forgotten when released.
    func testMappingsAreRegisteredWhileAlive() throws {
        let path = NSTemporaryDirectory() + "mapguard-count-\(getpid()).bin"
        try FileIO.writeAtomically(path, [1, 2, 3])
        defer { FileIO.remove(path) }
        let before = MappedFile.guardedCount
        var file: MappedFile? = try MappedFile(path)
        XCTAssertEqual(MappedFile.guardedCount, before + 1)
        XCTAssertEqual(Array(file!.bytes), [1, 2, 3])
        file = nil
        XCTAssertEqual(MappedFile.guardedCount, before)
    }
}
