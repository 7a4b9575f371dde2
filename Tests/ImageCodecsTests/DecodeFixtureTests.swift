import ImageCodecs
import MixCore
import XCTest

/// Every decode fixture (`scripts/make-image-fixtures.py`) against the pixels Pillow
/// gives for it, `ImageOps.exif_transpose(Image.open(f)).convert("RGB")`: each PNG
/// colour type and bit depth, palettes with and without tRNS, Adam7, baseline, 4:4:4,
/// progressive, grey, CMYK and YCCK JPEG, EXIF orientations 1–8 (JPEG, PNG eXIf, WebP),
/// WebP lossy, lossless and with alpha — and the bad files, each refused in one line.
final class DecodeFixtureTests: XCTestCase {
    func testEveryGoodFixtureDecodesToPillowsPixelsExactly() throws {
        let decoder = try ImageDecoder()
        var checked = 0
        for entry in try Fixtures.entries("decode") where entry["error"] as? Bool != true {
            let file = try XCTUnwrap(entry["file"] as? String)
            let image = try Fixtures.bytes("decode/" + file).withUnsafeBytes { try decoder.decode($0, name: file) }
            // 16-bit grey is the one file where mixprep departs from Pillow (which clips
            // it to min(v, 255)): it keeps the high byte, as Pillow does for 16-bit RGB.
            let expected = try Fixtures.bytes("decode/" + ((entry["mixprep_expected"] ?? entry["expected"]) as! String))
            XCTAssertEqual(image.width, entry["width"] as? Int, file)
            XCTAssertEqual(image.height, entry["height"] as? Int, file)
            XCTAssertEqual(image.chw, expected, file)
            checked += 1
        }
        XCTAssertEqual(checked, 40)
    }

    func testGreyOf16BitsKeepsTheHighByteWherePillowClips() throws {
        let entry = try XCTUnwrap(try Fixtures.entries("decode").first { $0["file"] as? String == "png-grey-16bit.png" })
        let pillow = try Fixtures.bytes("decode/" + (entry["expected"] as! String))
        let mine = try Fixtures.bytes("decode/" + (entry["mixprep_expected"] as! String))
        XCTAssertGreaterThan(Fixtures.difference(pillow, mine).mean, 100)  // Pillow's is mostly white
    }

    func testBadFilesAreOneLineErrorsNamingTheFileAndTheReason() throws {
        let decoder = try ImageDecoder()
        let expected: [String: String] = [
            "bad-jpeg-truncated-half.jpg": "truncated JPEG (no end-of-image marker): Bogus Huffman table definition",
            "bad-png-idat-truncated.png": "corrupt PNG: ",
            "bad-png-file-cut-in-idat.png": "corrupt PNG: the file ends before the image data does (truncated)",
            "bad-png-idat-bad-crc.png": "corrupt PNG: IDAT: CRC error",
            "not-an-image.jpg": "not a JPEG, PNG or WebP image (unknown first bytes)",
            "empty.png": "the file is empty",
        ]
        var seen = 0
        for entry in try Fixtures.entries("decode") where entry["error"] as? Bool == true {
            let file = try XCTUnwrap(entry["file"] as? String)
            XCTAssertThrowsError(try Fixtures.bytes("decode/" + file).withUnsafeBytes { try decoder.decode($0, name: "dir/" + file) }) {
                let message = "\($0)"
                XCTAssertTrue(message.hasPrefix("dir/\(file): " + (expected[file] ?? "?")), message)
                XCTAssertFalse(message.contains("\n"), message)
            }
            seen += 1
        }
        XCTAssertEqual(seen, expected.count)
        // Cut inside the scan data, libjpeg finishes with grey and warns; that is an error too.
        let whole = try Fixtures.bytes("resize/src-256x192.jpg")
        XCTAssertThrowsError(try Array(whole.prefix(whole.count * 9 / 10)).withUnsafeBytes { try decoder.decode($0, name: "cut.jpg") }) {
            XCTAssertEqual("\($0)", "cut.jpg: truncated JPEG: Premature end of JPEG file")
        }
    }

    /// Extensions do not matter: what a file holds does (as for PIL).
    func testFormatIsSniffedFromTheBytes() throws {
        let png = try Fixtures.bytes("decode/png-rgb-8bit.png")
        XCTAssertEqual(png.withUnsafeBytes { ImageFormat.sniff($0) }, .png)
        XCTAssertEqual(try Fixtures.bytes("decode/PHOTO.JPEG").withUnsafeBytes { ImageFormat.sniff($0) }, .jpeg)
        XCTAssertEqual(try Fixtures.bytes("decode/webp-lossy.webp").withUnsafeBytes { ImageFormat.sniff($0) }, .webp)
        XCTAssertNil([UInt8]("GIF89a".utf8).withUnsafeBytes { ImageFormat.sniff($0) })
    }
}
