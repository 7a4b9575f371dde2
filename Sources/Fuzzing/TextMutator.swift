/// Token-aware mutations of JSON and TOML text: numbers, strings and words are
/// replaced by interesting values, swapped or deleted, and whole lines deleted,
/// duplicated, swapped or inserted (from a dictionary or another input), so
/// that most mutants still parse and reach the checks behind the parser.
public enum TextMutator {
    public static let numbers = [
        "0", "-1", "1", "2", "-0", "0.5", "1e-9", "1e308", "1e999", "-1e999", "2147483647", "2147483648", "4294967295",
        "4294967296", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
        "18446744073709551615", "1000000000000", "65535", "65536", "65537", "1024", "1025", "4096", "4097", "8192",
        "8193", "50000001", "100000", "100001", "3.0", "1.5", "0.9999999", "1.0000001", "0x10", "1_000", "nan", "inf",
        "-inf", "1e-320", "00", "01",
    ]

    public static let strings = [
        "\"\"", "\"..\"", "\"../../x\"", "\"/etc/passwd\"", "\"a\\nb\"", "\"\\u0000\"", "\"train/epoch-000/shard-00000.mxs\"",
        "\"train/epoch-001/shard-00000.mxs\"", "\"source/train.mxs\"", "\"test/shard-00000.mxs\"", "\"manifest.json\"",
        "\".\"", "\"/\"", "\"zlib\"", "\"none\"", "\"delta\"", "\"rle\"", "\"MixShard\"", "\"sample\"", "\"cutmix\"",
        "\"batch\"", "\"\\ud800\"", "\"\u{e9}\"", "\"x" + String(repeating: "x", count: 5000) + "\"", "\"train//x.mxs\"",
        "\"train/epoch-000/\"", "\"0\"", "\"-1\"",
    ]

    public static let words = ["true", "false", "null", "[]", "{}", "[1, 2]", "[[]]", "0", "\"\""]

    /// Lexical tokens: strings, numbers, bare words.
    struct Token {
        var range: Range<Int>
        var kind: Kind
        enum Kind { case string, number, word }
    }

    static func tokens(_ b: [UInt8]) -> [Token] {
        var out: [Token] = []
        var i = 0
        func isWord(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f || c == 0x2d
                || c == 0x2b || c == 0x2e
        }
        while i < b.count {
            let c = b[i]
            if c == 0x22 || c == 0x27 { // "…" or '…'
                var j = i + 1
                while j < b.count && b[j] != c && b[j] != 0x0a {
                    if b[j] == 0x5c && c == 0x22 { j += 1 }
                    j += 1
                }
                let end = min(j + 1, b.count)
                out.append(Token(range: i..<end, kind: .string))
                i = end
            } else if c == 0x23 && !out.isEmpty { // TOML comment: skip to end of line
                while i < b.count && b[i] != 0x0a { i += 1 }
            } else if isWord(c) {
                var j = i
                while j < b.count && isWord(b[j]) { j += 1 }
                let first = b[i]
                let numeric = (first >= 0x30 && first <= 0x39) || first == 0x2d || first == 0x2b
                out.append(Token(range: i..<j, kind: numeric ? .number : .word))
                i = j
            } else {
                i += 1
            }
        }
        return out
    }

    /// Applies 1 to `maxStack` text mutations; `dictionary` holds whole lines worth inserting.
    public static func mutate(_ bytes: inout [UInt8], rng: inout FuzzRNG, donors: [[UInt8]], dictionary: [String],
                              maxStack: Int = 4) {
        for _ in 0..<rng.smallCount(max: maxStack) {
            mutateOnce(&bytes, rng: &rng, donors: donors, dictionary: dictionary)
        }
    }

