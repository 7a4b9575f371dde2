@testable import Prep
import AugmentOps
import Datasets
import Foundation
import MixCore
import Mixup
import OpsTestSupport
import Pipeline
import ShardFormat
import ShardStore
import TestSupport
import XCTest

/// The `[augment]` policy ops end to end (issue 20, item 1): every pixel of an epoch written
/// with them recomputes from the source and the provenance and op records by DESIGN.md's
/// definitions (`DesignReference`, written from DESIGN alone, not the kernels' code), and the
/// shards are byte-identical at 1 and 2 threads and across a worker split with every op on.
final class PolicyOpsEpochTests: XCTestCase {
    static func pipeline(_ augment: String, mode: String = "cutmix", epochs: Int = 2) throws -> Pipeline {
        try Pipeline.parse("""
            name = "policy"
            seed = 11
            [dataset]
            path = "\(PrepFixtures.mini)"
            train_limit = 400
            test_limit = 100
            [augment]
            crop_pad = 4
            flip = true
            \(augment)
            [mix]
            mode = "\(mode)"
            p = 0.5
            alpha = 1.0
            [shards]
            epochs = \(epochs)
            samples_per_shard = 200
            samples_per_chunk = 64
            """)
    }

    /// One image of a sample by DESIGN: the source image, its resized crop (resampled back to
    /// H × W), its crop-pad shift and flip, then its ops in order.
    static func turned(_ i: UInt32, _ t: ImageTransform, _ ops: ImageOps, source: LabeledImages) -> PlanarImage {
        let (h, w) = (source.height, source.width), n = 3 * h * w
        var img = try! PlanarImage(channels: 3, height: h, width: w, pixels: Array(source.images[(Int(i) * n)..<(Int(i) * n + n)]))
        if let b = ops.resizedCrop {
            img = DesignReference.resizedCrop(img, top: Int(b.top), left: Int(b.left), height: Int(b.height), width: Int(b.width),
                                              outHeight: h, outWidth: w)
        }
        let before = img
        for c in 0..<3 { for y in 0..<h { for x in 0..<w {
            img[c, y, x] = t.pixel({ before[$0, $1, $2] }, c: c, y: y, x: x, height: h, width: w)
        } } }
        for op in ops.ops { img = DesignReference.apply(op.op, magnitude: Double(op.magnitude), img) }
        return img
    }

    /// A sample's pixels by DESIGN: the two turned images copied, blended or cut-mixed, then erased.
    static func recompute(_ p: Provenance, epoch: Int, position: Int, seed: UInt64, source: LabeledImages) -> [UInt8] {
        let (h, w) = (source.height, source.width)
        let a = turned(p.primary, p.primaryTransform, p.primaryOps, source: source)
        var out = a
        if p.kind != .copy {
            let b = turned(p.partner, p.partnerTransform, p.partnerOps, source: source)
            for c in 0..<3 { for y in 0..<h { for x in 0..<w {
                if p.kind == .cutmix {
                    let inBox = (Int(p.box.x0)..<Int(p.box.x1)).contains(x) && (Int(p.box.y0)..<Int(p.box.y1)).contains(y)
                    if inBox { out[c, y, x] = b[c, y, x] }
                } else {
                    let v = p.lambda * Float(a[c, y, x]) + (1 - p.lambda) * Float(b[c, y, x])
                    out[c, y, x] = UInt8(v.rounded(.toNearestOrAwayFromZero))
                }
            } } }
        }
        if let fill = p.erasing.fill {
            let e = p.erasing.box
            var rng = CounterRNG(seed: seed, stream: .erasingValues, epoch: UInt32(epoch), position: UInt32(position))
            for c in 0..<3 { for y in 0..<Int(e.height) { for x in 0..<Int(e.width) {
                out[c, Int(e.top) + y, Int(e.left) + x] = fill == .zero ? 0 : UInt8(rng.next() >> 56)
            } } }
        }
        return out.pixels
    }

    /// Reads every training sample of `dir` and compares it with `recompute`: `check` gets the
    /// stored and recomputed pixels of each sample; returns how often each op was applied.
    static func compareEpochs(_ dir: String, seed: UInt64, source: LabeledImages,
                              check: (_ stored: ArraySlice<UInt8>, _ want: [UInt8], _ what: String, _ p: Provenance) -> Bool) throws -> [PolicyOp: Int] {
        let manifest = try Manifest.load(directory: dir)
        let copy = try manifest.openSourceCopy(directory: dir)
        var seen = [PolicyOp: Int]()
        for epoch in manifest.train {
            var position = 0
            for shard in epoch.shards {
                let block = try ShardReader(path: dir + "/" + shard.file, source: copy).readAll()
                for s in 0..<block.count {
                    let p = block.provenance[s]
                    for op in p.primaryOps.ops + (p.kind == .copy ? [] : p.partnerOps.ops) { seen[op.op, default: 0] += 1 }
                    if p.primaryOps.resizedCrop != nil { seen[.resizedCrop, default: 0] += 1 }
                    let want = recompute(p, epoch: epoch.epoch, position: position + s, seed: seed, source: source)
                    let n = want.count
                    guard check(block.images[(s * n)..<(s * n + n)], want, "epoch \(epoch.epoch) position \(position + s)", p) else {
                        return seen
                    }
                }
                position += block.count
            }
        }
        return seen
    }

