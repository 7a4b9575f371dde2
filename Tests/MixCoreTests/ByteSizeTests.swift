import MixCore
import XCTest

/// Sizes as text: parsed (environment variables) and described (reports).
final class ByteSizeTests: XCTestCase {
    func testParse() {
        XCTAssertEqual(ByteSize.parse("123"), 123)
        XCTAssertEqual(ByteSize.parse("512K"), 524_288)
        XCTAssertEqual(ByteSize.parse("1.5g"), 1_610_612_736)
        for bad in ["", "0", "-1", "1e3", "1 M", "5T", "K"] { XCTAssertNil(ByteSize.parse(bad), bad) }
    }

    func testDescribeKeepsThreeSignificantDigits() {
        let cases: [(Int, String)] = [
            (0, "0 B"), (999, "999 B"), (1_000, "1.00 kB"), (12_345, "12.3 kB"), (999_499, "999 kB"),
            (999_500, "1.00 MB"), (148_000_000, "148 MB"), (1_049_000_000, "1.05 GB"), (4_500_000_000_000, "4.50 TB"),
            (Int.max, "9.22 EB"),
        ]
        for (bytes, text) in cases { XCTAssertEqual(ByteSize.describe(bytes), text, "\(bytes)") }
    }
}
