import MixCore
import Mixup
import XCTest

/// `[augment]`: the transforms drawn per position and the kernel that applies them.
final class AugmentTests: XCTestCase {
    /// `apply` (the fast kernel) equals the pixel-by-pixel definition for every shift and flip.
    func testApplyMatchesTheNaiveDefinition() {
        let c = 3, h = 5, w = 7
        var rng = CounterRNG(seed: 9, stream: .test)
        let src = (0..<(c * h * w)).map { _ in UInt8(truncatingIfNeeded: rng.nextUInt32()) }
        for dx in -8...8 {
            for dy in -6...6 {
                for flip in [false, true] {
                    let t = ImageTransform(dx: Int16(dx), dy: Int16(dy), flip: flip)
                    var out = [UInt8](repeating: 0xAA, count: src.count)
                    src.withUnsafeBufferPointer { s in
                        out.withUnsafeMutableBufferPointer { o in t.apply(s.baseAddress!, into: o.baseAddress!, channels: c, height: h, width: w) }
                    }
                    for ch in 0..<c {
                        for y in 0..<h {
                            for x in 0..<w {
                                let want = t.pixel({ src[$0 * h * w + $1 * w + $2] }, c: ch, y: y, x: x, height: h, width: w)
                                if out[ch * h * w + y * w + x] != want {
                                    return XCTFail("shift (\(dx), \(dy)) flip \(flip): pixel (\(ch), \(y), \(x)) is \(out[ch * h * w + y * w + x]), want \(want)")
                                }
                            }
                        }
                    }
                }
            }
        }
        // Spot values: pad-4 crop at offset (0, 0) is shift (−4, −4): the top-left 4×4 is zero fill.
        let t = ImageTransform(dx: -1, dy: 0, flip: true)
        XCTAssertEqual(t.pixel({ _, y, x in UInt8(10 * y + x) }, c: 0, y: 2, x: 0, height: 5, width: 7), 25) // source x = 6 − 0 − 1
        XCTAssertEqual(t.pixel({ _, _, _ in 9 }, c: 0, y: 0, x: 6, height: 5, width: 7), 0)                // source x = −1: fill
    }

    /// Offsets are uniform over [−pad, pad], flips a fair coin, and the two are independent draws:
    /// turning flips on never moves a crop, and the partner's draws are not the primary's.
    func testDrawsAreUniformIndependentAndStable() {
        let crop = AugmentConfig(cropPad: 4, flip: false)
        let both = AugmentConfig(cropPad: 4, flip: true)
        let flipOnly = AugmentConfig(cropPad: 0, flip: true)
        var counts = [Int](repeating: 0, count: 9)
        var flips = 0, samePartner = 0
        let n = 20_000
        for k in 0..<n {
            let a = crop.transforms(seed: 5, epoch: 2, position: k)
            let b = both.transforms(seed: 5, epoch: 2, position: k)
            let f = flipOnly.transforms(seed: 5, epoch: 2, position: k)
            XCTAssertEqual([a.primary.dx, a.primary.dy, a.partner.dx, a.partner.dy], [b.primary.dx, b.primary.dy, b.partner.dx, b.partner.dy])
            XCTAssertFalse(a.primary.flip)
            XCTAssertEqual(f.primary.flip, b.primary.flip)
            XCTAssertEqual([f.primary.dx, f.primary.dy], [0, 0])
            counts[Int(a.primary.dx) + 4] += 1
            if b.primary.flip { flips += 1 }
            if a.primary == a.partner { samePartner += 1 }
        }
        let expected = Double(n) / 9, sigma = (expected * 8 / 9).squareRoot()
        for (i, c) in counts.enumerated() { XCTAssertLessThan(abs(Double(c) - expected), 5 * sigma, "dx \(i - 4)") }
        XCTAssertLessThan(abs(Double(flips) - Double(n) / 2), 5 * (Double(n) / 4).squareRoot())
        XCTAssertLessThan(samePartner, n / 50, "primary and partner draws must differ (1/81 of shifts coincide)")
        // Keyed by (seed, epoch, position): another epoch or seed draws otherwise.
        XCTAssertNotEqual((0..<50).map { crop.transforms(seed: 5, epoch: 2, position: $0).primary },
                          (0..<50).map { crop.transforms(seed: 5, epoch: 3, position: $0).primary })
        XCTAssertNotEqual((0..<50).map { crop.transforms(seed: 5, epoch: 2, position: $0).primary },
                          (0..<50).map { crop.transforms(seed: 6, epoch: 2, position: $0).primary })
        // Pinned draws: these values are part of the shard bytes (a change needs a format note).
        let pinned = (0..<4).map { both.transforms(seed: 0, epoch: 0, position: $0).primary }
        XCTAssertEqual(pinned.map { "\($0.dx),\($0.dy),\($0.flip)" }, Self.pinnedDraws)
    }

