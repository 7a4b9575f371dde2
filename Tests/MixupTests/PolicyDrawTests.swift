import MixCore
import Mixup
import XCTest

/// The draws of issue 20's `[augment]` ops (DESIGN.md, "The draws of an epoch, exactly"): pinned
/// vectors (which python/tests/test_mixing.py regenerates), a fixed number of draws per op so that
/// turning one op on never moves another's, and the distributions torchvision v2 draws from.
final class PolicyDrawTests: XCTestCase {
    static var all: AugmentConfig {
        var a = AugmentConfig(cropPad: 4, flip: true)
        a.randomResizedCrop = ResizedCropConfig()
        a.colorJitter = ColorJitterConfig(brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1)
        a.trivialAugment = true
        a.randomErasing = ErasingConfig(p: 0.5, random: true)
        return a
    }

    static func text(_ o: ImageOps) -> String {
        var parts: [String] = []
        if let c = o.resizedCrop { parts.append("crop \(c.top) \(c.left) \(c.height) \(c.width)") }
        parts += o.ops.map { "\($0.op.name) \(String($0.magnitude.bitPattern, radix: 16))" }
        return parts.joined(separator: ", ")
    }

    static func text(_ e: Erasing) -> String {
        guard let f = e.fill else { return "none" }
        return "\(f == .zero ? "zero" : "random") \(e.box.top) \(e.box.left) \(e.box.height) \(e.box.width)"
    }

    /// DESIGN.md's vectors: seed 5, epoch 0, 32×32 images, every op on (TrivialAugment; then RandAugment 2 ops, M 9).
    func testPinnedVectors() {
        let a = Self.all
        var out: [String] = []
        for k in [0, 1, 47] {
            let o = a.ops(seed: 5, epoch: 0, position: k, height: 32, width: 32)
            out.append("\(k): \(Self.text(o.primary)) | \(Self.text(o.partner)) | \(Self.text(o.erasing))")
        }
        var r = a
        r.trivialAugment = nil
        r.randAugment = RandAugmentConfig(ops: 2, magnitude: 9)
        let o = r.ops(seed: 5, epoch: 0, position: 0, height: 32, width: 32)
        out.append("ra 0: \(Self.text(o.primary)) | \(Self.text(o.partner))")
        out.append("erasing 0-7: " + (0..<8).map { Self.text(a.ops(seed: 5, epoch: 0, position: $0, height: 32, width: 32).erasing) }
            .joined(separator: "; "))
        if ProcessInfo.processInfo.environment["MIXSHARDS_PRINT_VECTORS"] == "1" { print(out.joined(separator: "\n")) }
        XCTAssertEqual(out, Self.expected)
    }

    static let expected: [String] = [
        "0: crop 0 14 18 17, Rotate 41100000, Brightness 3ec9d160, Color bd534884, Hue 3db422a3, Contrast 3e71fe42 | crop 0 3 32 25, ShearY bf7d70a4, Color 3d61105f, Contrast bc86f7a2, Brightness 3d87bb1f, Hue bdb645b6 | none",
        "1: crop 2 1 29 30, Sharpness bf74fdf4, Contrast bd9146af, Color be19beff, Brightness 3e4e9704, Hue 3ca82d14 | crop 1 15 15 17, Equalize 0, Brightness 3e8f4bb6, Hue 3d9d0efa, Contrast 3db39c8e, Color 3eaa5258 | none",
        "47: crop 7 15 15 15, Contrast bf4ac083, Brightness 3e89def6, Contrast bd969310, Hue bd5b7adb, Color 3ec50e8a | crop 4 4 21 28, TranslateY c12aaaab, Color 3da78c2d, Contrast 3e9016d7, Hue 3d54bd7d, Brightness 3e318d9b | none",
        "ra 0: crop 0 14 18 17, Rotate 41100000, Brightness 3e8a3d70, Brightness 3ec9d160, Color bd534884, Hue 3db422a3, Contrast 3e71fe42 | crop 0 3 32 25, Equalize 0, ShearY bdb851ec, Color 3d61105f, Contrast bc86f7a2, Brightness 3d87bb1f, Hue bdb645b6",
        "erasing 0-7: none; none; none; none; none; random 4 8 21 14; random 6 15 14 16; random 0 14 17 11",
    ]

