import Foundation

/// A strict reader of comma-separated values (RFC 4180): fields separated by commas,
/// optionally in double quotes (a quote inside doubled, commas and line breaks allowed);
/// lines end in LF, CRLF or CR; a UTF-8 byte order mark is skipped; blank lines are
/// ignored. Every problem names the file and the line.
public enum CSV {
    public struct Row: Equatable, Sendable {
        /// 1-based line on which the row starts.
        public var line: Int
        public var fields: [String]

        public init(line: Int, fields: [String]) {
            self.line = line
            self.fields = fields
        }
    }

    /// The largest CSV file read (1 GiB; ImageNet's 1.28 M training rows take about 60 MB).
    public static let maxBytes = 1 << 30

    public static func parse(_ bytes: [UInt8], name: String) throws -> [Row] {
        var rows: [Row] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var line = 1, rowLine = 1
        var i = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var quoted = false, wasQuoted = false
        func text(_ f: [UInt8]) throws -> String {
            guard let s = String(validating: f, as: UTF8.self) else { throw MixError.file(name, "line \(line): a field is not UTF-8 text") }
            return s
        }
        func endRow() throws {
            fields.append(try text(field))
            if !(fields.count == 1 && fields[0].isEmpty && !wasQuoted) { rows.append(Row(line: rowLine, fields: fields)) }
            fields = []
            field = []
            wasQuoted = false
        }
        while i < bytes.count {
            let b = bytes[i]
            if quoted {
                if b == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") {
                        field.append(b)
                        i += 2
                        continue
                    }
                    quoted = false
                    i += 1
                    if i < bytes.count, ![UInt8(ascii: ","), 0x0A, 0x0D].contains(bytes[i]) {
                        throw MixError.file(name, "line \(line): text after a closing quote (a quote inside a quoted field is written \"\")")
                    }
                    continue
                }
                if b == 0x0A || (b == 0x0D && !(i + 1 < bytes.count && bytes[i + 1] == 0x0A)) { line += 1 }
                field.append(b)
                i += 1
                continue
            }
            switch b {
            case UInt8(ascii: "\""):
                guard field.isEmpty else { throw MixError.file(name, "line \(line): a quote inside an unquoted field (quote the whole field)") }
                quoted = true
                wasQuoted = true
            case UInt8(ascii: ","):
                fields.append(try text(field))
                field = []
            case 0x0D, 0x0A:
                try endRow()
                if b == 0x0D && i + 1 < bytes.count && bytes[i + 1] == 0x0A { i += 1 }
                line += 1
                rowLine = line
            default:
                field.append(b)
            }
            i += 1
        }
        guard !quoted else { throw MixError.file(name, "line \(rowLine): a quoted field is never closed") }
        if !field.isEmpty || !fields.isEmpty || wasQuoted { try endRow() }
        return rows
    }

    /// One line of CSV (ending in LF): fields holding a comma, quote, CR or LF are quoted,
    /// quotes doubled. Looked for by Unicode scalar, as `parse` reads bytes: a quote or comma
    /// followed by a combining mark is one `Character` that equals neither (mixfuzz target
    /// `csv` found such a label written unquoted, which made the file unreadable).
    public static func line(_ fields: [String]) -> String {
        fields.map { f in
            guard f.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return f }
            var quoted = String.UnicodeScalarView()
            quoted.append("\"")
            for scalar in f.unicodeScalars {
                if scalar == "\"" { quoted.append(scalar) }
                quoted.append(scalar)
            }
            quoted.append("\"")
            return String(quoted)
        }.joined(separator: ",") + "\n"
    }
}
