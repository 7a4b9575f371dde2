import MixCore
import XCTest

/// What `mixfuzz`'s `csv` target found in the CSV reader and writer, one test per finding.
final class FuzzFoundCSVTests: XCTestCase {
    /// Case 1050 of seed 1: a label `"""́"` (a quote, then U+0301 COMBINING ACUTE ACCENT) parsed
    /// to `"́`, which `CSV.line` wrote unquoted: it looked for a quote `Character`, and a quote
    /// followed by a combining mark is one Character that is not a quote. The file lists
    /// `mixprep` writes (`SourceFileList`) could then not be read back. Fields are now
    /// checked, and quotes doubled, by Unicode scalar, as the reader reads bytes.
    func testAQuoteOrCommaBeforeACombiningMarkIsQuoted() throws {
        let fields = ["images/a.png", "\"\u{301}", ",\u{301}", "x\"\u{301}y", "\r\u{301}", "\n\u{301}", "cafe\u{301}", "\u{301}", "plain"]
        let text = CSV.line(fields)
        XCTAssertEqual(Array(text.utf8), Array("images/a.png,\"\"\"\u{301}\",\",\u{301}\",\"x\"\"\u{301}y\",\"\r\u{301}\",\"\n\u{301}\",cafe\u{301},\u{301},plain\n".utf8))
        XCTAssertEqual(try CSV.parse(Array(text.utf8), name: "t.csv").map(\.fields), [fields])
        // The fuzzer's row, read and written back.
        let rows = try CSV.parse(Array("path,label\nimages/a.png,\"\"\"\u{301}\"\n".utf8), name: "train.csv")
        XCTAssertEqual(rows.map(\.fields), [["path", "label"], ["images/a.png", "\"\u{301}"]])
        let back = try CSV.parse(Array(rows.map { CSV.line($0.fields) }.joined().utf8), name: "back.csv")
        XCTAssertEqual(back.map(\.fields), rows.map(\.fields))
        // Unchanged for everything else.
        XCTAssertEqual(CSV.line(["a", "b,c", "d\"e", "f\r\ng", ""]), "a,\"b,c\",\"d\"\"e\",\"f\r\ng\",\n")
    }
}