    /// Turning an op on never moves another's draws, nor crop, flip or the mixing decisions.
    func testEachOpFamilyDrawsAloneFromItsOwnStream() {
        let all = Self.all
        var crop = AugmentConfig(cropPad: 4, flip: true)
        crop.randomResizedCrop = ResizedCropConfig()
        var jitter = AugmentConfig()
        jitter.colorJitter = all.colorJitter
        var trivial = AugmentConfig()
        trivial.trivialAugment = true
        var erasing = AugmentConfig()
        erasing.randomErasing = all.randomErasing
        let mix = MixConfig(mode: .cutmix, p: 0.5, alpha: 1)
        let full = EpochPlan(config: mix, augment: all, seed: 9, epoch: 2, count: 300, height: 32, width: 32)
        let plain = EpochPlan(config: mix, augment: AugmentConfig(cropPad: 4, flip: true), seed: 9, epoch: 2, count: 300, height: 32, width: 32)
        for k in 0..<300 {
            let f = all.ops(seed: 9, epoch: 2, position: k, height: 32, width: 32)
            let c = crop.ops(seed: 9, epoch: 2, position: k, height: 32, width: 32)
            let j = jitter.ops(seed: 9, epoch: 2, position: k, height: 32, width: 32)
            let t = trivial.ops(seed: 9, epoch: 2, position: k, height: 32, width: 32)
            let e = erasing.ops(seed: 9, epoch: 2, position: k, height: 32, width: 32)
            XCTAssertEqual(f.primary.resizedCrop, c.primary.resizedCrop)
            XCTAssertEqual(f.partner.resizedCrop, c.partner.resizedCrop)
            XCTAssertEqual(f.primary.ops, t.primary.ops + j.primary.ops, "policy op first, then colour jitter's")
            XCTAssertEqual(f.partner.ops, t.partner.ops + j.partner.ops)
            XCTAssertEqual(f.erasing, e.erasing)
            // Crop, flip and mixing are those of the same pipeline without the new ops.
            var d = full.decision(at: k)
            XCTAssertEqual(d.partnerOps, d.mixed ? f.partner : f.primary)
            (d.primaryOps, d.partnerOps, d.erasing) = (.none, .none, .none)
            XCTAssertEqual(d, plain.decision(at: k))
        }
    }

    /// Every op on: the decisions of an epoch are the same computed in order, backwards, in two
    /// halves split anywhere (a worker split) and on two threads — each a function of its position.
    func testDecisionsWithEveryOpAreThreadAndSplitInvariant() {
        var a = Self.all
        let plan = EpochPlan(config: MixConfig(mode: .sample, p: 0.5, alpha: 0.4), augment: a, seed: 3, epoch: 1, count: 400,
                             height: 32, width: 32)
        let forward = (0..<400).map { plan.decision(at: $0) }
        XCTAssertEqual(Array((0..<400).reversed().map { plan.decision(at: $0) }.reversed()), forward)
        let again = EpochPlan(config: plan.config, augment: a, seed: 3, epoch: 1, count: 400, height: 32, width: 32)
        XCTAssertEqual((137..<400).map { again.decision(at: $0) } + (0..<137).map { again.decision(at: $0) },
                       Array(forward[137...] + forward[..<137]))
        let threaded = Locked([MixDecision?](repeating: nil, count: 400))
        try? Parallel.forEach(count: 400, threads: 2) { k in
            let d = plan.decision(at: k)
            threaded.withLock { $0[k] = d }
        }
        XCTAssertEqual(threaded.withLock { $0 }.map { $0! }, forward)
        XCTAssertGreaterThan(forward.filter { !$0.erasing.isNone }.count, 100)
        XCTAssertTrue(forward.allSatisfy { $0.primaryOps.resizedCrop != nil && $0.primaryOps.ops.count == 5 })
        // RandAugment instead of TrivialAugment: 2 policy ops + 4 jitter ops an image.
        a.trivialAugment = nil
        a.randAugment = RandAugmentConfig()
        let ra = EpochPlan(config: plan.config, augment: a, seed: 3, epoch: 1, count: 400, height: 32, width: 32)
        XCTAssertTrue((0..<400).allSatisfy { ra.decision(at: $0).partnerOps.ops.count == 6 })
    }

