import XCTest
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MixCore

/// The exact Beta CDF: the regularized incomplete beta function I_x(a, b),
/// evaluated with the continued fraction of Numerical Recipes (betacf, modified Lentz).
enum ExactBeta {
    static func cdf(_ x: Double, _ a: Double, _ b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logFront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x)
        let front = exp(logFront)
        // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use symmetry otherwise.
        if x < (a + 1) / (a + b + 2) {
            return front * continuedFraction(x, a, b) / a
        } else {
            return 1 - front * continuedFraction(1 - x, b, a) / b
        }
    }

    static func continuedFraction(_ x: Double, _ a: Double, _ b: Double) -> Double {
        let maxIterations = 1000
        let eps = 1e-15
        let tiny = 1e-300
        let qab = a + b, qap = a + 1, qam = a - 1
        var c = 1.0
        var d = 1 - qab * x / qap
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1 ... maxIterations {
            let m = Double(m), m2 = 2 * m
            // Even step.
            var aa = m * (b - m) * x / ((qam + m2) * (a + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            // Odd step.
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < eps { return h }
        }
        preconditionFailure("betacf did not converge for a=\(a) b=\(b) x=\(x)")
    }

    /// x with I_x(a, b) = q, by bisection.
    static func quantile(_ q: Double, _ a: Double, _ b: Double) -> Double {
        var lo = 0.0, hi = 1.0
        for _ in 0 ..< 200 {
            let mid = (lo + hi) / 2
            if mid <= lo || mid >= hi { break }
            if cdf(mid, a, b) < q { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }
}

final class BetaSamplingTests: XCTestCase {
    static let n = 100_000

    /// Beta(α, α) draws from a fixed key (one per α, so tests are deterministic).
    private func draws(_ alpha: Double) -> [Double] {
        var rng = CounterRNG(seed: 0x5EED_BE7A, stream: .test, epoch: UInt32(alpha * 1000))
        return (0 ..< Self.n).map { _ in rng.beta(alpha, alpha) }
    }

    // MARK: the exact CDF itself

    func testExactCDFSanity() {
        // Beta(1,1) is uniform; Beta(2,2) has CDF 3x² − 2x³; Beta(a,1) has CDF x^a.
        for x in stride(from: 0.01, to: 1, by: 0.07) {
            XCTAssertEqual(ExactBeta.cdf(x, 1, 1), x, accuracy: 1e-13)
            XCTAssertEqual(ExactBeta.cdf(x, 2, 2), 3 * x * x - 2 * x * x * x, accuracy: 1e-13)
            XCTAssertEqual(ExactBeta.cdf(x, 0.2, 1), pow(x, 0.2), accuracy: 1e-13)
            // Symmetry I_x(a, a) = 1 − I_{1−x}(a, a).
            XCTAssertEqual(ExactBeta.cdf(x, 0.2, 0.2), 1 - ExactBeta.cdf(1 - x, 0.2, 0.2), accuracy: 1e-13)
        }
        XCTAssertEqual(ExactBeta.cdf(0.5, 0.2, 0.2), 0.5, accuracy: 1e-13)
        XCTAssertEqual(ExactBeta.quantile(0.9, 2, 2), 0.8041998943409084, accuracy: 1e-12)  // root of 3x²−2x³ = 0.9
    }

    // MARK: Beta(α, α)

    private func checkBeta(_ alpha: Double, file: StaticString = #filePath, line: UInt = #line) {
        let n = Self.n
        let nd = Double(n)
        var x = draws(alpha)
        for v in x {
            if !(v >= 0 && v <= 1) {
                XCTFail("Beta(\(alpha)) draw \(v) outside [0, 1]", file: file, line: line)
                return
            }
        }

        // Moments: mean 1/2, variance σ² = 1/(4(2α+1)), excess kurtosis −6/(2α+3).
        let sigma2 = 1 / (4 * (2 * alpha + 1))
        let mu4 = sigma2 * sigma2 * (3 - 6 / (2 * alpha + 3))
        let mean = x.reduce(0, +) / nd
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (nd - 1)
        let seMean = (sigma2 / nd).squareRoot()
        // Var(s²) = (μ4 − σ⁴ (n−3)/(n−1)) / n.
        let seVariance = ((mu4 - sigma2 * sigma2 * (nd - 3) / (nd - 1)) / nd).squareRoot()
        XCTAssertEqual(mean, 0.5, accuracy: 4 * seMean, "Beta(\(alpha)) mean", file: file, line: line)
        XCTAssertEqual(variance, sigma2, accuracy: 4 * seVariance, "Beta(\(alpha)) variance", file: file, line: line)

        // Quantiles: the empirical CDF at the exact x_q is q within 4 binomial standard errors.
        x.sort()
        func countAtMost(_ t: Double) -> Int {
            var lo = 0, hi = n
            while lo < hi {
                let mid = (lo + hi) / 2
                if x[mid] <= t { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
        for q in [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99] {
            let xq = ExactBeta.quantile(q, alpha, alpha)
            let empirical = Double(countAtMost(xq)) / nd
            XCTAssertEqual(empirical, q, accuracy: 4 * (q * (1 - q) / nd).squareRoot(),
                           "Beta(\(alpha)) F̂(x_\(q) = \(xq))", file: file, line: line)
        }

        // Kolmogorov–Smirnov against the exact CDF, below the 1% critical value.
        var ks = 0.0
        for (i, v) in x.enumerated() {
            let f = ExactBeta.cdf(v, alpha, alpha)
            ks = max(ks, f - Double(i) / nd, Double(i + 1) / nd - f)
        }
        XCTAssertLessThan(ks, 1.63 / nd.squareRoot(), "Beta(\(alpha)) KS statistic", file: file, line: line)
    }

    func testBeta02() { checkBeta(0.2) }
    func testBeta1() { checkBeta(1) }
    func testBeta2() { checkBeta(2) }

    func testBetaEdgeValues() {
        // α = 2: never NaN, never exactly 0 or 1.
        for v in draws(2) {
            XCTAssertFalse(v.isNaN)
            XCTAssertTrue(v > 0 && v < 1, "Beta(2,2) draw \(v)")
        }
        // α = 0.2: mass piles up at the ends but every draw is a number in [0, 1].
        var rng = CounterRNG(seed: 77, stream: .test, epoch: 2)
        for _ in 0 ..< Self.n {
            let v = rng.beta(0.2, 0.2)
            XCTAssertFalse(v.isNaN)
            XCTAssertTrue(v >= 0 && v <= 1, "Beta(0.2,0.2) draw \(v)")
        }
        // Very small shapes stay finite too (log-space boost).
        for _ in 0 ..< 1000 {
            let v = rng.beta(0.01, 0.01)
            XCTAssertTrue(v >= 0 && v <= 1, "Beta(0.01,0.01) draw \(v)")
            XCTAssertTrue(rng.logGamma(shape: 0.01).isFinite)
        }
        // Asymmetric: Beta(2, 5) has mean 2/7.
        var sum = 0.0
        for _ in 0 ..< 20_000 { sum += rng.beta(2, 5) }
        let sd = (2.0 * 5 / (49 * 8)).squareRoot() / 20_000.0.squareRoot()
        XCTAssertEqual(sum / 20_000, 2.0 / 7, accuracy: 4 * sd)
    }

    // MARK: the bounds pipelines accept (MixConfig.minAlpha, maxAlpha)

    /// α = 0.001, the smallest `mix.alpha` a pipeline accepts (issue 22: 1e-320 was accepted
    /// and λ came out NaN). Every one of 100,000 draws is a number in [0, 1]; mean and
    /// variance are Beta(α, α)'s; and since most of the mass lies within 1e-300 of 0 or 1,
    /// where quantiles underflow, the distribution is checked through the exact CDF at
    /// fixed points instead (the empirical fraction below each within 4 binomial errors).
    func testBetaAtTheSmallestAlphaPipelinesAccept() {
        let alpha = 0.001
        let n = Self.n, nd = Double(n)
        let x = draws(alpha)
        XCTAssertTrue(x.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 }, "a draw outside [0, 1]: \(x.first { !($0 >= 0 && $0 <= 1) } ?? 0)")
        let sigma2 = 1 / (4 * (2 * alpha + 1))
        let mu4 = sigma2 * sigma2 * (3 - 6 / (2 * alpha + 3))
        let mean = x.reduce(0, +) / nd
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (nd - 1)
        XCTAssertEqual(mean, 0.5, accuracy: 4 * (sigma2 / nd).squareRoot())
        XCTAssertEqual(variance, sigma2, accuracy: 4 * ((mu4 - sigma2 * sigma2 * (nd - 3) / (nd - 1)) / nd).squareRoot())
        for t in [1e-300, 1e-100, 1e-10, 0.01, 0.25, 0.75, 0.99, 1 - 1e-10] {
            let q = ExactBeta.cdf(t, alpha, alpha)
            let empirical = Double(x.filter { $0 <= t }.count) / nd
            XCTAssertEqual(empirical, q, accuracy: 4 * (q * (1 - q) / nd).squareRoot(), "F̂(\(t)) vs I_t(α, α) = \(q)")
        }
        // What the bound means for mixing: as a Float (the λ shards store), λ is strictly
        // between 0 and 1 only from 2^-150 (half the smallest subnormal) to 1 − 2^-25, that
        // is for 5.8% of the draws; the other 94.2% copy one of the two images.
        let between = Double(x.filter { Float($0) > 0 && Float($0) < 1 }.count) / nd
        let exact = ExactBeta.cdf(1 - 0x1p-25, alpha, alpha) - ExactBeta.cdf(0x1p-150, alpha, alpha)
        XCTAssertEqual(exact, 0.058, accuracy: 0.0005)
        XCTAssertEqual(between, exact, accuracy: 4 * (exact * (1 - exact) / nd).squareRoot())
    }

    /// α = 1,000,000, the largest `mix.alpha` a pipeline accepts: finite, and λ is
    /// 0.5 within a few 1/(2√(2α)) ≈ 0.00035.
    func testBetaAtTheLargestAlphaPipelinesAccept() {
        let alpha = 1_000_000.0
        let nd = Double(Self.n)
        var rng = CounterRNG(seed: 0x5EED_BE7A, stream: .test, epoch: 999)
        let x = (0 ..< Self.n).map { _ in rng.beta(alpha, alpha) }
        XCTAssertTrue(x.allSatisfy { $0.isFinite && $0 > 0.49 && $0 < 0.51 })
        let sigma2 = 1 / (4 * (2 * alpha + 1))
        let mean = x.reduce(0, +) / nd
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (nd - 1)
        XCTAssertEqual(mean, 0.5, accuracy: 4 * (sigma2 / nd).squareRoot())
        // Nearly normal: Var(s²) ≈ 2σ⁴/n.
        XCTAssertEqual(variance, sigma2, accuracy: 4 * sigma2 * (2 / nd).squareRoot())
    }

    // MARK: Gamma(shape, 1)

    func testGammaMoments() {
        let n = Self.n
        let nd = Double(n)
        for shape in [0.2, 1, 2.5] {
            var rng = CounterRNG(seed: 31337, stream: .test, epoch: UInt32(shape * 10))
            var g = [Double](repeating: 0, count: n)
            for i in 0 ..< n {
                g[i] = rng.gamma(shape: shape)
                XCTAssertTrue(g[i].isFinite && g[i] >= 0, "Gamma(\(shape)) draw \(g[i])")
            }
            let mean = g.reduce(0, +) / nd
            let variance = g.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (nd - 1)
            // Gamma(k, 1): mean k, variance k, central fourth moment 3k² + 6k.
            let k = shape
            let mu4 = 3 * k * k + 6 * k
            let seMean = (k / nd).squareRoot()
            let seVariance = ((mu4 - k * k * (nd - 3) / (nd - 1)) / nd).squareRoot()
            XCTAssertEqual(mean, k, accuracy: 4 * seMean, "Gamma(\(shape)) mean")
            XCTAssertEqual(variance, k, accuracy: 4 * seVariance, "Gamma(\(shape)) variance")
        }
    }
}
