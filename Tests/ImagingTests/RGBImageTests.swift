import XCTest
@testable import Imaging

final class RGBImageTests: XCTestCase {
    func testFillAndFillRectClip() {
        var image = RGBImage(width: 6, height: 4, background: RGBColor(9, 9, 9))
        XCTAssertEqual(image.pixels.count, 6 * 4 * 3)
        XCTAssertEqual(image[5, 3], RGBColor(9, 9, 9))
        image.fillRect(x: 4, y: -2, width: 10, height: 4, .white)  // clipped to x 4..<6, y 0..<2
        XCTAssertEqual(image[4, 0], .white)
        XCTAssertEqual(image[5, 1], .white)
        XCTAssertEqual(image[3, 0], RGBColor(9, 9, 9))
        XCTAssertEqual(image[4, 2], RGBColor(9, 9, 9))
        image.fill(.black)
        XCTAssertTrue(image.pixels.allSatisfy { $0 == 0 })
        image.strokeRect(x: 1, y: 1, width: 4, height: 3, RGBColor(hex: 0x102030))
        XCTAssertEqual(image[1, 1], RGBColor(0x10, 0x20, 0x30))
        XCTAssertEqual(image[4, 3], RGBColor(0x10, 0x20, 0x30))
        XCTAssertEqual(image[2, 2], .black)  // interior untouched
    }

    func testBlitPlanarScale3PlacesPixels() {
        // 2×2 RGB source, planar: R plane, G plane, B plane.
        let chw: [UInt8] = [
            10, 11, 12, 13,  // R
            20, 21, 22, 23,  // G
            30, 31, 32, 33,  // B
        ]
        var image = RGBImage(width: 10, height: 9, background: .white)
        image.blitPlanar(chw, channels: 3, height: 2, width: 2, x: 1, y: 2, scale: 3)
        for sy in 0..<2 {
            for sx in 0..<2 {
                let s = sy * 2 + sx
                let expected = RGBColor(chw[s], chw[4 + s], chw[8 + s])
                for dy in 0..<3 {
                    for dx in 0..<3 {
                        XCTAssertEqual(image[1 + sx * 3 + dx, 2 + sy * 3 + dy], expected, "(\(sx),\(sy)) +(\(dx),\(dy))")
                    }
                }
            }
        }
        // Nothing outside [1, 7) × [2, 8).
        for y in 0..<9 {
            for x in 0..<10 where !(1..<7).contains(x) || !(2..<8).contains(y) {
                XCTAssertEqual(image[x, y], .white, "(\(x),\(y))")
            }
        }
    }

    func testBlitPlanarGreyAndClipping() {
        let grey: [UInt8] = [1, 2, 3, 4, 5, 6]  // 3 wide, 2 high
        var image = RGBImage(width: 4, height: 3, background: .white)
        image.blitPlanar(grey[...], channels: 1, height: 2, width: 3, x: -1, y: 1, scale: 2)
        // Destination x -1..<5 clipped to 0..<4; source column = (x + 1) / 2.
        XCTAssertEqual(image[0, 1], RGBColor(grey: 1))
        XCTAssertEqual(image[1, 1], RGBColor(grey: 2))
        XCTAssertEqual(image[2, 2], RGBColor(grey: 2))
        XCTAssertEqual(image[3, 2], RGBColor(grey: 3))
        XCTAssertEqual(image[0, 0], .white)
        // Rows 1..<5 clipped to 1..<3: only the first source row is visible.
        XCTAssertEqual(image[3, 1], RGBColor(grey: 3))
        // Entirely outside: no change, no crash.
        let before = image
        image.blitPlanar(grey, channels: 1, height: 2, width: 3, x: 100, y: -50, scale: 4)
        XCTAssertEqual(image, before)
    }

    func testPlanarRoundTrip() {
        let chw: [UInt8] = Array(0..<24)  // 3 × 2 × 4
        let image = RGBImage(planar: chw, channels: 3, height: 2, width: 4)
        XCTAssertEqual(image[1, 0], RGBColor(1, 9, 17))
        XCTAssertEqual(image.planarRGB(), chw)
    }