    /// The draws follow torchvision v2's distributions (loose bounds: 4σ or wider).
    func testDistributions() {
        let n = 20_000
        let crop = ResizedCropConfig()
        var areas = 0.0, fallbacks = 0
        var jitterOrders = [String: Int](), ops = [Int](repeating: 0, count: 14), negative = 0, signed = 0
        var erased = 0
        let jitter = ColorJitterConfig(brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1)
        let erasing = ErasingConfig(p: 0.25)
        for k in 0..<n {
            var rng = CounterRNG(seed: 1, stream: .test, epoch: 0, position: UInt32(k))
            let box = crop.draw(&rng, height: 32, width: 32)
            XCTAssertTrue(box.fits(height: 32, width: 32))
            areas += Double(Int(box.height) * Int(box.width)) / 1024
            if box.height == 32 && box.width == 32 && box.top == 0 && box.left == 0 { fallbacks += 1 }
            let j = jitter.draw(&rng)
            XCTAssertEqual(j.count, 4)
            jitterOrders[j.map(\.op.name).joined(separator: ","), default: 0] += 1
            for op in j {
                let range: ClosedRange<Float> = op.op == .hue ? -0.1...0.1 : -0.4...0.4
                XCTAssertTrue(range.contains(op.magnitude), "\(op)")
            }
            let t = PolicyAugment.drawTrivial(&rng)
            ops[Int(t.op.rawValue)] += 1
            if PolicyAugment.trivialMagnitude(t.op, bin: 1).signed && t.magnitude != 0 {
                signed += 1
                if t.magnitude < 0 { negative += 1 }
            }
            if !erasing.draw(&rng, height: 32, width: 32).isNone { erased += 1 }
        }
        // Area fraction uniform in [0.08, 1] (taken when the box fits, which it mostly does): mean about 0.54,
        // a little below since wide ratios fail more often at large areas.
        XCTAssertEqual(areas / Double(n), 0.5, accuracy: 0.06)
        XCTAssertLessThan(fallbacks, n / 20)
        XCTAssertEqual(jitterOrders.count, 24, "every order of the four components")
        for (_, c) in jitterOrders { XCTAssertEqual(Double(c), Double(n) / 24, accuracy: 4 * (Double(n) / 24).squareRoot()) }
        for c in ops { XCTAssertEqual(Double(c), Double(n) / 14, accuracy: 4 * (Double(n) / 14).squareRoot()) }
        XCTAssertEqual(Double(negative), Double(signed) / 2, accuracy: 4 * (Double(signed) / 4).squareRoot())
        XCTAssertEqual(Double(erased), Double(n) / 4, accuracy: 4 * (Double(n) * 3 / 16).squareRoot())
    }

    /// The magnitude bins are torch.linspace's in binary32 and torchvision's posterize formula.
    func testMagnitudeBins() {
        XCTAssertEqual(PolicyAugment.trivialMagnitude(.shearX, bin: 0).magnitude, 0)
        XCTAssertEqual(PolicyAugment.trivialMagnitude(.shearX, bin: 30).magnitude, 0.99)
        XCTAssertEqual(PolicyAugment.trivialMagnitude(.translateX, bin: 30).magnitude, 32)
        // torch.linspace(0, 32, 31)[15] is 15.999999 (0x417fffff), not 16: its fused multiply-add from 0.
        XCTAssertEqual(PolicyAugment.trivialMagnitude(.translateY, bin: 15).magnitude.bitPattern, 0x417F_FFFF)
        XCTAssertEqual(PolicyAugment.trivialMagnitude(.rotate, bin: 30).magnitude, 135)
        XCTAssertEqual(PolicyAugment.trivialMagnitude(.solarize, bin: 0).magnitude, 1)
        XCTAssertEqual(PolicyAugment.trivialMagnitude(.solarize, bin: 30).magnitude, 0)
        XCTAssertEqual((0..<31).map { Int(PolicyAugment.trivialMagnitude(.posterize, bin: $0).magnitude) },
                       [8, 8, 8, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 2, 2, 2])
        XCTAssertEqual((0..<31).map { Int(PolicyAugment.randMagnitude(.posterize, bin: $0, height: 32, width: 32).magnitude) },
                       [8, 8, 8, 8, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6, 6, 5, 5, 5, 5, 5, 5, 5, 5, 4, 4, 4, 4])
        XCTAssertEqual(PolicyAugment.randMagnitude(.rotate, bin: 9, height: 32, width: 32).magnitude, 9, accuracy: 1e-5)
        XCTAssertEqual(PolicyAugment.randMagnitude(.brightness, bin: 9, height: 32, width: 32).magnitude, 0.27, accuracy: 1e-6)
        XCTAssertEqual(PolicyAugment.randMagnitude(.translateX, bin: 30, height: 32, width: 64).magnitude, Float(150.0 / 331.0 * 64))
        XCTAssertFalse(PolicyAugment.trivialMagnitude(.posterize, bin: 3).signed)
        XCTAssertEqual(PolicyAugment.trivialMagnitude(.equalize, bin: 20).magnitude, 0)
    }

    /// torchvision's fallback of RandomResizedCrop when no attempt fits: a centred box with the ratio clamped.
    func testResizedCropFallback() {
        // No attempt fits a 4×32 image with ratio [1, 1] and area 1 (a 11×11 box): the fallback, w = round(4 / 1) … clamped.
        var rng = CounterRNG(seed: 0, stream: .test)
        let box = ResizedCropConfig(scale: [1, 1], ratio: [1, 1]).draw(&rng, height: 32, width: 4)
        XCTAssertEqual(box, CropBox(top: 14, left: 0, height: 4, width: 4))
    }
}
