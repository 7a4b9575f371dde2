import ImageCodecs
import XCTest
import MixCore
@testable import Imaging

final class ContactSheetTests: XCTestCase {
    static let cifar = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    static func oneHot(_ k: Int, _ count: Int = 10) -> [Float] {
        (0..<count).map { $0 == k ? 1 : 0 }
    }

    /// A recognisable 32×32 synthetic picture for class `k`: a tinted gradient with a shape.
    static func picture(_ k: Int, size: Int = 32) -> [UInt8] {
        let plane = size * size
        var chw = [UInt8](repeating: 0, count: 3 * plane)
        let tint = Palette.color(forClass: (k + 3) % 10)
        let ink = Palette.color(forClass: k)
        let c = Double(size - 1) / 2
        for y in 0..<size {
            for x in 0..<size {
                let t = Double(y) / Double(size - 1)
                var rgb = [tint.r, tint.g, tint.b].map { UInt8(Double($0) * (0.35 + 0.5 * t) + 110 * (1 - t)) }
                let dx = Double(x) - c, dy = Double(y) - c
                let inside: Bool
                switch k % 4 {
                case 0: inside = dx * dx + dy * dy < 100
                case 1: inside = abs(dx) < 9 && abs(dy) < 7
                case 2: inside = abs(dx) + abs(dy) < 11
                default: inside = abs(dx) < 3 || abs(dy) < 3
                }
                if inside { rgb = [ink.r, ink.g, ink.b] }
                for ch in 0..<3 { chw[ch * plane + y * size + x] = rgb[ch] }
            }
        }
        return chw
    }

    static func mixed(_ a: Int, _ b: Int, lambda: Float) -> ContactTile {
        let pa = picture(a), pb = picture(b)
        let pixels = zip(pa, pb).map { UInt8((lambda * Float($0) + (1 - lambda) * Float($1)).rounded()) }
        var label = [Float](repeating: 0, count: 10)
        label[a] += lambda
        label[b] += 1 - lambda
        return ContactTile(image: pixels, channels: 3, height: 32, width: 32, label: label, lambda: lambda)
    }

    func testSummaryLine() {
        let names = Self.cifar
        XCTAssertEqual(tileSummary(Self.mixed(3, 5, lambda: 0.73), classNames: names), "λ0.73 cat/dog")
        // The primary (mass λ) is named first even when it is the lighter class.
        XCTAssertEqual(tileSummary(Self.mixed(5, 3, lambda: 0.2), classNames: names), "λ0.20 dog/cat")
        // Too long for 16 characters: both names shortened, the shorter kept whole.
        let long = Self.mixed(0, 1, lambda: 0.73)
        XCTAssertEqual(tileSummary(long, classNames: names), "λ0.73 airplane/automobile")
        XCTAssertEqual(tileSummary(long, classNames: names, maxCharacters: 16), "λ0.73 airpl/auto")
        XCTAssertEqual(tileSummary(Self.mixed(4, 0, lambda: 0.6), classNames: names, maxCharacters: 16),
                       "λ0.60 deer/airpl")
        XCTAssertEqual(tileSummary(Self.mixed(3, 5, lambda: 0.5), classNames: names, maxCharacters: 16),
                       "λ0.50 cat/dog")
        XCTAssertEqual(tileSummary(long, classNames: names, maxCharacters: 8), "λ0.73 a…")
        // Names that shorten to the same prefix: the primary alone.
        let numbered = (0..<10).map { "class-\($0)" }
        XCTAssertEqual(tileSummary(Self.mixed(3, 7, lambda: 0.6), classNames: numbered, maxCharacters: 16),
                       "λ0.60 class-3/…")
        XCTAssertEqual(tileSummary(Self.mixed(3, 7, lambda: 0.6), classNames: numbered, maxCharacters: 14),
                       "λ0.60 class-3…")
        let plain = ContactTile(image: Self.picture(3), channels: 3, height: 32, width: 32, label: Self.oneHot(3))
        XCTAssertEqual(tileSummary(plain, classNames: names), "cat")
        // Mixed with its own class: only one class to name.
        XCTAssertEqual(tileSummary(Self.mixed(3, 3, lambda: 0.6), classNames: names), "λ0.60 cat")
        // Label smoothing alone does not name a second class.
        let smooth = (0..<10).map { $0 == 2 ? Float(0.91) : Float(0.01) }
        var smoothTile = plain
        smoothTile.label = smooth
        smoothTile.lambda = 1
        XCTAssertEqual(tileSummary(smoothTile, classNames: names), "λ1.00 bird")
        XCTAssertEqual(formatFixed2(0.006), "0.01")
        XCTAssertEqual(formatFixed2(0.004), "0.00")
        XCTAssertEqual(formatFixed2(0.999), "1.00")
        XCTAssertEqual(formatFixed2(0.07), "0.07")
    }

