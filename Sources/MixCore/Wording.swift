import Foundation

/// How numbers and ranges read in messages: `1,024`, `from 1 to 1,024` — never
/// Swift's `1...1024` or `0..<10`, which a user need not know.
public enum Wording {
    /// `n` with thousands separators: 65536 → `65,536`.
    public static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// `from lo to hi`, both included.
    public static func range(_ lo: Int, _ hi: Int) -> String {
        "from \(grouped(lo)) to \(grouped(hi))"
    }

    /// An image shape, width×height first as in every message: `64×48 (width×height, 3 channels)`.
    public static func image(channels: Int, height: Int, width: Int) -> String {
        "\(grouped(width))×\(grouped(height)) (width×height, \(channels) channel\(channels == 1 ? "" : "s"))"
    }

    /// A binary32 value in the fewest significant digits (at most 9, C's `%g`) that
    /// read back as the same value: `0.3`, `3e+38`, `1e-05`, `nan`. The Python reader
    /// words floats the same way (`mixshards.rules.float_text`).
    public static func float(_ v: Float) -> String {
        if v.isNaN { return "nan" }
        for digits in 1...9 {
            let text = String(format: "%.\(digits)g", Double(v))
            if Float(text) == v { return text }
        }
        return String(format: "%.9g", Double(v))
    }
}
