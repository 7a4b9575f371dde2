import XCTest
import MixCore

final class CounterRNGTests: XCTestCase {
    private func assertBlock(_ got: (UInt32, UInt32, UInt32, UInt32), _ want: (UInt32, UInt32, UInt32, UInt32),
                             _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual([got.0, got.1, got.2, got.3], [want.0, want.1, want.2, want.3], message, file: file, line: line)
    }

    /// Known-answer vectors from Random123 (kat_vectors, philox4x32 with 10 rounds).
    func testPhiloxKnownAnswers() {
        assertBlock(philox4x32((0, 0, 0, 0), key: (0, 0)),
                    (0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8), "zero counter, zero key")
        assertBlock(philox4x32((0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF), key: (0xFFFF_FFFF, 0xFFFF_FFFF)),
                    (0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD), "all-ones counter and key")
        assertBlock(philox4x32((0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344), key: (0xA409_3822, 0x299F_31D0)),
                    (0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1), "pi digits")
    }

    /// Word n of a stream is word n % 4 of Philox((n / 4, position, epoch, stream), seed).
    func testStreamLayout() {
        let seed: UInt64 = 0x0123_4567_89AB_CDEF
        var rng = CounterRNG(seed: seed, stream: .sample, epoch: 7, position: 12345)
        let key = (UInt32(0x89AB_CDEF), UInt32(0x0123_4567))
        for block in UInt32(0) ..< 5 {
            let b = philox4x32((block, 12345, 7, RNGStream.sample.rawValue), key: key)
            for word in [b.0, b.1, b.2, b.3] {
                XCTAssertEqual(rng.nextUInt32(), word)
            }
        }
        // next() is the high word followed by the low word.
        var a = CounterRNG(seed: 5, stream: .test)
        var b = CounterRNG(seed: 5, stream: .test)
        let hi = UInt64(b.nextUInt32()), lo = UInt64(b.nextUInt32())
        XCTAssertEqual(a.next(), hi << 32 | lo)
    }

    private func words(_ rng: CounterRNG, _ n: Int = 16) -> [UInt32] {
        var r = rng
        return (0 ..< n).map { _ in r.nextUInt32() }
    }

    func testDeterminismAndIndependence() {
        let base = CounterRNG(seed: 42, stream: .sample, epoch: 3, position: 9)
        XCTAssertEqual(words(base), words(CounterRNG(seed: 42, stream: .sample, epoch: 3, position: 9)))
        let variants = [
            CounterRNG(seed: 43, stream: .sample, epoch: 3, position: 9),
            CounterRNG(seed: 42 | (1 << 40), stream: .sample, epoch: 3, position: 9), // high half of the seed matters
            CounterRNG(seed: 42, stream: .order, epoch: 3, position: 9),
            CounterRNG(seed: 42, stream: .sample, epoch: 4, position: 9),
            CounterRNG(seed: 42, stream: .sample, epoch: 3, position: 10),
        ]
        var all = Set([words(base)])
        for v in variants {
            let w = words(v)
            XCTAssertNotEqual(w, words(base))
            all.insert(w)
        }
        XCTAssertEqual(all.count, variants.count + 1, "every key gives its own stream")
        // Drawing from one stream never shifts another.
        var x = CounterRNG(seed: 1, stream: .sample, position: 0)
        for _ in 0 ..< 1000 { _ = x.next() }
        XCTAssertEqual(words(CounterRNG(seed: 1, stream: .sample, position: 1)),
                       words(CounterRNG(seed: 1, stream: .sample, position: 1)))
        // Uniform and distribution draws are reproducible too.
        var r1 = CounterRNG(seed: 99, stream: .test)
        var r2 = CounterRNG(seed: 99, stream: .test)
        for _ in 0 ..< 100 {
            XCTAssertEqual(r1.uniform(), r2.uniform())
            XCTAssertEqual(r1.beta(0.2, 0.2), r2.beta(0.2, 0.2))
            XCTAssertEqual(r1.uniformInt(below: 1000), r2.uniformInt(below: 1000))
        }
    }