    func testBarSegmentsAreProportional() {
        XCTAssertEqual(labelBarSegments([0.25, 0.75, 0], width: 96), [
            LabelBarSegment(classIndex: 1, start: 0, end: 72),
            LabelBarSegment(classIndex: 0, start: 72, end: 96),
        ])
        XCTAssertEqual(labelBarSegments([0.2, 0.5, 0.3], width: 96), [
            LabelBarSegment(classIndex: 1, start: 0, end: 48),
            LabelBarSegment(classIndex: 2, start: 48, end: 77),
            LabelBarSegment(classIndex: 0, start: 77, end: 96),
        ])
        XCTAssertEqual(labelBarSegments([0, 0, 1], width: 10), [LabelBarSegment(classIndex: 2, start: 0, end: 10)])
        XCTAssertEqual(labelBarSegments([0, 0], width: 10), [])
    }

    func testSheetDimensionsAndBarPixels() throws {
        let tiles = [
            Self.mixed(0, 1, lambda: 0.25),  // bar: automobile 75 %, airplane 25 %
            ContactTile(image: Self.picture(4), channels: 3, height: 32, width: 32, label: Self.oneHot(4)),
            Self.mixed(2, 9, lambda: 0.5),
            ContactTile(image: [UInt8](repeating: 77, count: 32 * 32), channels: 1, height: 32, width: 32,
                        label: [0.2, 0.5, 0.3, 0, 0, 0, 0, 0, 0, 0], lambda: 0.5),
            Self.mixed(7, 8, lambda: 0.9),
        ]
        let sheet = makeContactSheet(tiles: tiles, classNames: Self.cifar, columns: 3, scale: 3, title: "test sheet")
        let layout = ContactSheetLayout(tiles: tiles, classNames: Self.cifar, columns: 3, scale: 3, title: "test sheet")

        // 3 columns of 96-pixel tiles, 14-pixel gaps and margins; 2 rows.
        XCTAssertEqual(layout.cellWidth, 96)
        XCTAssertEqual(layout.columns, 3)
        XCTAssertEqual(layout.rows, 2)
        XCTAssertEqual(sheet.width, 14 + 3 * 96 + 2 * 14 + 14)
        XCTAssertEqual(sheet.width, layout.width)
        XCTAssertEqual(sheet.height, layout.height)
        XCTAssertEqual(sheet.pixels.count, sheet.width * sheet.height * 3)
        XCTAssertGreaterThan(sheet.height, layout.gridTop + 2 * 96)

        // Tile 0 image: top-left source pixel, upscaled 3×.
        let (x0, y0) = layout.tileOrigin(0)
        let p = tiles[0].image
        for (dx, dy) in [(0, 0), (2, 2)] {
            XCTAssertEqual(sheet[x0 + dx, y0 + dy], RGBColor(p[0], p[1024], p[2048]))
        }
        // Tile 3 is grey.
        let (x3, y3) = layout.tileOrigin(3)
        XCTAssertEqual(sheet[x3 + 50, y3 + 50], RGBColor(grey: 77))

        // Tile 0 bar: automobile (tab10[1]) on [0, 72), airplane (tab10[0]) on [72, 96).
        let bar = layout.barRect(0)
        XCTAssertEqual(bar.width, 96)
        let mid = bar.y + bar.height / 2
        for x in [0, 40, 71] { XCTAssertEqual(sheet[bar.x + x, mid], Palette.tab10[1], "x=\(x)") }
        for x in [72, 80, 95] { XCTAssertEqual(sheet[bar.x + x, mid], Palette.tab10[0], "x=\(x)") }
        XCTAssertEqual(sheet[bar.x + 10, bar.y], Palette.tab10[1])
        XCTAssertEqual(sheet[bar.x + 10, bar.y + bar.height - 1], Palette.tab10[1])
        // Count whole bar row: 72 vs 24 pixels.
        let row = (0..<96).map { sheet[bar.x + $0, mid] }
        XCTAssertEqual(row.filter { $0 == Palette.tab10[1] }.count, 72)
        XCTAssertEqual(row.filter { $0 == Palette.tab10[0] }.count, 24)

        // Tile 3 bar (second row): automobile 48, bird 29, airplane 19.
        let bar3 = layout.barRect(3)
        let row3 = (0..<96).map { sheet[bar3.x + $0, bar3.y + 1] }
        XCTAssertEqual(row3.filter { $0 == Palette.tab10[1] }.count, 48)
        XCTAssertEqual(row3.filter { $0 == Palette.tab10[2] }.count, 29)
        XCTAssertEqual(row3.filter { $0 == Palette.tab10[0] }.count, 19)
        XCTAssertEqual(row3[47], Palette.tab10[1])
        XCTAssertEqual(row3[48], Palette.tab10[2])
        XCTAssertEqual(row3[77], Palette.tab10[0])

        // Unmixed tile 1: the whole bar is deer.
        let bar1 = layout.barRect(1)
        XCTAssertTrue((0..<96).allSatisfy { sheet[bar1.x + $0, bar1.y + 2] == Palette.tab10[4] })

        // Legend: one swatch per class in its colour.
        XCTAssertEqual(layout.legendItems.count, 10)
        for item in layout.legendItems {
            let c = sheet[item.x + layout.swatchSide / 2, item.y + layout.swatchSide / 2]
            XCTAssertEqual(c, Palette.color(forClass: item.classIndex))
            XCTAssertLessThan(item.y + layout.swatchSide, sheet.height)
        }
        // Caption text is drawn under tile 0 (some ink pixels in its line).
        let (cx, cy) = layout.captionOrigin(0, line: 0)
        var ink = 0
        for y in cy..<(cy + 7) { for x in cx..<(cx + 96) where sheet[x, y] == ContactSheetLayout.ink { ink += 1 } }
        XCTAssertGreaterThan(ink, 20)
    }

