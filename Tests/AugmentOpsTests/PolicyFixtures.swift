import OpsTestSupport
import AugmentOps
import Foundation
import XCTest
import ZlibKit

/// The committed fixtures of `scripts/make_policy_fixtures.py`: torchvision v2's output of
/// every op on a few images (index.json describes each case).
struct PolicyFixtures {
    struct Case {
        let entry: [String: Any]
        let input: Int
        let expected: PlanarImage
        var kind: String { entry["kind"] as! String }
        var label: String {
            let skip: Set<String> = ["offset", "shape", "kind"]
            let parts = entry.filter { !skip.contains($0.key) }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            return "\(kind) " + parts.joined(separator: " ")
        }
    }

    let inputs: [PlanarImage]
    let cases: [Case]
    let tables: [String: [String: [Double]?]]

    static func load() throws -> PolicyFixtures {
        let root = Bundle.module.resourcePath! + "/Fixtures/policy-ops/"
        let index = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root + "index.json"))) as? [String: Any])
        let inputBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: root + "inputs.bin")))
        let outputBytes = try Zlib.gunzip([UInt8](try Data(contentsOf: URL(fileURLWithPath: root + "outputs.bin.gz"))), name: "outputs.bin.gz")
        func image(_ bytes: [UInt8], _ e: [String: Any]) throws -> PlanarImage {
            let shape = try XCTUnwrap(e["shape"] as? [Int]), offset = try XCTUnwrap(e["offset"] as? Int)
            let n = shape.reduce(1, *)
            return try PlanarImage(channels: shape[0], height: shape[1], width: shape[2], pixels: Array(bytes[offset..<(offset + n)]))
        }
        let inputs = try (index["inputs"] as! [[String: Any]]).map { try image(inputBytes, $0) }
        let cases = try (index["cases"] as! [[String: Any]]).map { e in
            Case(entry: e, input: e["input"] as! Int, expected: try image(outputBytes, e))
        }
        var tables: [String: [String: [Double]?]] = [:]
        for (name, t) in index["tables"] as! [String: [String: Any]] {
            tables[name] = t.mapValues { $0 as? [Double] }
        }
        return PolicyFixtures(inputs: inputs, cases: cases, tables: tables)
    }

    /// Mean and largest absolute difference of two equally shaped images.
    static func difference(_ a: PlanarImage, _ b: PlanarImage) -> (mean: Double, max: Int) {
        precondition(a.pixels.count == b.pixels.count)
        var sum = 0, worst = 0
        for (x, y) in zip(a.pixels, b.pixels) {
            let d = abs(Int(x) - Int(y))
            sum += d
            worst = max(worst, d)
        }
        return (Double(sum) / Double(max(a.pixels.count, 1)), worst)
    }
}
