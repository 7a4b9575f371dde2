import MixCore

/// A guard in front of toml++ (inside TOMLKit 0.6), whose parser asserts —
/// aborting the whole process — on some malformed input instead of reporting
/// an error. `mixfuzz` (target `pipeline`) found three such places; this finds
/// them first and reports them, naming the file, line and column as a toml++
/// error would:
///
/// - a table header whose `[` or `[[` is not followed by a key (`[{}]`,
///   `[[ [x]]`, `[` then a line break);
/// - `}` or a Unicode line separator where an array expects a value
///   (`[0, 1,}2]`; a `,` there, which toml++ reports itself, is refused alike);
/// - a date-time whose `T` is not followed by a digit (`1979-05-27T:32`).
///
/// It follows TOML's lexical rules (strings, comments, arrays spanning lines)
/// only as far as needed to know where headers and values start; it never
/// refuses a valid document.
public enum TOMLParserGuard {
    /// Throws for the first of those constructs in `text`.
    public static func check(_ text: String, file: String) throws {
        let s = Array(text.unicodeScalars)
        var i = 0, line = 1, column = 1
        var lineStart = true   // only whitespace since the last line break
        func advance() {
            if s[i] == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
            i += 1
        }
        func at(_ k: Int) -> Unicode.Scalar? { k < s.count ? s[k] : nil }
        /// Skips a string starting at `i` (basic or literal, single- or multi-line).
        func skipString() {
            let quote = s[i]
            let basic = quote == "\""
            if at(i + 1) == quote && at(i + 2) == quote {
                advance(); advance(); advance()
                while i < s.count {
                    if basic && s[i] == "\\" {
                        advance()
                        if i < s.count { advance() }
                    } else if s[i] == quote && at(i + 1) == quote && at(i + 2) == quote {
                        advance(); advance(); advance()
                        // Up to two more quotes belong to the content.
                        if at(i) == quote { advance() }
                        if at(i) == quote { advance() }
                        return
                    } else {
                        advance()
                    }
                }
                return
            }
            advance()
            while i < s.count && s[i] != "\n" {
                if basic && s[i] == "\\" {
                    advance()
                    if i < s.count && s[i] != "\n" { advance() }
                } else if s[i] == quote {
                    advance()
                    return
                } else {
                    advance()
                }
            }
        }
        func fail(_ what: String, _ k: Unicode.Scalar?, line l: Int, column c: Int) -> MixError {
            let shown = k.map { $0.properties.generalCategory == .control || $0.properties.isWhitespace
                ? "U+\(String($0.value, radix: 16, uppercase: true))" : "'\($0)'" } ?? "the end"
            return MixError("\(file): line \(l), column \(c): \(what), saw \(shown)")
        }
        var open: [Unicode.Scalar] = []  // the '[' and '{' of values, innermost last
        var expectValue = false          // after '=', or at an array element
        if at(0) == "\u{FEFF}" { i = 1 }
        while i < s.count {
            let c = s[i]
            switch c {
            case "\n":
                advance()
                lineStart = true
                continue
            case " ", "\t", "\r":
                advance()
                continue
            case "#":
                while i < s.count && s[i] != "\n" { advance() }
                continue
            default:
                break
            }
            if expectValue {
                expectValue = false
                if open.last == "[" && [",", "}", "\u{85}", "\u{2028}", "\u{2029}"].contains(c) {
                    throw fail("expected a value or ']' in an array", c, line: line, column: column)
                }
                // YYYY-MM-DD[Tt] must go on with the time's digits.
                if isDigit(c), i + 10 < s.count, s[i + 4] == "-", s[i + 7] == "-", s[i + 10] == "T" || s[i + 10] == "t",
                   [0, 1, 2, 3, 5, 6, 8, 9].allSatisfy({ isDigit(s[i + $0]) }), !(at(i + 11).map(isDigit) ?? false) {
                    throw fail("a date-time's 'T' must be followed by the time", at(i + 11), line: line, column: column + 11)
                }
            }
            switch c {
            case "\"", "'":
                skipString()
            case "[" where lineStart && open.isEmpty:
                let (headerLine, headerColumn) = (line, column)
                advance()
                if at(i) == "[" { advance() }
                while let w = at(i), w == " " || w == "\t" { advance() }
                if let k = at(i), !(isBareKeyCharacter(k) || k == "\"" || k == "'" || k == "]") {
                    throw fail("a table header must start with a key", k, line: headerLine, column: headerColumn)
                }
                // The rest of the header line (its key may be quoted).
                while i < s.count && s[i] != "\n" {
                    if s[i] == "\"" || s[i] == "'" { skipString() } else { advance() }
                }
            case "[":
                open.append("[")
                expectValue = true
                advance()
            case "{":
                open.append("{")
                advance()
            case "]", "}":
                if !open.isEmpty { open.removeLast() }
                advance()
            case ",":
                expectValue = open.last == "["
                advance()
            case "=":
                expectValue = true
                advance()
            default:
                advance()
            }
            lineStart = false
        }
    }

    static func isDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) }

    /// toml++'s bare-key characters (TOML 1.0): ASCII letters, digits, '_' and '-'.
    static func isBareKeyCharacter(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "_" || c == "-"
    }
}
