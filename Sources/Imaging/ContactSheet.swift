/// One sample on a contact sheet.
public struct ContactTile: Sendable {
    /// Planar (CHW) uint8 pixels: `channels × height × width` bytes.
    public var image: [UInt8]
    /// 1 (drawn grey) or 3 (RGB).
    public var channels: Int
    /// Rows of the source image.
    public var height: Int
    /// Columns of the source image.
    public var width: Int
    /// Soft label over the K classes (masses, normally summing to 1).
    public var label: [Float]
    /// The mixing coefficient of the primary source, or `nil` for an unmixed sample.
    public var lambda: Float?
    /// Extra text drawn on a second line under the tile (e.g. `"#1234"`); may be empty.
    public var caption: String

    /// A tile; `image` must hold exactly `channels × height × width` bytes.
    public init(image: [UInt8], channels: Int, height: Int, width: Int,
                label: [Float], lambda: Float? = nil, caption: String = "") {
        precondition(channels == 1 || channels == 3, "ContactTile: channels must be 1 or 3, got \(channels)")
        precondition(image.count == channels * height * width,
                     "ContactTile: \(image.count) bytes for \(channels)×\(height)×\(width)")
        self.image = image
        self.channels = channels
        self.height = height
        self.width = width
        self.label = label
        self.lambda = lambda
        self.caption = caption
    }
}

/// Draws a grid of samples with their soft labels.
///
/// Layout, top to bottom: `title`; `columns` tiles per row, each the image
/// upscaled `scale`× (nearest neighbour) in a thin frame, a proportional colour
/// bar of its label (one segment per class with mass, largest first, in the
/// class's `Palette` colour), a line `"λ0.73 cat/dog"` (λ and the two heaviest
/// classes; just `"cat"` when unmixed) and, if any tile has one, a second line
/// with the tile's `caption`; then a legend with a swatch and name per class.
/// Text that does not fit is cut with `…`.
public func makeContactSheet(tiles: [ContactTile], classNames: [String], columns: Int, scale: Int,
                             title: String) -> RGBImage {
    let layout = ContactSheetLayout(tiles: tiles, classNames: classNames, columns: columns, scale: scale,
                                    title: title)
    var sheet = RGBImage(width: layout.width, height: layout.height, background: ContactSheetLayout.background)
    let ts = layout.textScale

    // Title and a rule under it.
    let titleText = BitmapFont.truncated(title, toWidth: layout.width - 2 * layout.pad, scale: layout.titleScale)
    sheet.drawText(titleText, x: layout.pad, y: layout.pad, color: ContactSheetLayout.ink, scale: layout.titleScale)
    sheet.fillRect(x: layout.pad, y: layout.ruleY, width: layout.width - 2 * layout.pad, height: 1,
                   ContactSheetLayout.rule)

    for (i, tile) in tiles.enumerated() {
        let (x, y) = layout.tileOrigin(i)
        sheet.strokeRect(x: x - 1, y: y - 1, width: tile.width * scale + 2, height: tile.height * scale + 2,
                         ContactSheetLayout.frame)
        sheet.blitPlanar(tile.image, channels: tile.channels, height: tile.height, width: tile.width,
                         x: x, y: y, scale: scale)

        let bar = layout.barRect(i)
        sheet.strokeRect(x: bar.x - 1, y: bar.y - 1, width: bar.width + 2, height: bar.height + 2,
                         ContactSheetLayout.frame)
        sheet.fillRect(x: bar.x, y: bar.y, width: bar.width, height: bar.height, ContactSheetLayout.empty)
        for segment in labelBarSegments(tile.label, width: bar.width) {
            sheet.fillRect(x: bar.x + segment.start, y: bar.y, width: segment.end - segment.start,
                           height: bar.height, Palette.color(forClass: segment.classIndex))
        }

        let line1 = tileSummary(tile, classNames: classNames,
                                maxCharacters: (layout.cellWidth / ts + 1) / BitmapFont.advance)
        let (tx, ty) = layout.captionOrigin(i, line: 0)
        sheet.drawText(line1, x: tx, y: ty, color: ContactSheetLayout.ink, scale: ts)
        if !tile.caption.isEmpty && layout.captionLines > 1 {
            let line2 = BitmapFont.truncated(tile.caption, toWidth: layout.cellWidth, scale: ts)
            let (cx, cy) = layout.captionOrigin(i, line: 1)
            sheet.drawText(line2, x: cx, y: cy, color: ContactSheetLayout.muted, scale: ts)
        }
    }

    // Legend.
    if !layout.legendItems.isEmpty {
        sheet.fillRect(x: layout.pad, y: layout.legendRuleY, width: layout.width - 2 * layout.pad, height: 1,
                       ContactSheetLayout.rule)
    }
    for item in layout.legendItems {
        let side = layout.swatchSide
        sheet.fillRect(x: item.x, y: item.y, width: side, height: side, Palette.color(forClass: item.classIndex))
        sheet.strokeRect(x: item.x, y: item.y, width: side, height: side, ContactSheetLayout.swatchEdge)
        sheet.drawText(item.text, x: item.x + side + layout.swatchGap,
                       y: item.y + (side - BitmapFont.capHeight(scale: ts) + 1) / 2,
                       color: ContactSheetLayout.ink, scale: ts)
    }
    return sheet
}

