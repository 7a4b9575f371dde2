import XCTest
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MixCore

final class SHA256Tests: XCTestCase {
    private func hex(_ text: String) -> String {
        SHA256.hex(SHA256.hash(Array(text.utf8)))
    }

    /// Deterministic test message: byte i = 7·i + 3 (mod 256).
    private func message(_ n: Int) -> [UInt8] {
        (0 ..< n).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
    }

    // FIPS 180-4 / NIST CSRC example values.
    func testFIPSVectors() {
        XCTAssertEqual(hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
                       "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
    }

    func testOneMillionA() {
        let expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        XCTAssertEqual(SHA256.hex(SHA256.hash(million)), expected)
        // The same message fed in odd-sized pieces.
        var h = SHA256()
        let piece = [UInt8](repeating: UInt8(ascii: "a"), count: 997)
        var left = 1_000_000
        while left > 0 {
            let n = min(left, piece.count)
            piece.withUnsafeBytes { h.update(UnsafeRawBufferPointer(rebasing: $0[0 ..< n])) }
            left -= n
        }
        XCTAssertEqual(SHA256.hex(h.finalize()), expected)
    }

    /// Lengths around the padding boundaries (55/56, 63/64/65, 119/120, ...), values from Python's hashlib.
    func testPaddingBoundaries() {
        let expected: [Int: String] = [
            1: "084fed08b978af4d7d196a7446a86b58009e636b611db16211b65a9aadff29c5",
            55: "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b",
            56: "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27",
            57: "35df609437dcfea3279283ab79fd554e2bf78f8f7ae2de532d8ee300b09e8f73",
            63: "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055",
            64: "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241",
            65: "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e",
            119: "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e",
            120: "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5",
            127: "a8d23e75d936f303d248888d9b165ee543f4cbafcad3c9dd2a79bd84faa11d07",
            128: "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6",
            129: "307f8fc2c1622b92762e818d39a185d4d667ad49a4b07ceae1f4afa008a93ec4",
            200: "2c7e18c942ef065b526a2d4e5546283749cd3ddfb51d8fc71f42717363685f46",
            1000: "1e9bc38cbf860b9ec31918b065f9b52476c549a782e0e7990bed8ce3868d2371",
        ]
        for (n, digest) in expected {
            let m = message(n)
            XCTAssertEqual(m.withUnsafeBytes { SHA256.hexDigest(of: $0) }, digest, "length \(n)")
        }
    }

    func testIncrementalSplitsEqualOneShot() {
        let m = message(200)
        let oneShot = SHA256.hash(m)
        XCTAssertEqual(SHA256.hex(oneShot), "2c7e18c942ef065b526a2d4e5546283749cd3ddfb51d8fc71f42717363685f46")
        m.withUnsafeBytes { all in
            for split in 0 ... 130 {
                var h = SHA256()
                h.update(UnsafeRawBufferPointer(rebasing: all[0 ..< split]))
                h.update(UnsafeRawBufferPointer(rebasing: all[split ..< 200]))
                XCTAssertEqual(h.finalize(), oneShot, "split at \(split)")
                // Three pieces: split, then another cut 37 bytes later.
                let second = min(split + 37, 200)
                var h3 = SHA256()
                h3.update(Array(m[0 ..< split]))
                h3.update(Array(m[split ..< second]))
                h3.update(Array(m[second ..< 200]))
                XCTAssertEqual(h3.finalize(), oneShot, "split at \(split) and \(second)")
            }
        }
        // Byte by byte.
        var h = SHA256()
        for b in m { h.update([b]) }
        XCTAssertEqual(h.finalize(), oneShot)
    }

    func testFinalizeResetsAndDigestShape() {
        var h = SHA256()
        h.update(Array("abc".utf8))
        let first = h.finalize()
        XCTAssertEqual(first.count, 32)
        // After finalize the hasher starts over.
        XCTAssertEqual(SHA256.hex(h.finalize()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        h.update(Array("abc".utf8))
        XCTAssertEqual(h.finalize(), first)
        // Empty updates (including a nil base address) are no-ops.
        h.update(UnsafeRawBufferPointer(start: nil, count: 0))
        h.update([])
        XCTAssertEqual(SHA256.hex(h.finalize()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex([0x00, 0x0f, 0xa5, 0xff]), "000fa5ff")
    }

    /// A real file against its published SHA-256 (CIFAR-10 test_batch.bin, see /work/shared/cifar10/SOURCE.md).
    func testRealFileMatchesSha256sum() throws {
        let path = ProcessInfo.processInfo.environment["MIXSHARDS_CIFAR10"].map { $0 + "/test_batch.bin" }
            ?? "/work/shared/cifar10/test_batch.bin"
        guard FileIO.exists(path) else { throw XCTSkip("\(path) not present") }
        let file = try MappedFile(path)
        // `bytes` is only valid while `file` is alive.
        let digest = withExtendedLifetime(file) { SHA256.hexDigest(of: file.bytes) }
        XCTAssertEqual(digest, "8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b")
    }

    /// Throughput, only with MIXSHARDS_BENCH=1 (meaningful in release builds:
    /// `MIXSHARDS_BENCH=1 swift test -c release --filter SHA256Tests/testBenchmark`).
    func testBenchmark() throws {
        guard ProcessInfo.processInfo.environment["MIXSHARDS_BENCH"] == "1" else {
            throw XCTSkip("set MIXSHARDS_BENCH=1 to run")
        }
        let path = "/work/shared/cifar10/data_batch_1.bin"
        guard FileIO.exists(path) else { throw XCTSkip("\(path) not present") }
        let file = try MappedFile(path)
        let repeats = 5
        let (count, dt) = withExtendedLifetime(file) { () -> (Int, Double) in
            let bytes = file.bytes
            _ = SHA256.hash(bytes) // warm the page cache
            let t0 = Progress.now()
            for _ in 0 ..< repeats { _ = SHA256.hash(bytes) }
            return (bytes.count, Progress.now() - t0)
        }
        let mbps = Double(count * repeats) / dt / 1e6
        print(String(format: "SHA256: %.1f MB/s over %d × %d bytes", mbps, repeats, count))
    }
}
