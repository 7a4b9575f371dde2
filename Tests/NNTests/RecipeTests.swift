import NN
import XCTest

/// The training recipe's pieces against hand-computed numbers and, for AdamW and the EMA,
/// numbers computed once with PyTorch 2 (`torch.optim.AdamW(foreach=False)`, `Tensor.lerp_`)
/// and pinned here; torch is not needed to run these tests.
final class RecipeTests: XCTestCase {
    /// Cosine with warm-up: lr 0.1, min 0.01, 5 epochs of 2 steps, 2 warm-up epochs (W = 4, T = 10).
    func testCosineWithWarmUpAtChosenSteps() {
        let s = LRSchedule.cosine(warmupEpochs: 2, minLR: 0.01)
        func rate(_ step: Int) -> Double { s.rate(base: 0.1, step: step, stepsPerEpoch: 2, epochs: 5) }
        XCTAssertEqual(rate(0), 0.025, accuracy: 1e-15)   // 0.1 · 1/4
        XCTAssertEqual(rate(1), 0.05, accuracy: 1e-15)
        XCTAssertEqual(rate(3), 0.1, accuracy: 1e-15)     // warm-up ends at lr
        XCTAssertEqual(rate(4), 0.1, accuracy: 1e-15)     // cosine starts at lr (progress 0)
        XCTAssertEqual(rate(6), 0.0775, accuracy: 1e-15)  // 0.01 + 0.09 · (1 + cos(π/3))/2
        XCTAssertEqual(rate(7), 0.055, accuracy: 1e-15)   // 0.01 + 0.09 · (1 + cos(π/2))/2
        XCTAssertEqual(rate(9), 0.01 + 0.09 * (1 + cos(Double.pi * 5 / 6)) / 2, accuracy: 1e-15)
        XCTAssertEqual(rate(9), 0.016028856829700, accuracy: 1e-12)
        // Without warm-up the first step is at lr.
        XCTAssertEqual(LRSchedule.cosine(warmupEpochs: 0, minLR: 0).rate(base: 0.1, step: 0, stepsPerEpoch: 2, epochs: 5), 0.1)
    }

    /// Step: lr · γ^⌊s / (every · stepsPerEpoch)⌋.
    func testStepScheduleAtChosenSteps() {
        let s = LRSchedule.step(everyEpochs: 2, gamma: 0.5)
        let rates = [0, 5, 6, 11, 12, 30].map { s.rate(base: 0.1, step: $0, stepsPerEpoch: 3, epochs: 10) }
        XCTAssertEqual(rates, [0.1, 0.1, 0.05, 0.05, 0.025, 0.1 * pow(0.5, 5)])
        XCTAssertEqual(LRSchedule.constant.rate(base: 0.003, step: 12345, stepsPerEpoch: 7, epochs: 2), 0.003)
    }

    /// Within 2 units in the last place: torch's `addcdiv_` computes `(−stepSize · m) / denom`,
    /// `Adam` (since before the recipe, whose Adam numbers must not move) `stepSize · (m / denom)`.
    func assertClose(_ a: [Float], _ b: [Float], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a, b) { XCTAssertLessThanOrEqual(abs(x - y), 2 * y.ulp, "\(x) vs torch \(y)", file: file, line: line) }
    }

    /// Two AdamW steps (lr 0.01, wd 0.1) against torch.optim.AdamW's floats.
    func testAdamWMatchesTorch() {
        var p: [Float] = [1.0, -2.0, 0.5, 0.0]
        var adam = Adam(parameterCount: 4, learningRate: 0.01, weightDecay: 0.1)
        adam.step(parameters: &p, gradients: [0.1, -0.2, 0.0, 0.3])
        assertClose(p, [0.9890000224113464, -1.9880000352859497, 0.49950000643730164, -0.009999999776482582])
        XCTAssertEqual(Array(p[0..<3]), [0.9890000224113464, -1.9880000352859497, 0.49950000643730164])
        // Step 1 by hand: p·(1 − 0.001) ∓ lr (sign of g; 0 where g = 0).
        XCTAssertEqual(Double(p[2]), 0.5 * 0.999, accuracy: 1e-7)
        XCTAssertEqual(Double(p[0]), 0.999 - 0.01, accuracy: 1e-7)
        adam.step(parameters: &p, gradients: [0.3, 0.1, -0.4, 0.0])
        assertClose(p, [0.9788332581520081, -1.9833487272262573, 0.5064418911933899, -0.016690582036972046])
    }

    /// With weight decay 0, AdamW is Adam exactly.
    func testZeroWeightDecayIsAdam() {
        var a: [Float] = [1, -2, 3], b = a
        var x = Adam(parameterCount: 3, learningRate: 0.01), y = Adam(parameterCount: 3, learningRate: 0.01, weightDecay: 0)
        x.step(parameters: &a, gradients: [0.1, 0.2, -0.3])
        y.step(parameters: &b, gradients: [0.1, 0.2, -0.3])
        XCTAssertEqual(a, b)
        // And a positive decay changes the numbers.
        var c: [Float] = [1, -2, 3]
        var z = Adam(parameterCount: 3, learningRate: 0.01, weightDecay: 0.5)
        z.step(parameters: &c, gradients: [0.1, 0.2, -0.3])
        XCTAssertNotEqual(a, c)
        XCTAssertEqual(Double(c[2]), 3 * (1 - 0.005) + 0.01, accuracy: 1e-6)
    }

    /// The EMA update equals torch's lerp_ (both of its branches).
    func testEMAUpdateMatchesTorchLerp() {
        let model: [Float] = [1.5, -1.0, 0.25]
        var slow = WeightEMA(decay: 0.999, parameters: [1.0, -2.0, 0.5])
        slow.update(from: model)
        XCTAssertEqual(slow.values, [1.000499963760376, -1.9989999532699585, 0.4997499883174896])
        var fast = WeightEMA(decay: 0.3, parameters: [1.0, -2.0, 0.5])
        fast.update(from: model)
        XCTAssertEqual(fast.values, [1.350000023841858, -1.2999999523162842, 0.32499998807907104])
        // Two updates by hand: e₂ = d²·e₀ + (1 − d²)·p for a fixed p.
        slow.update(from: model)
        XCTAssertEqual(Double(slow.values[0]), 0.999 * 0.999 * 1.0 + (1 - 0.999 * 0.999) * 1.5, accuracy: 1e-6)
    }
}
