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
}
