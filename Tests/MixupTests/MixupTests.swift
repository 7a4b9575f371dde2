import MixCore
import Mixup
import XCTest

final class EpochPlanTests: XCTestCase {
    func plan(_ mode: MixMode, p: Double = 0.2, alpha: Double = 0.2, n: Int = 50_000, epoch: Int = 0, seed: UInt64 = 0,
              block: Int = 128) -> EpochPlan {
        EpochPlan(config: MixConfig(mode: mode, p: p, alpha: alpha, block: block), seed: seed, epoch: epoch, count: n, height: 32, width: 32)
    }

    func testOrderIsASeededPermutationThatChangesPerEpoch() {
        let a = plan(.sample, epoch: 0), b = plan(.sample, epoch: 1), a2 = plan(.sample, epoch: 0)
        XCTAssertEqual(a.order.sorted(), Array(0..<50_000))
        XCTAssertEqual(a.order, a2.order)
        XCTAssertNotEqual(a.order, b.order)
        XCTAssertNotEqual(a.order, plan(.sample, epoch: 0, seed: 1).order)
    }

    func testFractionMixedWithinFourSigmaOfP() {
        for p in [0.2, 0.5, 0.9] {
            let n = 50_000
            let pl = plan(.sample, p: p, n: n)
            let mixed = (0..<n).filter { pl.decision(at: $0).mixed }.count
            let sigma = (Double(n) * p * (1 - p)).squareRoot()
            XCTAssertLessThan(abs(Double(mixed) - Double(n) * p), 4 * sigma, "p \(p): \(mixed) mixed of \(n)")
        }
        XCTAssertEqual((0..<1000).filter { plan(.sample, p: 0, n: 1000).decision(at: $0).mixed }.count, 0)
        XCTAssertEqual((0..<1000).filter { plan(.sample, p: 1, n: 1000).decision(at: $0).mixed }.count, 1000)
    }

    func testPAppliesOnceInEveryMode() {
        let n = 20_000, p = 0.3
        for mode in [MixMode.sample, .batch, .cutmix] {
            let pl = plan(mode, p: p, n: n)
            let mixed = (0..<n).filter { pl.decision(at: $0).mixed }.count
            XCTAssertLessThan(abs(Double(mixed) - Double(n) * p), 4 * (Double(n) * p * (1 - p)).squareRoot(), "\(mode)")
        }
        XCTAssertTrue((0..<1000).allSatisfy { !plan(.none, p: 1, n: 1000).decision(at: $0).mixed })
    }

    func testDecisionsArePureFunctionsOfPosition() {
        let pl = plan(.sample, p: 0.5, n: 1000)
        let forward = (0..<1000).map { pl.decision(at: $0) }
        let backward = (0..<1000).reversed().map { pl.decision(at: $0) }.reversed()
        XCTAssertEqual(forward, Array(backward))
        XCTAssertEqual(forward, (0..<1000).map { plan(.sample, p: 0.5, n: 1000).decision(at: $0) })
    }

    func testUnmixedSamplesHavePartnerPrimaryAndLambdaOne() {
        let pl = plan(.sample, p: 0.2, n: 5000)
        for k in 0..<5000 {
            let d = pl.decision(at: k)
            XCTAssertEqual(d.primary, pl.order[k])
            if !d.mixed {
                XCTAssertEqual(d.partner, d.primary)
                XCTAssertEqual(d.lambda, 1)
            } else {
                XCTAssertTrue((0...1).contains(d.lambda))
                XCTAssertTrue((0..<5000).contains(d.partner))
            }
        }
    }

    func testBatchModeSharesLambdaPerBlockAndPermutesPartnersWithinIt() {
        let n = 1000, block = 128
        let pl = plan(.batch, p: 1, n: n, block: block)
        for start in stride(from: 0, to: n, by: block) {
            let positions = start..<min(start + block, n)
            let ds = positions.map { pl.decision(at: $0) }
            XCTAssertEqual(Set(ds.map(\.lambda)).count, 1, "block at \(start)")
            // Partners are the block's primaries, each once.
            XCTAssertEqual(ds.map(\.partner).sorted(), ds.map(\.primary).sorted())
        }
        XCTAssertNotEqual(pl.decision(at: 0).lambda, pl.decision(at: 128).lambda)
    }

