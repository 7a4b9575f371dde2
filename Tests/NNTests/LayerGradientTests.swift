import Kernels
import NN
import TestSupport
import XCTest

/// Finite-difference checks of every layer's backward pass the network uses (its
/// convolutions are checked by KernelsTests' im2col/GEMM tests, WinogradTests and
/// SeedCNNTests' whole-network gradient). Each uses the scalar
/// L = ⟨r, layer(x)⟩ for a fixed random r, so ∂L/∂output = r.
final class LayerGradientTests: XCTestCase {
    override func setUp() { setThreads(2) }

    func testReLUGradient() {
        var rng = TestRNG(12)
        var x = rng.floats(50).map { abs($0) < 0.05 ? $0 + 0.1 : $0 }  // stay away from the kink
        let r = rng.floats(50)
        var y = [Float](repeating: 0, count: 50), dx = [Float](repeating: 0, count: 50)
        ReLU.forward(x, &y, count: 50)
        XCTAssertEqual(y, x.map { max($0, 0) })
        ReLU.backward(output: y, dOutput: r, dInput: &dx, count: 50)
        checkGradient("relu", &x, analytic: dx) { x in
            var y = [Float](repeating: 0, count: 50)
            ReLU.forward(x, &y, count: 50)
            return dot(y, r)
        }
    }

    /// The fused bias+ReLU+pool equals pool(relu(x + b)) and has the right gradients, on square
    /// and non-square planes.
    func testBiasReLUMaxPoolMatchesCompositionAndGradient() {
        var rng = TestRNG(14)
        for (H, W) in [(4, 4), (4, 6), (6, 2)] {
            checkBiasReLUMaxPool(C: 3, P: 2, H: H, W: W, rng: &rng)
        }
    }

    func checkBiasReLUMaxPool(C: Int, P: Int, H: Int, W: Int, rng: inout TestRNG) {
        var x = rng.floats(C * P * H * W)
        var b = rng.floats(C, scale: 0.3)
        let n = C * P * (H / 2) * (W / 2)
        let r = rng.floats(n)
        func fused(_ x: [Float], _ b: [Float]) -> ([Float], [UInt8]) {
            var y = [Float](repeating: 0, count: n), am = [UInt8](repeating: 0, count: n)
            BiasReLUMaxPool.forward(x, bias: b, channels: C, planesPerChannel: P, height: H, width: W,
                                    output: &y, argmax: &am)
            return (y, am)
        }
        // Composition with the separate layers.
        var xb = x
        for i in 0..<xb.count { xb[i] += b[i / (P * H * W)] }
        var relu = [Float](repeating: 0, count: xb.count)
        ReLU.forward(xb, &relu, count: xb.count)
        // 2×2 max-pool, written out: the first maximum of each window wins.
        let (OH, OW) = (H / 2, W / 2)
        var ref = [Float](repeating: 0, count: n), refArgmax = [UInt8](repeating: 0, count: n)
        for p in 0..<(C * P) { for oy in 0..<OH { for ox in 0..<OW {
            let window = [relu[p * H * W + 2 * oy * W + 2 * ox], relu[p * H * W + 2 * oy * W + 2 * ox + 1],
                          relu[p * H * W + (2 * oy + 1) * W + 2 * ox], relu[p * H * W + (2 * oy + 1) * W + 2 * ox + 1]]
            ref[(p * OH + oy) * OW + ox] = window.max()!
            refArgmax[(p * OH + oy) * OW + ox] = UInt8(window.firstIndex(of: window.max()!)!)
        } } }
        let (y, fam) = fused(x, b)
        assertClose(y, ref, tol: 1e-6, "fused vs composed")
        // Where the pooled value is positive, the fused kernel picked the same window position.
        for i in 0..<n where y[i] > 0 { XCTAssertEqual(fam[i], refArgmax[i], "argmax \(i)") }
        var dx = [Float](repeating: .nan, count: x.count), db = [Float](repeating: .nan, count: C)
        BiasReLUMaxPool.backward(dOutput: r, output: y, argmax: fam, channels: C, planesPerChannel: P,
                                 height: H, width: W, dInput: &dx, dBias: &db)
        checkGradient("fused.x", &x, analytic: dx, eps: 1e-3) { dot(fused($0, b).0, r) }
        checkGradient("fused.b", &b, analytic: db, eps: 1e-3) { dot(fused(x, $0).0, r) }
    }