    func testPaletteBeyondTen() {
        let colors = Palette.colors(count: 40)
        XCTAssertEqual(Array(colors.prefix(10)), Palette.tab10)
        XCTAssertEqual(colors[0], RGBColor(hex: 0x1F77B4))
        XCTAssertEqual(Set(colors).count, 40)
        XCTAssertEqual(Palette.color(forClass: 23), colors[23])
    }

    /// `ContactSheetSize.of` is the size `makeContactSheet` draws, known before any tile exists
    /// (what `mixprep export` checks against `maxPixels`); a long class name widens the sheet to 480 pixels at most.
    func testSizeIsKnownBeforeDrawing() {
        let names = (0..<10).map { "class \($0)" }
        for (count, columns, scale, caption, classNames) in [(1, 8, 1, "", names), (24, 8, 3, "#1", names), (7, 3, 2, "x", names),
                                                             (5, 100, 4, "", names), (2, 8, 1, "#2", [String(repeating: "long", count: 64)])] {
            let tiles = (0..<count).map { i in
                ContactTile(image: [UInt8](repeating: UInt8(i), count: 3 * 8 * 6), channels: 3, height: 8, width: 6,
                            label: Self.oneHot(i % 10), lambda: nil, caption: caption)
            }
            let title = "sheet of \(count)"
            let sheet = makeContactSheet(tiles: tiles, classNames: classNames, columns: columns, scale: scale, title: title)
            let size = ContactSheetSize.of(tileCount: count, tileWidth: 6, tileHeight: 8, captions: !caption.isEmpty, labelClasses: 10,
                                           classNames: classNames, columns: columns, scale: scale, title: title)
            XCTAssertEqual(size.width, sheet.width, "\(count) tiles, \(columns) columns, scale \(scale)")
            XCTAssertEqual(size.height, sheet.height, "\(count) tiles, \(columns) columns, scale \(scale)")
            XCTAssertEqual(ContactSheetSize.pixels(size), sheet.width * sheet.height)
        }
        let long = ContactSheetSize.of(tileCount: 1, tileWidth: 6, tileHeight: 8, captions: false, labelClasses: 2,
                                       classNames: ["a", String(repeating: "b", count: 256)], columns: 1, scale: 1, title: "")
        XCTAssertEqual(long.width, 480 + 2 * 14)
        XCTAssertNil(ContactSheetSize.pixels((Int.max / 2, 3)))
    }

    func testEdgeCasesDoNotCrash() {
        let empty = makeContactSheet(tiles: [], classNames: [], columns: 4, scale: 2, title: "")
        XCTAssertGreaterThan(empty.width, 0)
        let tiny = ContactTile(image: [1, 2, 3], channels: 3, height: 1, width: 1, label: [], lambda: nil,
                               caption: "a very long caption that cannot possibly fit")
        let sheet = makeContactSheet(tiles: [tiny, tiny], classNames: ["x"], columns: 8, scale: 1,
                                     title: String(repeating: "long title ", count: 30))
        XCTAssertEqual(sheet.pixels.count, sheet.width * sheet.height * 3)
    }

    /// Writes a sample sheet for eyeballing when MIXSHARDS_CONTACT_SAMPLE names an output path.
    func testWriteSampleSheetIfRequested() throws {
        guard let path = ProcessInfo.processInfo.environment["MIXSHARDS_CONTACT_SAMPLE"] else { return }
        var tiles: [ContactTile] = []
        let lambdas: [Float] = [0.73, 0.12, 0.55, 0.91, 0.38, 0.66, 0.05, 0.84]
        for i in 0..<24 {
            let a = (i * 7) % 10, b = (i * 3 + 4) % 10
            var tile: ContactTile
            if i % 3 == 1 {
                tile = ContactTile(image: Self.picture(a), channels: 3, height: 32, width: 32, label: Self.oneHot(a))
            } else {
                tile = Self.mixed(a, b, lambda: lambdas[i % lambdas.count])
            }
            tile.caption = "#\(1000 + i * 37)"
            tiles.append(tile)
        }
        let sheet = makeContactSheet(tiles: tiles, classNames: Self.cifar, columns: 8, scale: 3,
                                     title: "cifar10 train epoch 0 - shard-00000 (mixup p=0.2 α=0.2)")
        try PNG.write(sheet, to: path)
    }
}
