/// An 8-bit RGB raster: `pixels` holds `height` rows of `width` interleaved
/// `(r, g, b)` triples, top row first.
///
/// Drawing operations clip to the image: anything outside is silently dropped.
public struct RGBImage: Equatable, Sendable {
    /// Columns.
    public let width: Int
    /// Rows.
    public let height: Int
    /// `width × height × 3` bytes, row-major, interleaved RGB.
    public var pixels: [UInt8]

    /// A `width × height` image filled with `background`.
    public init(width: Int, height: Int, background: RGBColor = .white) {
        precondition(width >= 0 && height >= 0, "RGBImage: negative size \(width)×\(height)")
        self.width = width
        self.height = height
        var row = [UInt8]()
        row.reserveCapacity(width * 3)
        for _ in 0..<width { row.append(background.r); row.append(background.g); row.append(background.b) }
        var pixels = [UInt8]()
        pixels.reserveCapacity(width * height * 3)
        for _ in 0..<height { pixels.append(contentsOf: row) }
        self.pixels = pixels
    }

    /// An image over existing interleaved RGB bytes (`pixels.count == width × height × 3`).
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "RGBImage: negative size \(width)×\(height)")
        precondition(pixels.count == width * height * 3,
                     "RGBImage: \(pixels.count) bytes for \(width)×\(height)×3")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The colour at column `x`, row `y` (both must be in range).
    @inlinable
    public subscript(x: Int, y: Int) -> RGBColor {
        get {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "RGBImage: (\(x), \(y)) out of range")
            let i = (y * width + x) * 3
            return RGBColor(pixels[i], pixels[i + 1], pixels[i + 2])
        }
        set {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "RGBImage: (\(x), \(y)) out of range")
            let i = (y * width + x) * 3
            pixels[i] = newValue.r
            pixels[i + 1] = newValue.g
            pixels[i + 2] = newValue.b
        }
    }

    /// Sets one pixel if `(x, y)` is inside the image.
    @inlinable
    public mutating func plot(x: Int, y: Int, _ color: RGBColor) {
        guard x >= 0 && x < width && y >= 0 && y < height else { return }
        self[x, y] = color
    }

    /// Paints the whole image with `color`.
    public mutating func fill(_ color: RGBColor) {
        fillRect(x: 0, y: 0, width: width, height: height, color)
    }

    /// Paints the rectangle `[x, x + width) × [y, y + height)`, clipped to the image.
    public mutating func fillRect(x: Int, y: Int, width w: Int, height h: Int, _ color: RGBColor) {
        let x0 = max(0, x), x1 = min(width, x + max(0, w))
        let y0 = max(0, y), y1 = min(height, y + max(0, h))
        guard x0 < x1 && y0 < y1 else { return }
        for row in y0..<y1 {
            var i = (row * width + x0) * 3
            for _ in x0..<x1 {
                pixels[i] = color.r
                pixels[i + 1] = color.g
                pixels[i + 2] = color.b
                i += 3
            }
        }
    }

    /// Draws a `thickness`-pixel outline whose outer edge is the rectangle
    /// `[x, x + width) × [y, y + height)`, clipped to the image.
    public mutating func strokeRect(x: Int, y: Int, width w: Int, height h: Int,
                                    _ color: RGBColor, thickness t: Int = 1) {
        guard w > 0 && h > 0 && t > 0 else { return }
        fillRect(x: x, y: y, width: w, height: min(t, h), color)
        fillRect(x: x, y: y + h - min(t, h), width: w, height: min(t, h), color)
        fillRect(x: x, y: y, width: min(t, w), height: h, color)
        fillRect(x: x + w - min(t, w), y: y, width: min(t, w), height: h, color)
    }
}
