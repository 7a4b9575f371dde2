import Experiment
import MixCore
import Mixup
import Pipeline
import XCTest

/// Issue 20's `[augment]` keys: parsed with torchvision's defaults for missing fields, recorded in
/// the manifest only when on, and every bad value a one-line error naming the key.
final class AugmentKeysTests: XCTestCase {
    func testKeysParseWithTorchvisionDefaults() throws {
        let p = try Pipeline.parse("""
            [dataset]
            path = "x"
            [augment]
            random_resized_crop = {scale = [0.25, 1]}
            color_jitter = {brightness = 0.4, hue = 0.1}
            rand_augment = {ops = 3}
            random_erasing = {p = 0.25, value = "random"}
            """)
        XCTAssertEqual(p.augment.randomResizedCrop, ResizedCropConfig(scale: [0.25, 1], ratio: [0.75, 4.0 / 3.0]))
        XCTAssertEqual(p.augment.colorJitter, ColorJitterConfig(brightness: 0.4, contrast: 0, saturation: 0, hue: 0.1))
        XCTAssertEqual(p.augment.randAugment, RandAugmentConfig(ops: 3, magnitude: 9))
        XCTAssertEqual(p.augment.randomErasing, ErasingConfig(p: 0.25, scale: [0.02, 0.33], ratio: [0.3, 3.3], random: true))
        XCTAssertNil(p.augment.trivialAugment)
        XCTAssertTrue(p.augment.recordsOps)
        XCTAssertTrue(p.augment.hasImageOps)
        let t = try Pipeline.parse("[dataset]\npath = \"x\"\n[augment]\ntrivial_augment = true\nrandom_erasing = {}\n")
        XCTAssertEqual(t.augment.trivialAugment, true)
        XCTAssertEqual(t.augment.randomErasing, ErasingConfig())
        // Off is off: `trivial_augment = false` and an all-zero jitter record nothing (the shards stay v3).
        let off = try Pipeline.parse("[dataset]\npath = \"x\"\n[augment]\ntrivial_augment = false\ncolor_jitter = {hue = 0}\n")
        XCTAssertEqual(off.augment, AugmentConfig())
        XCTAssertFalse(off.augment.recordsOps)
    }

    /// The manifest (and prep.json) record the keys that are on, and nothing for a pipeline without them.
    func testCodableOmitsTheKeysThatAreOff() throws {
        let plain = String(decoding: try JSONEncoder().encode(AugmentConfig(cropPad: 4, flip: true)), as: UTF8.self)
        XCTAssertEqual(plain.count, "{\"crop_pad\":4,\"flip\":true}".count)
        var a = AugmentConfig()
        a.randomErasing = ErasingConfig(p: 0.5, random: true)
        a.trivialAugment = true
        let back = try JSONDecoder().decode(AugmentConfig.self, from: try JSONEncoder().encode(a))
        XCTAssertEqual(back, a)
    }

    func testBadValuesNameTheKey() {
        let cases: [(String, String)] = [
            ("random_resized_crop = {scale = [0, 1]}", "augment.random_resized_crop.scale must be two numbers [lo, hi] with 0 < lo ≤ hi ≤ 1 (got [0, 1])"),
            ("random_resized_crop = {ratio = [2, 1]}", "augment.random_resized_crop.ratio must be two numbers [lo, hi] with 0 < lo ≤ hi (got [2, 1])"),
            ("random_resized_crop = {scale = 0.5}", "augment.random_resized_crop.scale must be an array of numbers"),
            ("random_resized_crop = {size = 3}", "unknown key augment.random_resized_crop.size"),
            ("color_jitter = {hue = 0.6}", "augment.color_jitter.hue must be a number from 0 to 0.5 (got 0.6)"),
            ("color_jitter = {brightness = -1}", "augment.color_jitter.brightness must be a number from 0 to 1000 (got -1)"),
            ("rand_augment = {ops = 5}", "augment.rand_augment.ops must be from 1 to 4 (got 5)"),
            ("rand_augment = {magnitude = 31}", "augment.rand_augment.magnitude must be from 0 to 30 (got 31)"),
            ("trivial_augment = 1", "augment.trivial_augment must be true or false"),
            ("trivial_augment = true\nrand_augment = {}", "augment.trivial_augment and augment.rand_augment cannot both be on (each is a whole policy)"),
            ("random_erasing = {p = 1.5}", "augment.random_erasing.p must be a number from 0 to 1 (got 1.5)"),
            ("random_erasing = {value = 1}", "augment.random_erasing.value must be 0 or \"random\" (got 1)"),
            ("random_erasing = {value = \"noise\"}", "augment.random_erasing.value must be 0 or \"random\" (got \"noise\")"),
            ("random_erasing = {scale = [0.5, 0.2]}", "augment.random_erasing.scale must be two numbers [lo, hi] with 0 ≤ lo ≤ hi ≤ 1 (got [0.5, 0.2])"),
        ]
        for (line, expected) in cases {
            XCTAssertThrowsError(try Pipeline.parse("[dataset]\npath = \"x\"\n[augment]\n\(line)\n", file: "f.toml"), line) {
                XCTAssertEqual("\($0)", "f.toml: \(expected)")
            }
        }
    }
}
