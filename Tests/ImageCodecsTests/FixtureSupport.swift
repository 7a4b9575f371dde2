import Foundation
import XCTest

/// The committed fixtures of `scripts/make-image-fixtures.py`.
enum Fixtures {
    static var root: String { Bundle.module.resourcePath! + "/Fixtures" }

    static func bytes(_ relative: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: root + "/" + relative)))
    }

    /// The entries of a folder's `expected.json`.
    static func entries(_ folder: String) throws -> [[String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: root + "/" + folder + "/expected.json"))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
    }

    /// Mean and largest absolute difference of two equally long byte arrays.
    static func difference(_ a: [UInt8], _ b: [UInt8]) -> (mean: Double, max: Int) {
        precondition(a.count == b.count)
        var sum = 0, worst = 0
        for (x, y) in zip(a, b) {
            let d = abs(Int(x) - Int(y))
            sum += d
            worst = max(worst, d)
        }
        return (Double(sum) / Double(max(a.count, 1)), worst)
    }
}