    func testUniformIntRangeAndChiSquare() {
        var rng = CounterRNG(seed: 2024, stream: .test)
        let n = 100_000
        var counts = [Int](repeating: 0, count: 10)
        for _ in 0 ..< n {
            let k = rng.uniformInt(below: 10)
            XCTAssertTrue((0 ..< 10).contains(k))
            counts[k] += 1
        }
        let expected = Double(n) / 10
        let chi2 = counts.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
        // 9 degrees of freedom: P(χ² > 27.88) = 0.001.
        XCTAssertLessThan(chi2, 27.88, "counts \(counts)")

        // Other bounds, including 1, non-powers of two and huge ones (where rejection matters).
        for bound in [1, 2, 3, 7, 1000, 50_000, Int(UInt32.max) + 5, Int.max / 3 * 2, Int.max] {
            var sum = 0.0
            for _ in 0 ..< 2000 {
                let k = rng.uniformInt(below: bound)
                XCTAssertTrue(k >= 0 && k < bound, "\(k) not below \(bound)")
                sum += Double(k)
            }
            if bound > 1000 {
                // Mean of 2000 uniforms on [0, bound) within 5 standard errors.
                let mean = sum / 2000, sd = Double(bound) / 12.0.squareRoot() / 2000.0.squareRoot()
                XCTAssertEqual(mean, Double(bound) / 2, accuracy: 5 * sd, "bound \(bound)")
            }
        }
        for _ in 0 ..< 100 { XCTAssertEqual(rng.uniformInt(below: 1), 0) }
    }

    func testUniformRangeAndMean() {
        var rng = CounterRNG(seed: 7, stream: .test, epoch: 1)
        let n = 100_000
        var sum = 0.0, sumSq = 0.0
        var lo = 1.0, hi = 0.0
        var positiveMin = 1.0
        for _ in 0 ..< n {
            let u = rng.uniform()
            XCTAssertTrue(u >= 0 && u < 1, "\(u)")
            sum += u
            sumSq += u * u
            lo = min(lo, u)
            hi = max(hi, u)
            let v = rng.uniformPositive()
            XCTAssertTrue(v > 0 && v <= 1, "\(v)")
            positiveMin = min(positiveMin, v)
        }
        let mean = sum / Double(n)
        XCTAssertEqual(mean, 0.5, accuracy: 4 * (1.0 / 12 / Double(n)).squareRoot())
        let variance = sumSq / Double(n) - mean * mean
        XCTAssertEqual(variance, 1.0 / 12, accuracy: 0.002)
        XCTAssertLessThan(lo, 1e-3)
        XCTAssertGreaterThan(hi, 1 - 1e-3)
        XCTAssertLessThan(positiveMin, 1e-3)
    }

    func testNormalMoments() {
        var rng = CounterRNG(seed: 11, stream: .test)
        let n = 100_000
        var sum = 0.0, sumSq = 0.0
        for _ in 0 ..< n {
            let z = rng.normal()
            XCTAssertTrue(z.isFinite)
            sum += z
            sumSq += z * z
        }
        let mean = sum / Double(n)
        let variance = sumSq / Double(n) - mean * mean
        XCTAssertEqual(mean, 0, accuracy: 4 / Double(n).squareRoot())
        // Var of the sample variance of N(0,1) is 2/n.
        XCTAssertEqual(variance, 1, accuracy: 4 * (2 / Double(n)).squareRoot())
    }

    func testConformsToRandomNumberGenerator() {
        var rng = CounterRNG(seed: 3, stream: .shuffle)
        var a = Array(0 ..< 100)
        a.shuffle(using: &rng)
        XCTAssertEqual(a.sorted(), Array(0 ..< 100))
        XCTAssertNotEqual(a, Array(0 ..< 100))
    }
}
