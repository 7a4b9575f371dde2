import Foundation

/// Sizes written as text: `123`, `512K`, `8M`, `1.5G` (binary units, either case), as
/// `MIXSHARDS_MEMORY_LIMIT` and `MIXSHARDS_SOURCE_CACHE` take them.
public enum ByteSize {
    /// The bytes `text` names; nil for anything else (empty, zero, negative, exponents, spaces, other units).
    public static func parse(_ text: String) -> Double? {
        var digits = Substring(text)
        var unit = 1.0
        if let last = digits.last, let k = ["K": 1024.0, "M": 1_048_576, "G": 1_073_741_824][String(last).uppercased()] {
            unit = k
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let value = Double(digits), value.isFinite, value > 0 else { return nil }
        return value * unit
    }

    /// `bytes` for reports, in decimal units with three significant digits: `512 B`,
    /// `12.3 kB`, `148 MB`, `1.05 GB`, `4.50 TB`.
    public static func describe(_ bytes: Int) -> String {
        let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
        var value = Double(bytes), i = 0
        while abs(value) >= 999.5 && i < units.count - 1 {
            value /= 1000
            i += 1
        }
        if i == 0 { return "\(bytes) B" }
        let decimals = abs(value) < 9.995 ? 2 : abs(value) < 99.95 ? 1 : 0
        return String(format: "%.\(decimals)f", value) + " " + units[i]
    }
}