    func testCutMixLambdaIsTheKeptFraction() {
        let pl = plan(.cutmix, p: 1, alpha: 1, n: 2000)
        var boxes = 0
        for k in 0..<2000 {
            let d = pl.decision(at: k)
            if let b = d.box {
                boxes += 1
                XCTAssertTrue(b.x0 >= 0 && b.x1 <= 32 && b.y0 >= 0 && b.y1 <= 32 && b.x0 < b.x1 && b.y0 < b.y1)
                XCTAssertEqual(d.lambda, Float(1024 - (b.x1 - b.x0) * (b.y1 - b.y0)) / 1024)
            } else {
                XCTAssertEqual(d.lambda, 1)
            }
        }
        XCTAssertGreaterThan(boxes, 1500)
    }

    func testValidationNamesTheKey() {
        XCTAssertEqual(MixConfig(alpha: 0).problems().first?.hasPrefix("mix.alpha"), true)
        XCTAssertEqual(MixConfig(p: 1.5).problems().first?.hasPrefix("mix.p"), true)
        XCTAssertEqual(MixConfig(smoothing: 1).problems().first?.hasPrefix("mix.smoothing"), true)
        XCTAssertEqual(MixConfig(block: 0).problems().first?.hasPrefix("mix.block"), true)
        XCTAssertTrue(MixConfig().problems().isEmpty)
    }

    /// `mix.alpha = 1e-320` used to pass validation; λ came out NaN and `mixprep run` trapped
    /// converting it (issue 22). Alpha is accepted from 0.001 to 1,000,000, and nothing
    /// non-finite passes any float key.
    func testAlphaOutsideItsRangeAndNonFiniteValuesAreRefused() {
        for alpha in [1e-320, 5e-324, 1e-308, 0.000_999, 0, -1, 1_000_000.5, 1e308, .greatestFiniteMagnitude, .infinity, .nan] {
            XCTAssertEqual(MixConfig(alpha: alpha).problems(prefix: "arms.a."),
                           ["arms.a.alpha must be from 0.001 to 1,000,000 (got \(alpha))"], "\(alpha)")
        }
        XCTAssertEqual(MixConfig(alpha: 1e-320).problems(), ["mix.alpha must be from 0.001 to 1,000,000 (got 1e-320)"])
        for alpha in [MixConfig.minAlpha, 0.2, 1, MixConfig.maxAlpha] {
            XCTAssertEqual(MixConfig(alpha: alpha).problems(), [], "\(alpha)")
        }
        for bad in [Double.nan, .infinity, -.infinity] {
            XCTAssertEqual(MixConfig(p: bad).problems(), ["mix.p must be in [0, 1] (got \(bad))"])
            XCTAssertEqual(MixConfig(smoothing: bad).problems(), ["mix.smoothing must be in [0, 1) (got \(bad))"])
        }
    }

    /// At both ends of the accepted α, every mode draws a finite λ in [0, 1] at every
    /// position, and the image and label of each decision are computed (no trap).
    func testAlphaAtItsBoundsGivesFiniteLambdaInEveryMode() {
        let source = ImageStore(LabeledImages(channels: 1, height: 32, width: 32,
                                              images: (0..<(3 * 1024)).map { UInt8(truncatingIfNeeded: $0 * 7) }, labels: [0, 1, 2]))
        var image = [UInt8](repeating: 0, count: 1024)
        var label = [Float](repeating: 0, count: 3)
        for alpha in [MixConfig.minAlpha, MixConfig.maxAlpha] {
            for mode in [MixMode.sample, .batch, .cutmix] {
                let config = MixConfig(mode: mode, p: 1, alpha: alpha, block: 16)
                var extremes = 0
                for epoch in 0..<2000 {
                    let plan = EpochPlan(config: config, seed: 7, epoch: epoch, count: 3, height: 32, width: 32)
                    for k in 0..<3 {
                        let d = plan.decision(at: k)
                        XCTAssertTrue(d.mixed && d.lambda.isFinite && d.lambda >= 0 && d.lambda <= 1, "α \(alpha) \(mode): λ \(d.lambda)")
                        if d.lambda == 0 || d.lambda == 1 { extremes += 1 }
                        image.withUnsafeMutableBufferPointer { Mixer.image(d, source: source, into: $0.baseAddress!) }
                        label.withUnsafeMutableBufferPointer { Mixer.label(d, source: source, classCount: 3, smoothing: 0, into: $0.baseAddress!) }
                        XCTAssertEqual(label.reduce(0, +), 1, accuracy: 1e-6)
                    }
                }
                // At α = 0.001 nearly every λ is 0 or 1 (94%; cutmix: about half have no box,
                // the others a box of the whole side, clipped); at 1,000,000 none is (cutmix:
                // the box is about 22×22, so 53% to 100% is kept, never all).
                if alpha == MixConfig.minAlpha {
                    XCTAssertGreaterThan(extremes, mode == .cutmix ? 2700 : 5400, "α \(alpha) \(mode)")
                } else {
                    XCTAssertEqual(extremes, 0, "α \(alpha) \(mode)")
                }
            }
        }
    }
}

