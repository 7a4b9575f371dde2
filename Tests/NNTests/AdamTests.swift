import NN
import XCTest

final class AdamTests: XCTestCase {
    /// Two steps computed by hand with torch.optim.Adam's formula.
    func testTwoStepsMatchHandComputation() {
        var p: [Float] = [1.0, -2.0, 0.5]
        let g1: [Float] = [0.1, -0.2, 0.0], g2: [Float] = [0.3, 0.1, -0.4]
        var adam = Adam(parameterCount: 3)
        adam.step(parameters: &p, gradients: g1)
        // Step 1: m = 0.1 g, v = 0.001 g², m̂ = g, v̂ = g², update = lr·g/(|g| + eps) = ±1e-3 (0 for g = 0).
        XCTAssertEqual(p[0], 1.0 - 1e-3, accuracy: 1e-7)
        XCTAssertEqual(p[1], -2.0 + 1e-3, accuracy: 1e-7)
        XCTAssertEqual(p[2], 0.5, accuracy: 0)
        adam.step(parameters: &p, gradients: g2)
        XCTAssertEqual(adam.step, 2)
        // Step 2 in Double.
        let expected: [Double] = [1.0, -2.0, 0.5].indices.map { i in
            let a = Double(g1[i]), b = Double(g2[i])
            let m1 = 0.1 * a, v1 = 0.001 * a * a
            let m2 = 0.9 * m1 + 0.1 * b, v2 = 0.999 * v1 + 0.001 * b * b
            let stepSize = 1e-3 / (1 - 0.9 * 0.9)
            let denom = (v2 / (1 - 0.999 * 0.999)).squareRoot() + 1e-8
            let p1 = [1.0 - 1e-3, -2.0 + 1e-3, 0.5][i]
            return p1 - stepSize * m2 / denom
        }
        for i in 0..<3 {
            XCTAssertEqual(Double(p[i]), expected[i], accuracy: 2e-7, "p[\(i)]")
        }
        XCTAssertEqual(Double(adam.m[0]), 0.9 * 0.01 + 0.03, accuracy: 1e-7)
        XCTAssertEqual(Double(adam.v[2]), 0.001 * 0.16, accuracy: 1e-10)
    }

    /// Restoring (m, v, step) reproduces the same trajectory.
    func testStateRoundTrip() {
        var a = Adam(parameterCount: 4)
        var p: [Float] = [1, 2, 3, 4]
        a.step(parameters: &p, gradients: [0.1, 0.2, -0.3, 0.4])
        var b = Adam(parameterCount: 4)
        b.m = a.m; b.v = a.v; b.step = a.step
        var pa = p, pb = p
        a.step(parameters: &pa, gradients: [0.5, -0.1, 0.2, 0])
        b.step(parameters: &pb, gradients: [0.5, -0.1, 0.2, 0])
        XCTAssertEqual(pa, pb)
        XCTAssertEqual(a, b)
    }
}
