import MixCore

/// A guard in front of toml++ (inside TOMLKit 0.6): its parser asserts —
/// aborting the whole process — when a table header's `[` or `[[` is followed
/// by something that cannot start a key (`[{}]`, `[[ [x]]`, `[` then a line
/// break) or when an array holds `,` or `}` where a value belongs
/// (`[0, 1,}2]`) instead of reporting an error (found by `mixfuzz`, target
/// `pipeline`). This finds such a header first and reports it, naming the file,
/// line and column as a toml++ error would. It follows TOML's lexical rules
/// (strings, comments, arrays spanning lines) only as far as needed to know
/// where table headers are.
public enum TOMLHeaderCheck {
    /// Throws for the first table header that does not start with a key.
    public static func check(_ text: String, file: String) throws {
        let s = Array(text.unicodeScalars)
        var i = 0, line = 1, column = 1
        var open: [Unicode.Scalar] = []   // open brackets and braces of values, innermost last
        var depth: Int { open.count }
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
        /// After an array's `[` or `,`: the next token (past blanks, line breaks and comments)
        /// must start a value or close the array. toml++ asserts on `,` or `}` there
        /// (`[0, 1,}2]`, found by `mixfuzz`, target `pipeline`).
        func expectArrayValue() throws {
            while let w = at(i) {
                if w == " " || w == "\t" || w == "\r" || w == "\n" {
                    advance()
                } else if w == "#" {
                    while i < s.count && s[i] != "\n" { advance() }
                } else {
                    break
                }
            }
            if let k = at(i), k == "," || k == "}" {
                throw MixError("\(file): line \(line), column \(column): expected a value or ']' in an array, saw '\(k)'")
            }
        }
        if at(0) == "\u{FEFF}" { i = 1 }
        while i < s.count {
            let c = s[i]
            switch c {
            case "\n":
                advance()
                lineStart = true
            case " ", "\t", "\r":
                advance()
            case "#":
                while i < s.count && s[i] != "\n" { advance() }
            case "\"", "'":
                skipString()
                lineStart = false
            case "[" where lineStart && depth == 0:
                let (headerLine, headerColumn) = (line, column)
                advance()
                if at(i) == "[" { advance() }
                while let w = at(i), w == " " || w == "\t" { advance() }
                if let k = at(i), !(isBareKeyCharacter(k) || k == "\"" || k == "'" || k == "]") {
                    let shown = k.properties.generalCategory == .control || k == "\n" ? "U+\(String(k.value, radix: 16, uppercase: true))" : "'\(k)'"
                    throw MixError("\(file): line \(headerLine), column \(headerColumn): a table header must start with a key, saw \(shown)")
                }
                // The rest of the header line (its key may be quoted).
                while i < s.count && s[i] != "\n" {
                    if s[i] == "\"" || s[i] == "'" { skipString() } else { advance() }
                }
                lineStart = false
            case "[", "{":
                open.append(c)
                advance()
                lineStart = false
                if c == "[" { try expectArrayValue() }
            case "," where open.last == "[":
                advance()
                try expectArrayValue()
            case "]", "}":
                if !open.isEmpty { open.removeLast() }
                advance()
                lineStart = false
            default:
                advance()
                lineStart = false
            }
        }
    }

    /// toml++'s bare-key characters (TOML 1.0): ASCII letters, digits, '_' and '-'.
    static func isBareKeyCharacter(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "_" || c == "-"
    }
}