/// The size of a contact sheet, known before it is drawn: what callers check
/// against `maxPixels` before they read samples for one or allocate it.
public enum ContactSheetSize {
    /// The most pixels a contact sheet (or one upscaled sample) may have:
    /// 100,000,000, 300 MB of RGB. `mixprep export` refuses larger ones.
    public static let maxPixels = 100_000_000

    /// Width and height of the sheet `makeContactSheet` draws for `tileCount` tiles of
    /// `tileWidth`×`tileHeight` pixels (the largest, when they differ) with labels over
    /// `labelClasses` classes, a caption line under each when `captions`; `columns ≥ 1`,
    /// `scale ≥ 1`. Exact for tiles alike, an upper bound otherwise. The arithmetic is
    /// plain: callers keep `tileCount` below 2^32 and `tileWidth × scale`, `tileHeight × scale`
    /// below 2^20 (their product is what to check, with `pixels`).
    public static func of(tileCount: Int, tileWidth: Int, tileHeight: Int, captions: Bool, labelClasses: Int,
                          classNames: [String], columns: Int, scale: Int, title: String) -> (width: Int, height: Int) {
        let layout = ContactSheetLayout(tileCount: tileCount, tileWidth: tileWidth, tileHeight: tileHeight, captions: captions,
                                        labelClasses: labelClasses, classNames: classNames, columns: columns, scale: scale, title: title)
        return (layout.width, layout.height)
    }

    /// `width × height`, or nil when it overflows.
    public static func pixels(_ size: (width: Int, height: Int)) -> Int? {
        let (n, overflow) = size.width.multipliedReportingOverflow(by: size.height)
        return overflow ? nil : n
    }
}

/// The first caption line of a tile, at most `maxCharacters` long:
/// `"λ0.73 cat/dog"` for a mixed sample, `"cat"` for an unmixed one.
///
/// The two heaviest classes are named, the one whose mass is nearer λ (the
/// primary source) first; the second only if it carries more than the smallest
/// mass, so label smoothing alone does not name one. When the line is too
/// long, both names are shortened so that each stays recognisable; a last
/// resort cuts the line with `…`.
func tileSummary(_ tile: ContactTile, classNames: [String], maxCharacters: Int = .max) -> String {
    let order = classesByMass(tile.label)
    let prefix = tile.lambda.map { "λ" + formatFixed2($0) } ?? ""
    func name(_ k: Int) -> String { k < classNames.count ? classNames[k] : "class \(k)" }
    func fit(_ text: String) -> String {
        text.count <= maxCharacters ? text : (maxCharacters < 1 ? "" : String(text.prefix(maxCharacters - 1)) + "…")
    }
    guard let heaviest = order.first else { return fit(prefix) }
    var names = [name(heaviest)]
    if let lambda = tile.lambda, order.count > 1 {
        let floor = tile.label.map { max(0, $0) }.min() ?? 0
        let second = order[1]
        if max(0, tile.label[second]) > floor + 1e-4 {
            let primaryFirst = abs(tile.label[second] - lambda) < abs(tile.label[heaviest] - lambda)
            names = primaryFirst ? [name(second), name(heaviest)] : [name(heaviest), name(second)]
        }
    }
    let lead = prefix.isEmpty ? "" : prefix + " "
    let full = lead + names.joined(separator: "/")
    if full.count <= maxCharacters || names.count < 2 { return fit(full) }
    // Share the room left for names between the two, the shorter keeping all it needs.
    let room = maxCharacters - lead.count - 1
    guard room >= 4 else { return fit(full) }
    let (a, b) = (names[0].count, names[1].count)
    var keepA = min(a, max((room + 1) / 2, room - b))
    let keepB = min(b, room - keepA)
    keepA = min(a, room - keepB)
    let (shortA, shortB) = (names[0].prefix(keepA), names[1].prefix(keepB))
    if shortA.hasPrefix(shortB) || shortB.hasPrefix(shortA) {
        // Shortening made the names indistinguishable ("class-3", "class-7"):
        // name the primary alone; the colour bar shows the partner.
        return fit(lead + names[0] + "/…")
    }
    return lead + String(shortA) + "/" + String(shortB)
}