    static let pinnedDraws = ["3,3,false", "-4,-2,false", "0,2,false", "4,-1,true"]

    /// The mixing decisions do not depend on `[augment]`: the same partners and λ with and without it;
    /// an unmixed sample's partner transform is its primary's.
    func testAugmentationLeavesMixingDecisionsAlone() {
        for mode in [MixMode.sample, .batch, .cutmix, .none] {
            let config = MixConfig(mode: mode, p: 0.4, alpha: 0.3, block: 16)
            let plain = EpochPlan(config: config, seed: 2, epoch: 1, count: 300, height: 32, width: 32)
            let aug = EpochPlan(config: config, augment: AugmentConfig(cropPad: 4, flip: true), seed: 2, epoch: 1, count: 300,
                                height: 32, width: 32)
            var transformed = 0
            for k in 0..<300 {
                let a = plain.decision(at: k), b = aug.decision(at: k)
                XCTAssertEqual([a.primary, a.partner], [b.primary, b.partner], "\(mode) \(k)")
                XCTAssertEqual(a.lambda, b.lambda)
                XCTAssertEqual(a.mixed, b.mixed)
                XCTAssertTrue(a.primaryTransform.isIdentity && a.partnerTransform.isIdentity)
                if !b.mixed { XCTAssertEqual(b.partnerTransform, b.primaryTransform) }
                if !b.primaryTransform.isIdentity { transformed += 1 }
            }
            XCTAssertGreaterThan(transformed, 250, "\(mode)")
        }
    }

    /// A mixed image is the blend (or paste) of the two transformed images; a copy is the transformed primary.
    func testMixerAppliesTransformsBeforeMixing() {
        var rng = CounterRNG(seed: 4, stream: .test)
        let source = LabeledImages(channels: 3, height: 8, width: 8,
                                   images: (0..<(4 * 192)).map { _ in UInt8(truncatingIfNeeded: rng.nextUInt32()) }, labels: [0, 1, 2, 3])
        func transformed(_ i: Int, _ t: ImageTransform) -> [UInt8] {
            (0..<192).map { j in t.pixel({ source.images[i * 192 + $0 * 64 + $1 * 8 + $2] }, c: j / 64, y: (j % 64) / 8, x: j % 8, height: 8, width: 8) }
        }
        let ta = ImageTransform(dx: 2, dy: -1, flip: true), tb = ImageTransform(dx: -3, dy: 0, flip: false)
        let cases: [MixDecision] = [
            .unmixed(1, transform: ta),
            MixDecision(primary: 0, partner: 2, lambda: 0.3, box: nil, mixed: true, primaryTransform: ta, partnerTransform: tb),
            MixDecision(primary: 3, partner: 3, lambda: 0.6, box: nil, mixed: true, primaryTransform: ta, partnerTransform: tb),
            MixDecision(primary: 1, partner: 2, lambda: 0.75, box: (x0: 2, y0: 4, x1: 6, y1: 6), mixed: true, primaryTransform: tb, partnerTransform: ta),
        ]
        for d in cases {
            var out = [UInt8](repeating: 0, count: 192)
            out.withUnsafeMutableBufferPointer { Mixer.image(d, source: ImageStore(source), into: $0.baseAddress!) }
            let a = transformed(d.primary, d.primaryTransform), b = transformed(d.partner, d.partnerTransform)
            var want = d.mixed ? zip(a, b).map { Mixer.blend($0, $1, lambda: d.lambda) } : a
            if let box = d.box {
                want = a
                for j in 0..<192 where (box.x0..<box.x1).contains(j % 8) && (box.y0..<box.y1).contains((j % 64) / 8) { want[j] = b[j] }
            }
            XCTAssertEqual(out, want, "\(d)")
        }
    }
}
