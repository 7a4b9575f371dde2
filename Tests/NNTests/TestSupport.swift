import XCTest

/// Small deterministic generator for test data.
struct TestRNG {
    var state: UInt64
    init(_ seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    mutating func float() -> Float { Float(Double(next() >> 11) * 0x1.0p-53 * 2 - 1) }
    mutating func floats(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in float() * scale } }
    mutating func int(below n: Int) -> Int { Int(next() % UInt64(n)) }
    /// `rows` one-hot rows of width `k`, optionally blended (mixup-like) with a second class.
    mutating func softTargets(rows: Int, k: Int, blend: Bool = true) -> [Float] {
        var y = [Float](repeating: 0, count: rows * k)
        for r in 0..<rows {
            let a = int(below: k), b = int(below: k)
            let lam: Float = blend ? 0.5 + 0.5 * abs(float()) : 1
            y[r * k + a] += lam
            y[r * k + b] += 1 - lam
        }
        return y
    }
}

/// ⟨a, b⟩ in Double.
func dot(_ a: [Float], _ b: [Float]) -> Double {
    zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) }
}

/// Central finite differences of `loss` w.r.t. every (or every `stride`-th) element of
/// `x`, compared with `analytic`. Tolerance: |fd − an| ≤ atol + rtol·|an|.
func checkGradient(_ name: String, _ x: inout [Float], analytic: [Float], eps: Float = 1e-2,
                   atol: Float = 2e-3, rtol: Float = 2e-2, stride: Int = 1,
                   file: StaticString = #filePath, line: UInt = #line,
                   loss: ([Float]) -> Double) {
    XCTAssertEqual(x.count, analytic.count, name, file: file, line: line)
    var failures = 0
    var i = 0
    while i < x.count {
        let orig = x[i]
        x[i] = orig + eps
        let lp = loss(x)
        x[i] = orig - eps
        let lm = loss(x)
        x[i] = orig
        let fd = Float((lp - lm) / (2 * Double(eps)))
        if abs(fd - analytic[i]) > atol + rtol * abs(analytic[i]) {
            failures += 1
            if failures <= 5 {
                XCTFail("\(name)[\(i)]: finite difference \(fd) vs analytic \(analytic[i])", file: file, line: line)
            }
        }
        i += stride
    }
}

func assertClose(_ a: [Float], _ b: [Float], tol: Float, _ msg: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, msg, file: file, line: line)
    var worst: Float = 0, at = 0
    for i in 0..<min(a.count, b.count) {
        let d = abs(a[i] - b[i]) / max(1, abs(b[i]))
        if d > worst { worst = d; at = i }
    }
    XCTAssertLessThanOrEqual(worst, tol, "\(msg): worst relative error \(worst) at \(at)", file: file, line: line)
}