/// Class indices sorted by mass, heaviest first; ties by index.
func classesByMass(_ label: [Float]) -> [Int] {
    label.indices.sorted { a, b in
        let ma = max(0, label[a]), mb = max(0, label[b])
        return ma != mb ? ma > mb : a < b
    }
}

/// One coloured run of a label bar: pixels `start..<end` belong to `classIndex`.
struct LabelBarSegment: Equatable {
    var classIndex: Int
    var start: Int
    var end: Int
}

/// Splits a bar `width` pixels wide among the classes with positive mass,
/// heaviest first, in proportion to mass (normalised to the label's total).
/// Boundaries are rounded cumulative sums, so the segments tile the bar exactly.
func labelBarSegments(_ label: [Float], width: Int) -> [LabelBarSegment] {
    let total = label.reduce(0.0) { $0 + Double(max(0, $1)) }
    guard total > 0, width > 0 else { return [] }
    var segments: [LabelBarSegment] = []
    var cumulative = 0.0
    var start = 0
    for k in classesByMass(label) where label[k] > 0 {
        cumulative += Double(label[k])
        let end = min(width, Int((cumulative / total * Double(width)).rounded()))
        if end > start { segments.append(LabelBarSegment(classIndex: k, start: start, end: end)) }
        start = max(start, end)
    }
    if let last = segments.indices.last { segments[last].end = width }
    return segments
}

/// `x` with two decimals, e.g. `0.73`; no Foundation needed.
func formatFixed2(_ x: Float) -> String {
    let hundredths = Int((Double(x) * 100).rounded())
    let sign = hundredths < 0 ? "-" : ""
    let a = abs(hundredths)
    let frac = a % 100
    return "\(sign)\(a / 100)." + (frac < 10 ? "0" : "") + "\(frac)"
}

/// Pixel geometry of a contact sheet; shared by the renderer and the tests.
struct ContactSheetLayout {
    static let background = RGBColor(hex: 0xF7F7F4)
    static let ink = RGBColor(hex: 0x222222)
    static let muted = RGBColor(hex: 0x6B6B6B)
    static let frame = RGBColor(hex: 0xBDBDBD)
    static let rule = RGBColor(hex: 0xD6D6D2)
    static let empty = RGBColor(hex: 0xE4E4E0)
    static let swatchEdge = RGBColor(hex: 0x808080)

    struct LegendItem {
        var classIndex: Int
        var text: String
        var x: Int
        var y: Int
    }

    let pad = 14
    let gapX: Int
    let gapY: Int
    let scale: Int
    let columns: Int
    let rows: Int
    let textScale: Int
    let titleScale: Int
    let cellWidth: Int
    let imageHeight: Int
    let barGap: Int
    let barHeight: Int
    let lineHeight: Int
    let captionLines: Int
    let cellHeight: Int
    let ruleY: Int
    let gridTop: Int
    let gridLeft: Int
    let legendRuleY: Int
    let swatchSide: Int
    let swatchGap: Int
    let legendItems: [LegendItem]
    let width: Int
    let height: Int

    init(tiles: [ContactTile], classNames: [String], columns requested: Int, scale: Int, title: String) {
        self.init(tileCount: tiles.count, tileWidth: tiles.map(\.width).max() ?? 0, tileHeight: tiles.map(\.height).max() ?? 0,
                  captions: tiles.contains { !$0.caption.isEmpty }, labelClasses: tiles.map(\.label.count).max() ?? 0,
                  classNames: classNames, columns: requested, scale: scale, title: title)
    }

