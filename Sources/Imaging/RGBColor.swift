/// An opaque 8-bit sRGB colour.
public struct RGBColor: Hashable, Sendable, CustomStringConvertible {
    /// Red.
    public var r: UInt8
    /// Green.
    public var g: UInt8
    /// Blue.
    public var b: UInt8

    /// A colour from its components.
    @inlinable
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
        self.r = r
        self.g = g
        self.b = b
    }

    /// A colour from a 24-bit `0xRRGGBB` value.
    @inlinable
    public init(hex: UInt32) {
        self.init(UInt8(truncatingIfNeeded: hex >> 16), UInt8(truncatingIfNeeded: hex >> 8), UInt8(truncatingIfNeeded: hex))
    }

    /// A grey level: `(v, v, v)`.
    @inlinable
    public init(grey v: UInt8) {
        self.init(v, v, v)
    }

    /// `(255, 255, 255)`.
    public static let white = RGBColor(255, 255, 255)
    /// `(0, 0, 0)`.
    public static let black = RGBColor(0, 0, 0)

    /// `#rrggbb`.
    public var description: String {
        let digits = Array("0123456789abcdef")
        var s = "#"
        for v in [r, g, b] {
            s.append(digits[Int(v >> 4)])
            s.append(digits[Int(v & 15)])
        }
        return s
    }
}
