import ImageCodecs
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
        // Beyond Pillow's decompression-bomb limit: refused from the header alone.
        XCTAssertEqual(ImageLimits.maxPixels, 89_478_485)
        XCTAssertThrowsError(try PNG.decode(try Self.claiming(width: 10_000, height: 10_000), name: "big.png")) {
            XCTAssertEqual("\($0)", "big.png: PNG is 10,000×10,000 pixels, more than the 89,478,485 mixprep decodes (Pillow's decompression-bomb limit)")
        }
        // Within it, a file too short to hold the scanlines (deflate expands at most 1032:1) is
        // refused before the 75 MB pixel buffer is allocated (the bound used to be 64 MiB of pixels).
        let short = try Self.claiming(width: 5000, height: 5000)
        XCTAssertThrowsError(try PNG.decode(short, name: "short.png")) {
            XCTAssertEqual("\($0)", "short.png: truncated PNG: \(short.count) bytes cannot hold the image data of 5000×5000 pixels")
        }
        // A claim the file's length allows gets as far as libpng, which finds the data missing.
        XCTAssertThrowsError(try PNG.decode(try Self.claiming(width: 40, height: 40), name: "cut.png")) {
            XCTAssertTrue("\($0)".hasPrefix("cut.png: corrupt PNG: "), "\($0)")
        }
    }
}