    static func mutateOnce(_ bytes: inout [UInt8], rng: inout FuzzRNG, donors: [[UInt8]], dictionary: [String]) {
        let toks = tokens(bytes)
        let choice = rng.below(22)
        if choice >= 20 && !bytes.isEmpty { // one punctuation character inserted or replaced
            let c = rng.pick(Array("[]{},=#\"'.:-Tt_+ \n\\".utf8))
            let at = rng.below(bytes.count)
            if rng.chance(0.5) { bytes.insert(c, at: at) } else { bytes[at] = c }
            return
        }
        if toks.isEmpty || choice >= 17 {
            if choice == 19 || bytes.isEmpty {
                ByteMutator.mutateOnce(&bytes, rng: &rng, donors: donors)
            } else {
                mutateLines(&bytes, rng: &rng, donors: donors, dictionary: dictionary)
            }
            return
        }
        let t = rng.pick(toks)
        switch choice {
        case 0..<6: // a number (or any token) becomes an interesting number
            let target = toks.filter { $0.kind == .number }.randomElement(using: &rng) ?? t
            bytes.replaceSubrange(target.range, with: Array(rng.pick(numbers).utf8))
        case 6..<10: // a string becomes an interesting string
            let target = toks.filter { $0.kind == .string }.randomElement(using: &rng) ?? t
            bytes.replaceSubrange(target.range, with: Array(rng.pick(strings).utf8))
        case 10, 11: // a token becomes a word of another type
            bytes.replaceSubrange(t.range, with: Array(rng.pick(words).utf8))
        case 12, 13: // two tokens swap
            let u = rng.pick(toks)
            guard u.range != t.range else { return }
            let (first, second) = t.range.lowerBound < u.range.lowerBound ? (t, u) : (u, t)
            guard first.range.upperBound <= second.range.lowerBound else { return }
            let a = Array(bytes[first.range]), b = Array(bytes[second.range])
            bytes.replaceSubrange(second.range, with: a)
            bytes.replaceSubrange(first.range, with: b)
        case 14: // a token is deleted
            bytes.removeSubrange(t.range)
        case 15: // a number is nudged by one
            guard let target = toks.filter({ $0.kind == .number }).randomElement(using: &rng),
                  let v = Int(String(decoding: bytes[target.range], as: UTF8.self)) else { return }
            let (w, o) = v.addingReportingOverflow(rng.chance(0.5) ? 1 : -1)
            bytes.replaceSubrange(target.range, with: Array(String(o ? v : w).utf8))
        default: // a token is duplicated after a comma
            bytes.insert(contentsOf: Array(bytes[t.range]) + Array(", ".utf8), at: t.range.lowerBound)
        }
        if bytes.count > ByteMutator.maxSize { bytes.removeSubrange(ByteMutator.maxSize...) }
    }

    static func mutateLines(_ bytes: inout [UInt8], rng: inout FuzzRNG, donors: [[UInt8]], dictionary: [String]) {
        var lines = bytes.split(separator: 0x0a, omittingEmptySubsequences: false).map(Array.init)
        guard !lines.isEmpty else { return }
        switch rng.below(5) {
        case 0: lines.remove(at: rng.below(lines.count))
        case 1:
            let i = rng.below(lines.count)
            lines.insert(lines[i], at: rng.below(lines.count + 1))
        case 2: lines.swapAt(rng.below(lines.count), rng.below(lines.count))
        case 3:
            guard !dictionary.isEmpty else { return }
            lines.insert(Array(rng.pick(dictionary).utf8), at: rng.below(lines.count + 1))
        default:
            guard let donor = donors.isEmpty ? nil : rng.pick(donors) else { return }
            let donorLines = donor.split(separator: 0x0a).map(Array.init)
            guard !donorLines.isEmpty else { return }
            lines.insert(rng.pick(donorLines), at: rng.below(lines.count + 1))
        }
        bytes = Array(lines.joined(separator: [0x0a]))
        if bytes.count > ByteMutator.maxSize { bytes.removeSubrange(ByteMutator.maxSize...) }
    }
}

extension Array {
    /// A random element drawn from `rng` (nil when empty).
    func randomElement(using rng: inout FuzzRNG) -> Element? {
        isEmpty ? nil : self[rng.below(count)]
    }
}
