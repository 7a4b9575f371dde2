import TestSupport
import XCTest

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