    /// The bounding box of pixels that differ from `background`.
    func inkBox(_ image: RGBImage, background: RGBColor) -> (minX: Int, minY: Int, maxX: Int, maxY: Int, count: Int)? {
        var box: (Int, Int, Int, Int, Int)?
        for y in 0..<image.height {
            for x in 0..<image.width where image[x, y] != background {
                if let b = box {
                    box = (min(b.0, x), min(b.1, y), max(b.2, x), max(b.3, y), b.4 + 1)
                } else {
                    box = (x, y, x, y, 1)
                }
            }
        }
        return box.map { (minX: $0.0, minY: $0.1, maxX: $0.2, maxY: $0.3, count: $0.4) }
    }

    func testTextDrawsInsideItsBoxAndWidthMatches() throws {
        XCTAssertEqual(RGBImage.textWidth(""), 0)
        XCTAssertEqual(RGBImage.textWidth("A"), 5)
        XCTAssertEqual(RGBImage.textWidth("λ0.73 cat/dog"), 13 * 6 - 1)
        XCTAssertEqual(RGBImage.textWidth("Hi", scale: 3), (2 * 6 - 1) * 3)

        // "H" fills its left column, top and bottom rows; "λ" its right column: the ink box is the text box.
        for scale in 1...3 {
            let text = "Hi λ"
            var image = RGBImage(width: 80, height: 30, background: .white)
            let color = RGBColor(200, 0, 0)
            image.drawText(text, x: 5, y: 4, color: color, scale: scale)
            let box = try XCTUnwrap(inkBox(image, background: .white))
            XCTAssertEqual(box.minX, 5)
            XCTAssertEqual(box.minY, 4)
            XCTAssertEqual(box.maxX, 5 + RGBImage.textWidth(text, scale: scale) - 1)
            XCTAssertEqual(box.maxY, 4 + BitmapFont.capHeight(scale: scale) - 1)
            XCTAssertEqual(box.count % (scale * scale), 0)
            XCTAssertTrue(image.pixels.allSatisfy { $0 == 255 || $0 == 0 || $0 == 200 })
        }
    }

    func testDescendersStayInsideTheLineHeight() throws {
        var image = RGBImage(width: 80, height: 30, background: .white)
        image.drawText("gjpqy", x: 2, y: 3, color: .black, scale: 2)
        let box = try XCTUnwrap(inkBox(image, background: .white))
        XCTAssertEqual(box.maxY, 3 + BitmapFont.height(scale: 2) - 1)
        XCTAssertGreaterThan(box.maxY, 3 + BitmapFont.capHeight(scale: 2) - 1)
        XCTAssertEqual(box.maxX, 2 + RGBImage.textWidth("gjpqy", scale: 2) - 1)
    }

    func testEveryGlyphHasInkExceptSpace() {
        for code in 33...126 {
            let c = Character(Unicode.Scalar(UInt8(code)))
            XCTAssertTrue(BitmapFont.columns(for: c).contains { $0 != 0 }, "glyph \(c)")
            let limit: UInt16 = "gjpqy".contains(c) ? 0x200 : 0x80  // 9 rows with descender, else 7
            XCTAssertTrue(BitmapFont.columns(for: c).allSatisfy { $0 < limit }, "glyph \(c) too tall")
        }
        XCTAssertTrue(BitmapFont.columns(for: " ").allSatisfy { $0 == 0 })
        XCTAssertNotEqual(BitmapFont.columns(for: "λ"), BitmapFont.columns(for: "?"))
        XCTAssertEqual(BitmapFont.columns(for: "€"), BitmapFont.columns(for: "?"))
        // Distinct letters have distinct glyphs.
        let letters = (65...90).map { Array(BitmapFont.columns(for: Character(Unicode.Scalar(UInt8($0))))) }
        XCTAssertEqual(Set(letters.map { $0.description }).count, 26)
    }

    func testTruncation() {
        XCTAssertEqual(BitmapFont.truncated("cat", toWidth: 17), "cat")
        let cut = BitmapFont.truncated("airplane/automobile", toWidth: 47)
        XCTAssertEqual(cut, "airplan…")
        XCTAssertLessThanOrEqual(BitmapFont.width(of: cut), 47)
        XCTAssertEqual(BitmapFont.truncated("abc", toWidth: 3), "")
    }
}
