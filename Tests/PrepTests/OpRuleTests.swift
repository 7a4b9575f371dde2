@testable import Prep
import MixCore
import Mixup
import ShardFormat
import XCTest

/// `verify`'s rule 13 (v4): op records hold only what the pipeline's `[augment]` draws. The same
/// cases and messages are in python/tests/test_policy.py (`rules.ops_problem`), word for word.
final class OpRuleTests: XCTestCase {
    func rules(_ a: AugmentConfig) -> RecordRules {
        RecordRules(trainCount: 10, testCount: 10, augment: a, mix: MixConfig(mode: .none, p: 0, alpha: 1), width: 32, height: 32)
    }

    func testOpsTheAugmentDoesNotDrawAreViolations() {
        var trivial = AugmentConfig()
        trivial.trivialAugment = true
        var jitter = AugmentConfig()
        jitter.colorJitter = ColorJitterConfig(brightness: 0.4, hue: 0.1)
        var erasingZero = AugmentConfig()
        erasingZero.randomErasing = ErasingConfig(p: 0.5)
        func record(_ ops: [AppliedOp], crop: CropBox? = nil, erasing: Erasing = .none) -> Provenance {
            var p = Provenance(primary: 1, partner: 1, lambda: 1)
            p.primaryOps = ImageOps(resizedCrop: crop, ops: ops)
            p.partnerOps = p.primaryOps
            p.erasing = erasing
            return p
        }
        let box = CropBox(top: 1, left: 2, height: 10, width: 12)
        let cases: [(AugmentConfig, Provenance, String?)] = [
            (trivial, record([AppliedOp(.rotate, -PolicyAugment.trivialMagnitude(.rotate, bin: 4).magnitude)]), nil),
            (trivial, record([AppliedOp(.rotate, 7)]),
             "provenance: the primary's op Rotate of magnitude 7 is not one augment.trivial_augment draws"),
            (trivial, record([AppliedOp(.posterize, -6)]),
             "provenance: the primary's op Posterize of magnitude -6 is not one augment.trivial_augment draws"),
            (trivial, record([]), "provenance: the primary records 0 ops, the pipeline's policy draws 1"),
            (trivial, record([AppliedOp(.identity, 0)], crop: box),
             "provenance: the primary has a resized crop, but augment.random_resized_crop is off"),
            (jitter, record([AppliedOp(.hue, 0.05), AppliedOp(.brightness, -0.25)]), nil),
            (jitter, record([AppliedOp(.brightness, 0.5), AppliedOp(.hue, 0.05)]),
             "provenance: the primary's colour-jitter Brightness of magnitude 0.5 is not in [-0.4, 0.4]"),
            (jitter, record([AppliedOp(.brightness, 0.1)]),
             "provenance: the primary's colour-jitter ops [Brightness] are not the enabled components of augment.color_jitter [Brightness, Hue], once each"),
            (AugmentConfig(), record([], erasing: Erasing(fill: .zero, box: box)),
             "provenance: an erased box, but augment.random_erasing is off"),
            (erasingZero, record([], erasing: Erasing(fill: .random, box: box)),
             "provenance: an erased box filled with random bytes, but augment.random_erasing.value is 0"),
            (erasingZero, record([], erasing: Erasing(fill: .zero, box: CropBox(top: 0, left: 0, height: 32, width: 4))),
             "provenance: an erased box of 32×4 is not smaller than the image"),
        ]
        for (augment, p, expected) in cases {
            XCTAssertEqual(rules(augment).problem(p, split: .train, position: 0, version: 4), expected)
        }
        // A test sample has no ops.
        XCTAssertEqual(rules(erasingZero).problem(record([], erasing: Erasing(fill: .zero, box: box)), split: .test, position: 1, version: 4),
                       "provenance: test position 1 must hold test image 1, unmixed and untransformed")
    }
}