final class MixerTests: XCTestCase {
    let source = LabeledImages(channels: 1, height: 2, width: 2, images: [0, 100, 200, 255, 50, 50, 50, 50], labels: [2, 0])

    func testBlendRoundsHalfAwayFromZero() {
        XCTAssertEqual(Mixer.blend(1, 0, lambda: 0.5), 1)     // 0.5 → 1
        XCTAssertEqual(Mixer.blend(3, 0, lambda: 0.5), 2)     // 1.5 → 2
        XCTAssertEqual(Mixer.blend(255, 0, lambda: 1), 255)
        XCTAssertEqual(Mixer.blend(0, 255, lambda: 0), 255)
        XCTAssertEqual(Mixer.blend(200, 100, lambda: 0.25), 125)
    }

    /// The vectorised row is `blend` bit for bit: every byte pair, at λ values that make ties
    /// (0.5, 0.25), the ends, values just inside them and seeded draws; row lengths that leave
    /// tails of every size.
    func testBlendRowIsBlendOnEveryBytePair() {
        var a = [UInt8](), b = [UInt8]()
        for x in 0...255 { for y in 0...255 { a.append(UInt8(x)); b.append(UInt8(y)) } }
        var rng = CounterRNG(seed: 9, stream: .sample)
        var lambdas: [Float] = [0, 1, 0.5, 0.25, 0.75, 1.0 / 3, 0.1, 0.9, Float(1).nextDown, Float(0).nextUp, 1e-7, Float(0.5).nextUp, Float(0.5).nextDown]
        for _ in 0..<24 { lambdas.append(Float(rng.uniform())) }
        var out = [UInt8](repeating: 0, count: a.count)
        for lambda in lambdas {
            for n in [a.count, a.count - 1, 15, 17, 0] {
                out.withUnsafeMutableBufferPointer { Mixer.blendRow(a, b, lambda: lambda, into: $0.baseAddress!, count: n) }
                let bad = (0..<n).first { out[$0] != Mixer.blend(a[$0], b[$0], lambda: lambda) }
                XCTAssertNil(bad, "λ \(lambda), \(n) pairs: pair (\(bad.map { a[$0] } ?? 0), \(bad.map { b[$0] } ?? 0))")
            }
        }
        // It does round half away from zero in every lane, not half to even.
        let halves = [UInt8](repeating: 1, count: 16) + [UInt8](repeating: 5, count: 16)
        var got = [UInt8](repeating: 0, count: 32)
        got.withUnsafeMutableBufferPointer { Mixer.blendRow(halves, [UInt8](repeating: 0, count: 32), lambda: 0.5, into: $0.baseAddress!, count: 32) }
        XCTAssertEqual(got, [UInt8](repeating: 1, count: 16) + [UInt8](repeating: 3, count: 16))  // 0.5 → 1, 2.5 → 3
    }

    func testMixedImageAndLabel() {
        let d = MixDecision(primary: 0, partner: 1, lambda: 0.75, box: nil, mixed: true)
        var image = [UInt8](repeating: 0, count: 4)
        image.withUnsafeMutableBufferPointer { Mixer.image(d, source: ImageStore(source), into: $0.baseAddress!) }
        XCTAssertEqual(image, [13, 88, 163, 204]) // round(0.75·x + 0.25·50)
        var label = [Float](repeating: 9, count: 3)
        label.withUnsafeMutableBufferPointer { Mixer.label(d, source: ImageStore(source), classCount: 3, smoothing: 0, into: $0.baseAddress!) }
        XCTAssertEqual(label, [0.25, 0, 0.75])
    }