    /// TrivialAugmentWide, then CutMix, then random erasing: every op of the 14 is drawn, and
    /// every pixel equals DESIGN's (geometry and colour ops are exact).
    func testEveryPixelOfATrivialAugmentEpochRecomputesExactly() throws {
        let source = try Dataset.load(PrepFixtures.mini).train.prefix(400)
        let dir = try PrepFixtures.temporaryDirectory(name)
        let pl = try Self.pipeline("trivial_augment = true\nrandom_erasing = {p = 0.3, value = \"random\"}")
        _ = try PrepRunner.run(pl, options: PrepOptions(outDirectory: dir, threads: 2, quiet: true))
        XCTAssertEqual(try Manifest.load(directory: dir).formatVersion, 4)
        XCTAssertEqual(try Verifier.verify(directory: dir, threads: 2).problems, [])
        let seen = try Self.compareEpochs(dir, seed: 11, source: source) { stored, want, what, p in
            let got = Array(stored)
            guard got != want else { return true }
            let j = want.indices.first { got[$0] != want[$0] }!
            XCTFail("\(what): pixel \(j) is \(got[j]), DESIGN gives \(want[j]) (ops \(p.primaryOps.ops), \(p.partnerOps.ops))")
            return false
        }
        XCTAssertEqual(Set(seen.keys), Set(PolicyOp.policySpace), "every TrivialAugmentWide op is drawn in 800 samples: \(seen)")
    }

    /// The resized crop and colour jitter (hue included) with RandAugment: libvips' bilinear
    /// and the HSV round trip are within one grey level of DESIGN's per pixel on average.
    func testEveryPixelOfAResizedCropJitterRandAugmentEpochRecomputes() throws {
        let source = try Dataset.load(PrepFixtures.mini).train.prefix(400)
        let dir = try PrepFixtures.temporaryDirectory(name)
        let pl = try Self.pipeline("""
            random_resized_crop = {scale = [0.35, 1.0]}
            color_jitter = {brightness = 0.4, contrast = 0.4, saturation = 0.4, hue = 0.1}
            rand_augment = {ops = 2, magnitude = 9}
            """, mode: "sample")
        _ = try PrepRunner.run(pl, options: PrepOptions(outDirectory: dir, threads: 2, quiet: true))
        XCTAssertEqual(try Verifier.verify(directory: dir, threads: 2).problems, [])
        var worst = 0.0, exact = 0, samples = 0
        let seen = try Self.compareEpochs(dir, seed: 11, source: source) { stored, want, what, _ in
            samples += 1
            let mean = zip(stored, want).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) } / Double(want.count)
            worst = max(worst, mean)
            if mean == 0 { exact += 1 }
            if mean > 1 { XCTFail("\(what): mean difference \(mean) grey levels from DESIGN's"); return false }
            return true
        }
        XCTAssertEqual(samples, 800)
        XCTAssertGreaterThan(seen[.resizedCrop] ?? 0, 700, "every image is resized-cropped (the fallback included)")
        XCTAssertGreaterThan(seen[.hue] ?? 0, 700)
        XCTAssertLessThanOrEqual(worst, 1)
        print("resized crop + jitter + RandAugment: worst sample mean \(worst) grey levels, \(exact) of \(samples) samples exact")
    }

    /// Byte-identical shards at 1 and 2 threads and across a worker split, every new op on
    /// (TrivialAugment and RandAugment are each a whole policy, so one run each).
    func testThreadCountsAndWorkerSplitsGiveIdenticalBytesWithEveryOp() throws {
        for policy in ["trivial_augment = true", "rand_augment = {ops = 2, magnitude = 9}"] {
            let base = try PrepFixtures.temporaryDirectory(name + policy.prefix(4))
            let p = try Self.pipeline("""
                random_resized_crop = {}
                color_jitter = {brightness = 0.4, contrast = 0.4, saturation = 0.4, hue = 0.1}
                \(policy)
                random_erasing = {p = 0.5, value = "random"}
                """)
            let (t1, t2, split) = try PrepFixtures.threadAndWorkerSnapshots(p, in: base)
            // 2 epochs × 2 shards, the test shard, manifest and prep.json: no source copy, since
            // every image is resized-cropped and so no sample can be a reference.
            XCTAssertEqual(t1.count, 2 * 2 + 1 + 2, policy)
            XCTAssertEqual(t1, t2, policy)
            XCTAssertEqual(t1, split, policy)
            XCTAssertEqual(try Verifier.verify(directory: base + "/t1", threads: 2).problems, [], policy)
        }
    }
}
