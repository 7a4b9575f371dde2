import MixCore
import Pipeline
import XCTest

/// Pipeline files `mixfuzz` found aborting the process inside TOMLKit's toml++, now one-line errors (`TOMLParserGuard`).
final class TOMLParserGuardTests: XCTestCase {
    /// toml++ (in TOMLKit) aborted the process on a table header not starting with a key, an array element
    /// starting with '}' and a date-time without its time.
    func testInputThatAbortedTomlPlusPlusIsAnError() throws {
        let cases: [(String, String)] = [
            ("[{}]\n", "line 1, column 1: a table header must start with a key, saw '{'"),
            ("name = \"x\"\n\n  [[ [mix]]\n", "line 3, column 3: a table header must start with a key, saw '['"),
            ("[\n", "line 1, column 1: a table header must start with a key, saw U+A"),
            ("[\u{e9}t\u{e9}]\n", "line 1, column 1: a table header must start with a key, saw '\u{e9}'"),
            ("\u{FEFF}[=]", "line 1, column 1: a table header must start with a key, saw '='"),
            // mixfuzz, seed 2, case 1264282 (in the article pipeline): toml++ asserted on an array element starting with '}'.
            ("trials = [0, 1,}2]\n", "line 1, column 16: expected a value or ']' in an array, saw '}'"),
            ("x = [\n  # c\n  }]\n", "line 3, column 3: expected a value or ']' in an array, saw '}'"),
            ("x = [1,\u{2028}2]\n", "line 1, column 8: expected a value or ']' in an array, saw U+2028"),
            // and on a date-time whose 'T' is not followed by the time.
            ("seed = 1979-05-27T:32:00\n", "line 1, column 19: a date-time's 'T' must be followed by the time, saw ':'"),
            ("x = [1979-05-27t]\n", "line 1, column 17: a date-time's 'T' must be followed by the time, saw ']'"),
            ("x = 1979-05-27T", "line 1, column 16: a date-time's 'T' must be followed by the time, saw the end"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try Pipeline.parse(text, file: "p.toml")) { XCTAssertEqual("\($0)", "p.toml: " + expected, text) }
        }
        // Brackets inside values, strings and comments are not headers: these reach the pipeline's own checks.
        let fine: [(String, String)] = [
            ("x = [\n[1, 2],\n[{a = 1}]\n]\n", "p.toml: unknown key x"),
            ("name = \"\"\"\n[{}]\n\"\"\"\n", "p.toml: name must be letters"),
            ("name = '''a\n[{'''\n", "p.toml: name must be letters"),
            ("# [{}]\n[ mix ] # [{\nmode = \"batch\"\n", "p.toml: dataset.path must be set"),
            ("[\"quoted\"]\n", "p.toml: unknown key quoted"),
            ("x = { a = [ 1, 2 ], b = \"}\" }\n", "p.toml: unknown key x"),
            ("x = [ # }\n 1979-05-27T07:32:00Z, 1979-05-27 07:32:00, 07:32:00,\n]\n", "p.toml: unknown key x"),
            ("x = \"1979-05-27T\"\ny = [ \"}\", '}' ]\n", "p.toml: unknown key x"),
        ]
        for (text, expected) in fine {
            XCTAssertThrowsError(try Pipeline.parse(text, file: "p.toml")) { XCTAssertTrue("\($0)".hasPrefix(expected), "\(text): \($0)") }
        }
    }

    /// toml++ aborted on `,` or `}` where an array expects a value (the long fuzz run's one crash,
    /// `trials = [0, 1,}2]` in an experiment file).
    func testArraysWithoutAValueWhereOneBelongsAreErrors() throws {
        let cases: [(String, String)] = [
            ("trials = [0, 1,}2]\n", "line 1, column 16: expected a value or ']' in an array, saw '}'"),
            ("x = [,]\n", "line 1, column 6: expected a value or ']' in an array, saw ','"),
            ("x = [1,\n  # c\n  ,2]\n", "line 3, column 3: expected a value or ']' in an array, saw ','"),
            ("x = [[}]]\n", "line 1, column 7: expected a value or ']' in an array, saw '}'"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try Pipeline.parse(text, file: "p.toml")) { XCTAssertEqual("\($0)", "p.toml: " + expected, text) }
        }
        // Trailing commas, empty arrays and arrays of inline tables are fine.
        for text in ["x = [1, 2,]\n", "x = []\n", "x = [\n  1,\n  # c\n]\n", "x = [{a = 1}, {b = 2}]\n"] {
            XCTAssertThrowsError(try Pipeline.parse(text, file: "p.toml")) { XCTAssertTrue("\($0)".hasPrefix("p.toml: unknown key x"), "\(text): \($0)") }
        }
    }
}