    func testLabelSmoothing() {
        let d = MixDecision.unmixed(0)
        var label = [Float](repeating: 0, count: 4)
        let wide = LabeledImages(channels: 1, height: 2, width: 2, images: source.images, labels: [3, 0])
        label.withUnsafeMutableBufferPointer { Mixer.label(d, source: ImageStore(wide), classCount: 4, smoothing: 0.1, into: $0.baseAddress!) }
        XCTAssertEqual(label[0], 0.025, accuracy: 1e-7)
        XCTAssertEqual(label[3], 0.925, accuracy: 1e-7)
        XCTAssertEqual(label.reduce(0, +), 1, accuracy: 1e-6)
    }

    /// `labelWeights`, which verify checks rows against, is the writer's formula of mixshards 0.1–0.4 bit
    /// for bit (the loop below is that writer's code) for any λ, pair of classes, class count and smoothing.
    func testLabelWeightsAreTheFormulaRowsWereAlwaysWrittenWith() {
        func old(_ lambda: Float, _ yi: Int, _ yj: Int, _ k: Int, _ smoothing: Double) -> [Float] {
            var out = [Float](repeating: 0, count: k)
            out[yi] += lambda
            out[yj] += 1 - lambda
            if smoothing > 0 {
                let eps = Float(smoothing)
                let add = eps / Float(k)
                for c in 0..<k { out[c] = (1 - eps) * out[c] + add }
            }
            return out
        }
        var rng = CounterRNG(seed: 22, stream: .test)
        for n in 0..<20_000 {
            let k = [2, 3, 10, 100, 1000][n % 5]
            let lambda: Float = n % 7 == 0 ? [0, 1, 0.5, Float(0.3), 1e-9][n % 5] : Float(rng.uniform())
            let yi = rng.uniformInt(below: k), yj = n % 3 == 0 ? yi : rng.uniformInt(below: k)
            let smoothing = [0, 0.1, 0.05, 1e-3, 0.3333][n % 5 == 0 ? 0 : rng.uniformInt(below: 5)]
            var row = [Float](repeating: 9, count: k)
            row.withUnsafeMutableBufferPointer {
                Mixer.label(lambda: lambda, primaryClass: yi, partnerClass: yj, classCount: k, smoothing: smoothing, into: $0.baseAddress!)
            }
            let want = old(lambda, yi, yj, k, smoothing)
            XCTAssertEqual(row.map(\.bitPattern), want.map(\.bitPattern), "λ \(lambda), classes \(yi) and \(yj) of \(k), ε \(smoothing)")
        }
        // ε = 0.1 over 10 classes, λ = 1: 0.9·1 + 0.01 is 0.90999997 in binary32 (one ulp below 0.91), 0.01 elsewhere.
        let w = Mixer.labelWeights(lambda: 1, sameClass: true, classCount: 10, smoothing: 0.1)
        XCTAssertEqual([w.primary, w.partner, w.rest], [Float(0.91).nextDown, Float(0.91).nextDown, 0.01])
    }

    /// CutMix's λ is the kept fraction as one binary32 division: a 3×4 box of a 32×32 image keeps 1012/1024.
    func testCutMixLambdaIsTheKeptFraction() {
        XCTAssertEqual(EpochPlan.cutmixLambda(boxArea: 12, width: 32, height: 32), 0.98828125)
        XCTAssertEqual(EpochPlan.cutmixLambda(boxArea: 0, width: 32, height: 32), 1)
        XCTAssertEqual(EpochPlan.cutmixLambda(boxArea: 1024, width: 32, height: 32), 0)
        XCTAssertEqual(EpochPlan.cutmixLambda(boxArea: 1, width: 3, height: 1).bitPattern, (Float(2) / Float(3)).bitPattern)
    }

    func testCutMixPastesTheBoxFromThePartner() {
        let d = MixDecision(primary: 0, partner: 1, lambda: 0.75, box: (x0: 1, y0: 0, x1: 2, y1: 1), mixed: true)
        var image = [UInt8](repeating: 0, count: 4)
        image.withUnsafeMutableBufferPointer { Mixer.image(d, source: ImageStore(source), into: $0.baseAddress!) }
        XCTAssertEqual(image, [0, 50, 200, 255])
    }
}
