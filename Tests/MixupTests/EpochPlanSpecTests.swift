import XCTest
import MixCore
import Mixup

/// DESIGN.md's test vectors of an epoch's decisions (*Random numbers*, *Mixing semantics*):
/// the pipeline of the Python tests' `pixels-cutmix` fixture (seed 5, 300 images of 32×32,
/// crop_pad 4 and flip, p 0.4, α 0.5) and of their `batch` fixture. The same literals are
/// computed from DESIGN's definitions by `python/tests/test_rng.py`, and `python/tests/test_mixing.py` regenerates
/// every record of those directories.
final class EpochPlanSpecTests: XCTestCase {
    private func plan(_ mode: MixMode, p: Double = 0.4, alpha: Double = 0.5, block: Int = 16,
                      augment: AugmentConfig = AugmentConfig(cropPad: 4, flip: true)) -> EpochPlan {
        EpochPlan(config: MixConfig(mode: mode, p: p, alpha: alpha, block: block), augment: augment, seed: 5, epoch: 0,
                  count: 300, height: 32, width: 32)
    }

    private func box(_ d: MixDecision) -> [Int]? { d.box.map { [$0.x0, $0.y0, $0.x1, $0.y1] } }

    private func t(_ dx: Int16, _ dy: Int16, _ flip: Bool) -> ImageTransform { ImageTransform(dx: dx, dy: dy, flip: flip) }

    func testOrder() {
        XCTAssertEqual(Array(plan(.cutmix).order.prefix(10)), [248, 38, 263, 254, 41, 215, 64, 264, 55, 274])
        XCTAssertEqual(EpochPlan.permutation(300, seed: 5, epoch: 0), plan(.none).order)
    }

    func testCutMixBoxes() {
        let pl = plan(.cutmix)
        // Position 0: u = 0.2362 < p; partner 295; λ₀ = 0x1.e130c5d71cd97p-1 (0.93983); cx 4, cy 27;
        // cut side ⌊32·√(1 − λ₀)⌋ = 7, half 3: box [1, 7) × [24, 30), 36 pixels: λ = 988/1024.
        var d = pl.decision(at: 0)
        XCTAssertEqual([d.primary, d.partner], [248, 295])
        XCTAssertEqual(d.lambda.bitPattern, 0x3F77_0000)
        XCTAssertEqual(d.lambda, 0.96484375)
        XCTAssertEqual(box(d), [1, 24, 7, 30])
        XCTAssertEqual([d.primaryTransform, d.partnerTransform], [t(0, 4, true), t(4, 3, true)])
        // Position 1: u = 0.4849 ≥ p: a copy, the primary's transform for both.
        d = pl.decision(at: 1)
        XCTAssertEqual(d, MixDecision.unmixed(38, transform: t(1, 0, false)))
        // Position 3: partner 253, cx 1, cy 15, cut side 8, half 4: clipped to [0, 5) × [11, 19), λ = 984/1024.
        d = pl.decision(at: 3)
        XCTAssertEqual([d.primary, d.partner], [254, 253])
        XCTAssertEqual(d.lambda.bitPattern, 0x3F76_0000)
        XCTAssertEqual(box(d), [0, 11, 5, 19])
        XCTAssertEqual([d.primaryTransform, d.partnerTransform], [t(-2, 2, false), t(3, -1, false)])
        // Position 47: λ₀ = 0.99877, cut side 1, half 0: no box. Recorded as a blend of λ = 1 with the
        // drawn partner and its transform (today's bytes; see DESIGN, *Mixing semantics*).
        d = pl.decision(at: 47)
        XCTAssertTrue(d.mixed)
        XCTAssertNil(d.box)
        XCTAssertEqual([d.primary, d.partner], [18, 138])
        XCTAssertEqual(d.lambda.bitPattern, (1 as Float).bitPattern)
        XCTAssertEqual([d.primaryTransform, d.partnerTransform], [t(-1, -1, true), t(-1, -2, true)])
    }

    func testSampleAndBatchDecisions() {
        // Sample mode draws the partner and λ as cutmix does, and stores λ₀ rounded to binary32.
        let d = plan(.sample).decision(at: 0)
        XCTAssertEqual([d.primary, d.partner], [248, 295])
        XCTAssertEqual(d.lambda.bitPattern, 0x3F70_9863)
        XCTAssertNil(d.box)
        // Batch mode (the `batch` fixture: p 0.2, α 0.2, block 16, no augmentation): block 0's
        // stream gives λ = 0x1.d241cbcf01364p-1 and the permutation [9, 2, 10, 12, 6, …]; position 4
        // is mixed with order[0 + π[4]] = order[6] = 64.
        let batch = plan(.batch, p: 0.2, alpha: 0.2, augment: AugmentConfig())
        let b = batch.decision(at: 4)
        XCTAssertEqual([b.primary, b.partner], [41, 64])
        XCTAssertEqual(b.lambda.bitPattern, 0x3F69_20E6)
        XCTAssertEqual([b.primaryTransform, b.partnerTransform], [.identity, .identity])
        XCTAssertEqual((0 ..< 16).filter { batch.decision(at: $0).mixed }, [4, 13, 14])
    }
}
