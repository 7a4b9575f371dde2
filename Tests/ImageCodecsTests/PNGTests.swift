import ImageCodecs
import XCTest
import MixCore
@testable import ImageCodecs
import Imaging

final class PNGTests: XCTestCase {
    /// A deterministic pseudo-random byte sequence (64-bit LCG, high byte).
    static func noise(count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
    }

    /// Asserts that `body` throws a `MixError` whose message contains every string in `needles`.
    func assertMixError(_ needles: [String], file: StaticString = #filePath, line: UInt = #line,
                        _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("expected a MixError", file: file, line: line)
        } catch let error as MixError {
            for needle in needles {
                XCTAssertTrue(error.message.contains(needle), "\"\(error.message)\" lacks \"\(needle)\"",
                              file: file, line: line)
            }
            XCTAssertFalse(error.message.contains("\n"), "error is not one line: \(error.message)",
                           file: file, line: line)
        } catch {
            XCTFail("expected a MixError, got \(error)", file: file, line: line)
        }
    }

    func testRGBRoundTripIsExact() throws {
        let (w, h) = (7, 5)  // odd sizes exercise row strides
        let pixels = Self.noise(count: w * h * 3, seed: 1)
        let image = RGBImage(width: w, height: h, pixels: pixels)
        let png = try PNG.encode(image)
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let decoded = try PNG.decode(png, name: "roundtrip.png")
        XCTAssertEqual(decoded.width, w)
        XCTAssertEqual(decoded.height, h)
        XCTAssertEqual(decoded.channels, 3)
        XCTAssertEqual(decoded.chw, image.planarRGB())
        // Planar layout: R plane first, then G, then B.
        XCTAssertEqual(decoded.chw[0], pixels[0])
        XCTAssertEqual(decoded.chw[w * h], pixels[1])
        XCTAssertEqual(decoded.chw[2 * w * h + 1], pixels[5])
        XCTAssertEqual(RGBImage(planar: decoded.chw, channels: 3, height: h, width: w), image)
    }

    func testGreyPNGDecodesToEqualChannels() throws {
        let (w, h) = (4, 3)
        let grey: [UInt8] = [0, 1, 2, 3, 64, 100, 127, 128, 200, 253, 254, 255]
        let png = try PNG.encodeGrey(grey, width: w, height: h)
        let decoded = try PNG.decode(png, name: "grey.png")
        XCTAssertEqual(decoded.width, w)
        XCTAssertEqual(decoded.height, h)
        let plane = w * h
        XCTAssertEqual(Array(decoded.chw[0..<plane]), grey)
        XCTAssertEqual(Array(decoded.chw[plane..<2 * plane]), grey)
        XCTAssertEqual(Array(decoded.chw[2 * plane..<3 * plane]), grey)
    }

    func testPaletteAnd16BitAndAlphaPNGsDecodeToRGB() throws {
        // 2×2 palette image (red, green / blue, white), built by hand.
        let palette: [UInt8] = [
            0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
            0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x03, 0x00, 0x00, 0x00, 0x45, 0x68, 0xFD,
            0x16, 0x00, 0x00, 0x00, 0x0C, 0x50, 0x4C, 0x54, 0x45, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0x00, 0x00,
            0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFB, 0x00, 0x60, 0xF6, 0x00, 0x00, 0x00, 0x0E, 0x49, 0x44, 0x41,
            0x54, 0x78, 0x9C, 0x63, 0x60, 0x60, 0x64, 0x60, 0x62, 0x06, 0x00, 0x00, 0x11, 0x00, 0x07, 0x9E,
            0xA2, 0x2A, 0x12, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
        ]
        let p = try PNG.decode(palette, name: "palette.png")
        XCTAssertEqual(p.width, 2)
        XCTAssertEqual(p.height, 2)
        XCTAssertEqual(p.chw, [255, 0, 0, 255, /* G */ 0, 255, 0, 255, /* B */ 0, 0, 255, 255])

        // 3×1 16-bit grey without gamma information: 0x0000, 0x8080, 0xFFFF.
        // Reduced to the high byte (as PIL reads 16-bit RGB), so 0x8080 → 0x80.
        let grey16: [UInt8] = [
            0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
            0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x10, 0x00, 0x00, 0x00, 0x00, 0x6E, 0x1B, 0x97,
            0x2B, 0x00, 0x00, 0x00, 0x0F, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x60, 0x60, 0x68, 0x68,
            0xF8, 0xFF, 0x1F, 0x00, 0x06, 0x84, 0x02, 0xFF, 0x46, 0x60, 0xDE, 0xB6, 0x00, 0x00, 0x00, 0x00,
            0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
        ]
        let g = try PNG.decode(grey16, name: "grey16.png")
        XCTAssertEqual(g.width, 3)
        XCTAssertEqual(g.chw, [0, 128, 255, 0, 128, 255, 0, 128, 255])

        // RGBA: alpha is dropped, not composited: a transparent pixel keeps its colour (PIL's convert("RGB")).
        let rgba: [UInt8] = [10, 20, 30, 255, 200, 100, 50, 0]
        let encoded = try PNG.encodeInterleaved(rgba, width: 2, height: 1, channels: 4, name: "rgba")
        let a = try PNG.decode(encoded, name: "rgba.png")
        XCTAssertEqual(a.chw, [10, 200, 20, 100, 30, 50])
    }

    func testGarbageTruncatedAndEmptyInputsThrowNamedErrors() throws {
        assertMixError(["empty.png"]) { _ = try PNG.decode([], name: "empty.png") }
        for seed in 0..<20 as Range<UInt64> {
            let junk = Self.noise(count: 1 + Int(seed) * 37, seed: seed)
            assertMixError(["junk-\(seed).png"]) { _ = try PNG.decode(junk, name: "junk-\(seed).png") }
        }
        // The signature alone, and a signature followed by garbage.
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        assertMixError(["sig.png"]) { _ = try PNG.decode(signature, name: "sig.png") }
        assertMixError(["sigjunk.png"]) {
            _ = try PNG.decode(signature + Self.noise(count: 300, seed: 99), name: "sigjunk.png")
        }

        let image = RGBImage(width: 16, height: 16, pixels: Self.noise(count: 16 * 16 * 3, seed: 5))
        let png = try PNG.encode(image)
        // Cuts inside the signature, the header and the image data. (libpng stops
        // once it has every row, so a file missing only its IEND chunk
        // still decodes; that is its documented leniency.)
        let dataEnd = png.count - 12 - 4  // IEND chunk, IDAT CRC
        for cut in [4, 9, 20, 33, 40, png.count / 2, dataEnd - 8, dataEnd - 1] {
            assertMixError(["cut-\(cut).png"]) { _ = try PNG.decode(Array(png.prefix(cut)), name: "cut-\(cut).png") }
        }
        XCTAssertEqual(try PNG.decode(Array(png.prefix(png.count - 12)), name: "no-iend.png").chw, image.planarRGB())
        // A flipped bit in the header fails its CRC.
        var flipped = png
        flipped[18] ^= 0x40
        assertMixError(["flipped.png", "CRC"]) { _ = try PNG.decode(flipped, name: "flipped.png") }
    }

    func testEverySingleByteCorruptionDecodesOrThrows() throws {
        // libpng may not notice damage inside pixel data (it stops before the
        // trailing checksums), but no corruption may crash or throw anything
        // other than a MixError naming the input.
        let image = RGBImage(width: 12, height: 10, pixels: Self.noise(count: 12 * 10 * 3, seed: 8))
        let png = try PNG.encode(image)
        var failures = 0
        for position in png.indices {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var damaged = png
                damaged[position] ^= mask
                do {
                    let d = try PNG.decode(damaged, name: "fuzz.png")
                    XCTAssertEqual(d.chw.count, 3 * d.width * d.height)
                } catch let error as MixError {
                    XCTAssertTrue(error.message.hasPrefix("fuzz.png: "), error.message)
                    failures += 1
                }
            }
        }
        XCTAssertGreaterThan(failures, png.count)  // most damage is detected
    }

    func testLibpngMessageIsIncluded() {
        // A truncated header: libpng's own wording is passed on.
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13]
        do {
            _ = try PNG.decode(signature, name: "short.png")
            XCTFail("expected an error")
        } catch let error as MixError {
            XCTAssertTrue(error.message.hasPrefix("short.png: "), error.message)
            XCTAssertGreaterThan(error.message.count, "short.png: not a valid PNG: ".count, error.message)
        } catch {
            XCTFail("unexpected \(error)")
        }
    }

    func testHugeClaimedDimensionsAreRefusedWithoutAllocating() throws {
        // A valid IHDR claiming 1,000,000 × 1,000,000 RGB pixels (3 TB decoded).
        var ihdr: [UInt8] = Array("IHDR".utf8)
        ihdr += [0x00, 0x0F, 0x42, 0x40, 0x00, 0x0F, 0x42, 0x40, 8, 2, 0, 0, 0]
        let crc = Self.crc32(ihdr)
        var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + ihdr
        bytes += [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)]
        assertMixError(["huge.png"]) { _ = try PNG.decode(bytes, name: "huge.png") }
    }

    func testWriteAndReadFile() throws {
        let dir = FileManager.default.temporaryDirectory.path + "/imaging-tests-\(getpid())"
        try FileIO.makeDirectories(dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var image = RGBImage(width: 9, height: 4, background: RGBColor(1, 2, 3))
        image.fillRect(x: 2, y: 1, width: 3, height: 2, RGBColor(250, 128, 7))
        let path = dir + "/out.png"
        try PNG.write(image, to: path)
        XCTAssertFalse(FileIO.exists(path + ".tmp"))
        let back = try PNG.read(path)
        XCTAssertEqual(RGBImage(planar: back.chw, channels: 3, height: back.height, width: back.width), image)

        assertMixError([dir + "/missing.png"]) { _ = try PNG.read(dir + "/missing.png") }
        try FileIO.writeAtomically(dir + "/empty.png", [UInt8]())
        assertMixError([dir + "/empty.png"]) { _ = try PNG.read(dir + "/empty.png") }
        try FileIO.writeAtomically(dir + "/text.png", "hello, not a png\n")
        assertMixError([dir + "/text.png"]) { _ = try PNG.read(dir + "/text.png") }
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