    func testLinearGradients() {
        var rng = TestRNG(15)
        let (B, I, O) = (3, 5, 4)
        let fc = Linear(inFeatures: I, outFeatures: O)
        var x = rng.floats(B * I), w = rng.floats(O * I), b = rng.floats(O)
        let r = rng.floats(B * O)
        func run(_ x: [Float], _ w: [Float], _ b: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: B * O)
            fc.forward(x, weight: w, bias: b, output: &y, batch: B)
            return y
        }
        // Value check: y[0][0] = Σ x[0][i]·w[0][i] + b[0]
        var y00 = b[0]
        for i in 0..<I { y00 += x[i] * w[i] }
        XCTAssertEqual(run(x, w, b)[0], y00, accuracy: 1e-5)
        var dx = [Float](repeating: 0, count: x.count), dw = [Float](repeating: 0, count: w.count)
        var db = [Float](repeating: 0, count: O)
        fc.backward(x, weight: w, dOutput: r, dWeight: &dw, dBias: &db, dInput: &dx, batch: B)
        checkGradient("linear.x", &x, analytic: dx) { dot(run($0, w, b), r) }
        checkGradient("linear.w", &w, analytic: dw) { dot(run(x, $0, b), r) }
        checkGradient("linear.b", &b, analytic: db) { dot(run(x, w, $0), r) }
    }

    func testSoftTargetCrossEntropyValueAndGradient() {
        // Hand value: logits (0, ln 3) → softmax (1/4, 3/4); target (0.5, 0.5)
        // loss = −0.5·ln(1/4) − 0.5·ln(3/4) = 0.5·(ln 4 + ln 4/3).
        let z: [Float] = [0, Float(log(3.0))], y: [Float] = [0.5, 0.5]
        var d = [Float](repeating: 0, count: 2)
        let l = SoftTargetCrossEntropy.forward(logits: z, targets: y, batch: 1, classes: 2, dLogits: &d)
        XCTAssertEqual(l, Float(0.5 * (log(4.0) + log(4.0 / 3.0))), accuracy: 1e-6)
        XCTAssertEqual(d[0], 0.25 - 0.5, accuracy: 1e-6)
        XCTAssertEqual(d[1], 0.75 - 0.5, accuracy: 1e-6)

        var rng = TestRNG(16)
        let (B, K) = (4, 5)
        var logits = rng.floats(B * K, scale: 3)
        let targets = rng.softTargets(rows: B, k: K)
        var grad = [Float](repeating: 0, count: B * K)
        let loss = SoftTargetCrossEntropy.forward(logits: logits, targets: targets, batch: B, classes: K, dLogits: &grad)
        // gradient = (softmax − y) / B for rows summing to 1
        for b in 0..<B {
            let row = logits[(b * K)..<(b * K + K)].map { Double($0) }
            let m = row.max()!
            let s = row.reduce(0) { $0 + exp($1 - m) }
            for k in 0..<K {
                let p = exp(row[k] - m) / s
                XCTAssertEqual(grad[b * K + k], Float((p - Double(targets[b * K + k])) / Double(B)), accuracy: 1e-6)
            }
        }
        checkGradient("softCE", &logits, analytic: grad, eps: 1e-3, atol: 1e-4) { z in
            Double(SoftTargetCrossEntropy.forward(logits: z, targets: targets, batch: B, classes: K))
        }
        let ev = SoftTargetCrossEntropy.evaluate(logits: logits, targets: targets, batch: B, classes: K)
        XCTAssertEqual(ev.lossSum / Double(B), Double(loss), accuracy: 1e-5)
    }

    func testEvaluateCountsArgmaxMatches() {
        let z: [Float] = [1, 2, 0,   5, 1, 1,   0, 0, 3]
        let y: [Float] = [0, 1, 0,   0.3, 0.7, 0,   0, 0, 1]
        let r = SoftTargetCrossEntropy.evaluate(logits: z, targets: y, batch: 3, classes: 3)
        XCTAssertEqual(r.correct, 2)
    }
}
