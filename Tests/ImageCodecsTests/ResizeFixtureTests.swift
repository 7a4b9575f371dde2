import ImageCodecs
import MixCore
import XCTest

/// Every resize case of the fixtures against Pillow: `shorter` (cover, then centre crop)
/// and `stretch`, with bicubic, bilinear and Lanczos, upscaling, a non-square target, and
/// JPEGs large enough for the scaled decode (Pillow's `draft`), one of them stored
/// sideways (EXIF 6). libswscale is not Pillow: the same filters, other rounding. Measured:
/// 0.12–0.34 grey levels on average, at most 4 (the 16×16 stretches of 256×192 JPEGs).
final class ResizeFixtureTests: XCTestCase {
    func testEveryCaseIsWithinHalfAGreyLevelOfPillowOnAverage() throws {
        let decoder = try ImageDecoder()
        var report: [String] = []
        for entry in try Fixtures.entries("resize") {
            let file = try XCTUnwrap(entry["file"] as? String)
            let size = try XCTUnwrap(entry["size"] as? [Int])
            let mode = try XCTUnwrap(SizePolicy.Mode(rawValue: entry["resize"] as! String))
            let filter = try XCTUnwrap(ResampleFilter(rawValue: entry["resample"] as! String))
            let policy = SizePolicy(width: size[1], height: size[0], mode: mode, filter: filter)
            let prepared = try Fixtures.bytes("resize/" + file).withUnsafeBytes { try decoder.prepare($0, name: file, policy: policy) }
            let expected = try Fixtures.bytes("resize/" + (entry["expected"] as! String))
            let name = "\(file) \(mode) \(size) \(filter)"
            XCTAssertEqual(prepared.image.width, size[1], name)
            XCTAssertEqual(prepared.image.height, size[0], name)
            let oriented = try XCTUnwrap(entry["oriented_size"] as? [Int])
            XCTAssertEqual([prepared.originalWidth, prepared.originalHeight], oriented, name)
            guard prepared.image.chw.count == expected.count else { XCTFail(name); continue }
            let d = Fixtures.difference(prepared.image.chw, expected)
            report.append(String(format: "%@: mean %.3f, max %d", name, d.mean, d.max))
            XCTAssertLessThanOrEqual(d.mean, 0.5, name)
            XCTAssertLessThanOrEqual(d.max, 4, name)
        }
        XCTAssertEqual(report.count, 14)
        print(report.joined(separator: "\n"))
    }

    /// The arithmetic of `shorter`: the side that binds is exact, the other rounded half up, the crop centred.
    func testShorterSizeAndCropOrigin() {
        let square = SizePolicy(width: 32, height: 32, mode: .shorter)
        XCTAssertTrue(square.resizedSize(width: 80, height: 60) == (43, 32))  // 80·32/60 = 42.67
        XCTAssertTrue(square.cropOrigin(width: 43, height: 32) == (5, 0))
        XCTAssertTrue(square.resizedSize(width: 37, height: 53) == (32, 46))  // 53·32/37 = 45.84
        let wide = SizePolicy(width: 24, height: 16, mode: .shorter)
        XCTAssertTrue(wide.resizedSize(width: 37, height: 53) == (24, 34))    // covers 24×16: s = 24/37
        XCTAssertTrue(SizePolicy(width: 24, height: 16, mode: .stretch).resizedSize(width: 37, height: 53) == (24, 16))
    }

    /// The JPEG reduction is Pillow's `draft` to twice the resize: largest of 8, 4, 2, 1 that fits.
    func testJPEGReductionKeepsTwiceTheResizedSize() {
        let p = SizePolicy(width: 32, height: 32, mode: .shorter)
        XCTAssertEqual(p.jpegReduction(storedWidth: 256, storedHeight: 192, orientation: .up), 2)   // 43×32 → min(256/86, 192/64) = 2
        XCTAssertEqual(p.jpegReduction(storedWidth: 96, storedHeight: 96, orientation: .up), 1)     // 96 / 64 = 1
        XCTAssertEqual(p.jpegReduction(storedWidth: 640, storedHeight: 480, orientation: .up), 4)   // 43×32: min(640/86, 480/64) = 7 → 4
        XCTAssertEqual(p.jpegReduction(storedWidth: 4000, storedHeight: 3000, orientation: .up), 8)
        XCTAssertEqual(SizePolicy.asIs.jpegReduction(storedWidth: 4000, storedHeight: 3000, orientation: .up), 1)
        // Sideways: the request turns with the image.
        let tall = SizePolicy(width: 16, height: 24, mode: .stretch)
        XCTAssertEqual(tall.jpegReduction(storedWidth: 256, storedHeight: 192, orientation: .rotatedClockwise), 4)  // 48×32 stored: min(5, 6)
    }
}
