import Foundation
import MixCore
import XCTest
import ZlibKit

final class ZlibTests: XCTestCase {
    func testCRC32KnownAnswer() {
        XCTAssertEqual(Zlib.crc32(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(Zlib.crc32([]), 0)
        // Chained CRCs equal the CRC of the concatenation.
        let a = Array("hello ".utf8), b = Array("world".utf8)
        let chained = b.withUnsafeBytes { Zlib.crc32($0, seed: Zlib.crc32(a)) }
        XCTAssertEqual(chained, Zlib.crc32(a + b))
    }

    /// `crc32` (libdeflate's) equals zlib's own on lengths around its vector widths, with seeds.
    func testCRC32EqualsZlibs() {
        var rng = CounterRNG(seed: 5, stream: .test)
        let bytes = (0..<70_000).map { _ in UInt8(truncatingIfNeeded: rng.nextUInt32()) }
        bytes.withUnsafeBytes { all in
            for n in [1, 2, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 255, 256, 1000, 3112, 4096, 49_152, 70_000] {
                for offset in [0, 1, 3] where offset + n <= all.count {
                    let part = UnsafeRawBufferPointer(rebasing: all[offset..<(offset + n)])
                    let seed = rng.nextUInt32()
                    XCTAssertEqual(Zlib.crc32(part), Zlib.zlibCRC32(part), "\(n) bytes at \(offset)")
                    XCTAssertEqual(Zlib.crc32(part, seed: seed), Zlib.zlibCRC32(part, seed: seed), "\(n) bytes at \(offset), seeded")
                }
            }
        }
    }

    func testCompressDecompressEveryStrategy() throws {
        var rng = CounterRNG(seed: 3, stream: .test)
        let input = (0..<10_000).map { i in UInt8(truncatingIfNeeded: i % 7 == 0 ? rng.nextUInt32() : UInt32(i / 50)) }
        for strategy in DeflateStrategy.allCases {
            for level in [1, 6, 9] {
                let z = input.withUnsafeBytes { Zlib.compress($0, level: level, strategy: strategy) }
                XCTAssertEqual(z[0] & 0x0F, 8, "RFC 1950 header: deflate")
                XCTAssertEqual((Int(z[0]) << 8 | Int(z[1])) % 31, 0, "RFC 1950 header check bits")
                var out = [UInt8](repeating: 0, count: input.count)
                try z.withUnsafeBytes { src in try out.withUnsafeMutableBytes { try Zlib.decompress(src, into: $0) } }
                XCTAssertEqual(out, input, "\(strategy) level \(level)")
            }
        }
    }

    func testDecompressErrors() throws {
        let input = [UInt8](repeating: 42, count: 1000)
        let z = input.withUnsafeBytes { Zlib.compress($0, level: 1) }
        func inflate(_ bytes: [UInt8], size: Int) throws {
            var out = [UInt8](repeating: 0, count: size)
            try bytes.withUnsafeBytes { src in try out.withUnsafeMutableBytes { try Zlib.decompress(src, into: $0) } }
        }
        XCTAssertThrowsError(try inflate(z, size: 999)) { XCTAssertTrue("\($0)".contains("more than the expected 999"), "\($0)") }
        XCTAssertThrowsError(try inflate(z, size: 1001)) { XCTAssertTrue("\($0)".contains("inflated 1000 bytes, expected 1001"), "\($0)") }
        XCTAssertThrowsError(try inflate(Array(z.prefix(z.count - 3)), size: 1000)) { XCTAssertTrue("\($0)".contains("truncated"), "\($0)") }
        var bad = z
        bad[0] = 0x00
        XCTAssertThrowsError(try inflate(bad, size: 1000)) { XCTAssertTrue("\($0)".contains("damaged"), "\($0)") }
    }

    func testRawInflateSkippingAdler32() throws {
        let input = (0..<5000).map { UInt8(truncatingIfNeeded: $0 * 7 / 3) }
        let z = input.withUnsafeBytes { Zlib.compress($0, level: 1, strategy: .rle) }
        func inflate(_ bytes: [UInt8], size: Int) throws -> [UInt8] {
            var out = [UInt8](repeating: 0, count: size)
            try bytes.withUnsafeBytes { src in try out.withUnsafeMutableBytes { try Zlib.decompress(src, into: $0, checkAdler32: false) } }
            return out
        }
        XCTAssertEqual(try inflate(z, size: 5000), input)
        var badTrailer = z
        badTrailer[z.count - 1] ^= 1
        XCTAssertEqual(try inflate(badTrailer, size: 5000), input, "the Adler-32 trailer is not read")
        var badHeader = z
        badHeader[1] ^= 1
        XCTAssertThrowsError(try inflate(badHeader, size: 5000)) { XCTAssertTrue("\($0)".contains("bad header"), "\($0)") }
        XCTAssertThrowsError(try inflate(Array(z.prefix(z.count - 6)), size: 5000)) { XCTAssertTrue("\($0)".contains("truncated"), "\($0)") }
        XCTAssertThrowsError(try inflate(z + [0], size: 5000)) { XCTAssertTrue("\($0)".contains("trailing"), "\($0)") }
        XCTAssertThrowsError(try inflate(z, size: 4999)) { XCTAssertTrue("\($0)".contains("more than the expected"), "\($0)") }
    }

    func testGunzipReadsGzipFilesIncludingSeveralMembers() throws {
        let dir = NSTemporaryDirectory() + "mixshards-gz-\(getpid())"
        try FileIO.makeDirectories(dir)
        let part1 = Array("first member\n".utf8), part2 = Array(repeating: UInt8(7), count: 5000)
        for (name, bytes) in [("a", part1), ("b", part2)] {
            try FileIO.writeAtomically("\(dir)/\(name)", bytes)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/gzip")
            p.arguments = ["-f", "\(dir)/\(name)"]
            try p.run()
            p.waitUntilExit()
        }
        let joined = try FileIO.read("\(dir)/a.gz") + FileIO.read("\(dir)/b.gz")
        XCTAssertEqual(try Zlib.gunzip(joined, name: "ab.gz"), part1 + part2)
        XCTAssertThrowsError(try Zlib.gunzip([1, 2, 3, 4], name: "junk.gz")) { XCTAssertTrue("\($0)".hasPrefix("junk.gz: "), "\($0)") }
        // A cap on the inflated size: at the limit it reads, one byte under it refuses.
        XCTAssertEqual(try Zlib.gunzip(joined, name: "ab.gz", limit: 5013).count, 5013)
        XCTAssertThrowsError(try Zlib.gunzip(joined, name: "ab.gz", limit: 5012)) {
            XCTAssertEqual("\($0)", "ab.gz: inflates to more than 5012 bytes, the limit for this input (a gzip bomb?)")
        }
    }
}
