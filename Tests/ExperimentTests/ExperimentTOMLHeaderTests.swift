import Experiment
import XCTest

/// Experiment files go through the same guard in front of toml++ as pipelines
/// (a table header not starting with a key aborted the process).
final class ExperimentTOMLHeaderTests: XCTestCase {
    func testTableHeaderNotStartingWithAKeyIsAnError() {
        XCTAssertThrowsError(try ExperimentSpec.parse("name = \"x\"\n[{}]\n", file: "e.toml")) {
            XCTAssertEqual("\($0)", "e.toml: line 2, column 1: a table header must start with a key, saw '{'")
        }
    }
}
