import Imaging
import MixCore
import XCTest

/// A PNG header may claim any size; what it may make a reader allocate is bounded (mixfuzz target png).
final class PNGBoundTests: XCTestCase {
    /// CRC-32 (PNG chunks), bit by bit.
    static func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return ~c
    }

    /// A valid small PNG whose IHDR says `width × height`, its CRC recomputed.
    static func claiming(width: UInt32, height: UInt32) throws -> [UInt8] {
        var png = try PNG.encode(RGBImage(width: 4, height: 2, pixels: Array(repeating: 9, count: 24)))
        for (at, v) in [(16, width), (20, height)] {
            for i in 0..<4 { png[at + i] = UInt8(truncatingIfNeeded: v >> (24 - 8 * UInt32(i))) }
        }
        let crc = crc32(png[12..<29])
        for i in 0..<4 { png[29 + i] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * UInt32(i))) }
        return png
    }

    func testHugeClaimedSizeIsRefusedBeforeAllocating() throws {
        // 5000 × 5000 RGB is 75 MB: over the 64 MiB bound, refused from the header alone
        // (the bound used to be 1 GiB, which a 70-byte file could make a reader allocate and zero).
        XCTAssertEqual(PNG.maxDecodedBytes, 64 << 20)
        XCTAssertThrowsError(try PNG.decode(try Self.claiming(width: 5000, height: 5000), name: "big.png")) {
            XCTAssertEqual("\($0)", "big.png: PNG of 5000×5000 pixels is too large to decode")
        }
        // Within the bound, the missing pixel data is the error.
        XCTAssertThrowsError(try PNG.decode(try Self.claiming(width: 4000, height: 4000), name: "short.png")) {
            XCTAssertTrue("\($0)".hasPrefix("short.png: corrupt PNG: "), "\($0)")
        }
    }
}