    /// The layout of `tileCount` tiles of at most `tileWidth`×`tileHeight` pixels, with a
    /// caption line under them when `captions`, labels of `labelClasses` classes: what
    /// `makeContactSheet` draws, known before any tile exists.
    init(tileCount: Int, tileWidth: Int, tileHeight: Int, captions: Bool, labelClasses: Int, classNames: [String],
         columns requested: Int, scale: Int, title: String) {
        precondition(requested >= 1, "makeContactSheet: columns must be ≥ 1, got \(requested)")
        precondition(scale >= 1, "makeContactSheet: scale must be ≥ 1, got \(scale)")
        self.scale = scale
        columns = min(requested, max(1, tileCount))
        rows = (tileCount + columns - 1) / columns
        cellWidth = max(24, tileWidth * scale)
        imageHeight = tileHeight * scale
        textScale = cellWidth >= 16 * 2 * BitmapFont.advance ? 2 : 1  // 16 characters at scale 2
        let ts = textScale
        gapX = 14 * ts
        gapY = 14 * ts
        barGap = 5
        barHeight = max(6, min(14, imageHeight / 12))
        lineHeight = BitmapFont.height(scale: ts) + 2 * ts
        captionLines = captions ? 2 : 1
        cellHeight = imageHeight + barGap + barHeight + 6 + captionLines * lineHeight

        let kClasses = max(classNames.count, labelClasses)
        let side = BitmapFont.capHeight(scale: ts) + 4, sGap = 5 * ts
        swatchSide = side
        swatchGap = sGap
        let names = (0..<kClasses).map { $0 < classNames.count ? classNames[$0] : "class \($0)" }
        let itemWidths = names.map { side + sGap + BitmapFont.width(of: $0, scale: ts) }
        let legendSpacing = 16 * ts

        // The grid sets the width; a long title drops to text size rather than
        // widening the sheet much, and is cut with … if it still does not fit.
        // A long class name widens it to 480 pixels at most and is cut with … too:
        // the sheet never grows with the longest name.
        let gridWidth = columns * cellWidth + (columns - 1) * gapX
        let baseWidth = max(gridWidth, min(itemWidths.max() ?? 0, 480), 160)
        let large = ts + 1
        titleScale = BitmapFont.width(of: title, scale: large) <= baseWidth ? large : ts
        let contentWidth = max(baseWidth, min(BitmapFont.width(of: title, scale: titleScale), 480))
        width = contentWidth + 2 * pad
        gridLeft = pad + (contentWidth - gridWidth) / 2

        ruleY = pad + BitmapFont.height(scale: titleScale) + 8
        gridTop = ruleY + 1 + 12
        let gridBottom = gridTop + rows * cellHeight + max(0, rows - 1) * gapY

        // Legend: items flow left to right, wrapping at the content width.
        legendRuleY = gridBottom + 4
        var items: [LegendItem] = []
        var x = pad, y = legendRuleY + 1 + 10
        let rowStep = swatchSide + 8
        for (k, name) in names.enumerated() {
            let w = min(itemWidths[k], contentWidth)
            if x > pad && x + w > pad + contentWidth {
                x = pad
                y += rowStep
            }
            let text = BitmapFont.truncated(name, toWidth: contentWidth - swatchSide - swatchGap, scale: ts)
            items.append(LegendItem(classIndex: k, text: text, x: x, y: y))
            x += w + legendSpacing
        }
        legendItems = items
        height = (items.isEmpty ? gridBottom : y + swatchSide) + pad
    }

    /// Top-left pixel of tile `i`'s image.
    func tileOrigin(_ i: Int) -> (x: Int, y: Int) {
        (gridLeft + (i % columns) * (cellWidth + gapX), gridTop + (i / columns) * (cellHeight + gapY))
    }

    /// The label bar of tile `i` (inside its 1-pixel frame).
    func barRect(_ i: Int) -> (x: Int, y: Int, width: Int, height: Int) {
        let (x, y) = tileOrigin(i)
        return (x, y + imageHeight + 1 + barGap, cellWidth, barHeight)
    }

    /// Top-left pixel of caption line `line` (0 or 1) of tile `i`.
    func captionOrigin(_ i: Int, line: Int) -> (x: Int, y: Int) {
        let bar = barRect(i)
        return (bar.x, bar.y + bar.height + 1 + 5 + line * lineHeight)
    }
}
