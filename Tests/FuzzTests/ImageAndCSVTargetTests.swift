import Datasets
import Foundation
import ImageCodecs
import MixCore
import TestSupport
import XCTest
@testable import Fuzzing

/// The `image` and `csv` targets: their seeds are read, their structure-aware
/// mutations edit the fields they name, their cases are reproducible per seed, and
/// their mutants are both read and refused at several depths (past the first check).
final class ImageAndCSVTargetTests: XCTestCase {
    static var decodeFixtures: String { TestSupport.packageRoot + "/Tests/ImageCodecsTests/Fixtures/decode" }

    /// Runs cases `0..<count` of seed `seed`: each input and its outcome.
    static func sweep(_ target: FuzzTarget, name: String, seed: UInt64, count: Int) -> [(input: [UInt8], outcome: FuzzOutcome)] {
        (0..<count).map { n in
            var rng = FuzzRNG(seed: seed, target: name, case: UInt64(n))
            let input = target.generate(rng: &rng)
            return (input, target.run(input))
        }
    }

    /// 300 cases from seed 5, twice: the same inputs and outcomes both times, no unnamed error,
    /// more than `distinctAtLeast` distinct inputs. Returns the cases and their messages.
    static func reproducibleSweep(_ target: FuzzTarget, name: String, distinctAtLeast: Int)
        -> (cases: [(input: [UInt8], outcome: FuzzOutcome)], messages: (success: Int, named: [String], unnamed: [String])) {
        let a = sweep(target, name: name, seed: 5, count: 300)
        let b = sweep(target, name: name, seed: 5, count: 300)
        XCTAssertEqual(a.map(\.input), b.map(\.input), name)
        XCTAssertEqual(a.map(\.outcome), b.map(\.outcome), name)
        let m = messages(a)
        XCTAssertEqual(m.unnamed, [], name)
        XCTAssertGreaterThan(Set(a.map(\.input)).count, distinctAtLeast, name)
        return (a, m)
    }

    static func messages(_ cases: [(input: [UInt8], outcome: FuzzOutcome)]) -> (success: Int, named: [String], unnamed: [String]) {
        var success = 0
        var named: [String] = [], unnamed: [String] = []
        for (n, c) in cases.enumerated() {
            switch c.outcome {
            case .success: success += 1
            case .namedError(let m): named.append(m)
            case .unnamedError(let m): unnamed.append("case \(n): \(m)")
            }
        }
        return (success, named, unnamed)
    }

    // MARK: image

    func testImageSeedsAreTheGoodFixtures() throws {
        let context = try DatasetAndExperimentTargetTests.context("image-seeds")
        defer { Scratch.removeTree(context.scratch) }
        let target = try ImageTarget(context: context)
        // 40 good files in decode/ and the 5 pictures of resize/, then the png target's 6.
        XCTAssertEqual(target.seeds.count, 51)
        XCTAssertEqual(target.seeds.suffix(6), ArraySlice(try PNGTarget.seeds(root: context.root)))
        // EXIF blocks: JPEG orientations 1–8, the PNG, the WebP and the resize JPEG with orientation 6 or 8.
        XCTAssertEqual(target.tiffSeeds.count, 11)
        XCTAssertEqual(Set(target.tiffSeeds.map { EXIF.orientation(tiff: $0[...])?.rawValue ?? 0 }), Set(1...8))
        for seed in target.seeds { XCTAssertEqual(target.run(seed), .success) }
        for seed in target.tiffSeeds { guard case .namedError = target.run(seed) else { return XCTFail("a bare EXIF block was read as an image") } }
    }

    /// The layout walks find the fields the mutators edit, and setting the orientation to 1
    /// gives the stored pixels (what the orientation invariant compares against).
    func testImageLayoutFindsTheFieldsAndUprightingGivesTheStoredPixels() throws {
        let context = try DatasetAndExperimentTargetTests.context("image-layout")
        defer { Scratch.removeTree(context.scratch) }
        let target = try ImageTarget(context: context)
        let jpeg = try FileIO.read(Self.decodeFixtures + "/jpeg-exif-orientation-6.jpg")
        let (segments, scan) = ImageLayout.jpegSegments(jpeg)
        XCTAssertEqual(segments.map(\.marker), [0xE0, 0xE1, 0xDB, 0xDB, 0xC0, 0xC4, 0xC4, 0xC4, 0xC4, 0xDA])
        let sof = try XCTUnwrap(segments.first(where: \.isFrame))
        XCTAssertEqual(Array(jpeg[(sof.data.lowerBound + 1)..<(sof.data.lowerBound + 5)]), [0, 16, 0, 24])  // 24×16
        XCTAssertEqual(try XCTUnwrap(scan), 645 + 14)
        for file in ["jpeg-exif-orientation-6.jpg", "png-rgb-8bit-exif6.png", "webp-lossless-exif8.webp"] {
            let bytes = try FileIO.read(Self.decodeFixtures + "/" + file)
            let entries = ImageLayout.orientationEntries(bytes)
            XCTAssertEqual(entries.count, 1, file)
            let upright = try XCTUnwrap(ImageMutator.uprighted(bytes), file)
            XCTAssertEqual(zip(bytes, upright).filter { $0 != $1 }.count, file.hasSuffix(".png") ? 5 : 1, file)  // the value (and a CRC)
            let turned = try target.prepare(bytes, policy: .asIs), stored = try target.prepare(upright, policy: .asIs)
            XCTAssertEqual(turned.orientation, file.hasSuffix(".webp") ? .rotatedCounterClockwise : .rotatedClockwise, file)
            XCTAssertEqual(stored.orientation, .up, file)
            XCTAssertEqual([turned.image.width, turned.image.height], [stored.image.height, stored.image.width], file)
            XCTAssertNoThrow(try target.checkOrientation(turned, upright: upright), file)
        }
        // A frame claiming 4000×3000 in an 835-byte file: libjpeg fills what is missing; the
        // `shorter` 32×32 policy decodes it at 1/8 and still reports the claimed size.
        var big = jpeg
        ByteMutator.write(&big, 3000, at: sof.data.lowerBound + 1, width: 2, bigEndian: true)
        ByteMutator.write(&big, 4000, at: sof.data.lowerBound + 3, width: 2, bigEndian: true)
        let scaled = try target.prepare(big, policy: ImageTarget.policies[2])
        XCTAssertEqual([scaled.image.width, scaled.image.height, scaled.originalWidth, scaled.originalHeight], [32, 32, 3000, 4000])
        XCTAssertEqual(target.run(big), .success)
        // An EXIF block read inside a larger buffer reads the same.
        XCTAssertNoThrow(try ImageTarget.checkEXIFBlocks(jpeg))
    }

    func testImageCasesAreReproducibleAndReachTheDecoders() throws {
        let context = try DatasetAndExperimentTargetTests.context("image-cases")
        defer { Scratch.removeTree(context.scratch) }
        let target = try ImageTarget(context: context)
        let (a, m) = Self.reproducibleSweep(target, name: "image", distinctAtLeast: 280)
        XCTAssertGreaterThan(m.success, 40)
        XCTAssertGreaterThan(m.named.count, 100)
        // Accepted mutants of every format, some turned by their EXIF orientation; refusals from each decoder.
        let accepted = a.filter { $0.outcome == .success }.map(\.input)
        XCTAssertEqual(Set(accepted.compactMap { $0.withUnsafeBytes(ImageFormat.sniff) }), Set(ImageFormat.allCases))
        XCTAssertTrue(try accepted.contains { try target.prepare($0, policy: .asIs).orientation.swapsSides })
        for decoder in ["corrupt JPEG", "corrupt PNG", "corrupt WebP", "truncated JPEG"] {
            XCTAssertTrue(m.named.contains { $0.contains(decoder) }, decoder)
        }
        var other = FuzzRNG(seed: 6, target: "image", case: 0)
        XCTAssertNotEqual(target.generate(rng: &other), a[0].input)
    }

    // MARK: csv

    func testCSVSeedsAreRead() throws {
        let context = try DatasetAndExperimentTargetTests.context("csv-seeds")
        defer { Scratch.removeTree(context.scratch) }
        let target = try CSVTarget(context: context)
        XCTAssertEqual(target.seeds.count, 6)
        XCTAssertEqual(target.files.count, 12)
        for seed in target.seeds { XCTAssertEqual(target.run(seed), .success, String(decoding: seed, as: UTF8.self)) }
        // The files of an input: train.csv, then the named second one (none without the separator).
        let (train, name, test) = CSVTarget.split(target.seeds[0])
        XCTAssertEqual([train, test], [target.files[0], target.files[1]])
        XCTAssertEqual(name, "val.csv")
        XCTAssertEqual(CSVTarget.join(train, name, test), target.seeds[0])
        XCTAssertNil(CSVTarget.split(train).testName)
        // csv300's pair: 300 classes, each image decoded at 8×8.
        _ = target.run(target.seeds[1])
        guard case .files(let listing) = try DatasetSource.open(target.folder) else { return XCTFail("not image files") }
        XCTAssertEqual([listing.classNames.count, listing.train.count, listing.test.count], [300, 300, 300])
        // A row naming the subfolder is refused by name.
        let sub = CSVTarget.join(Array("path,label\nimages/a.png,x\n".utf8), "test.csv", Array("path,label\nimages/sub,x\n".utf8))
        XCTAssertEqual(target.run(sub), .namedError(target.folder + "/images/sub: is a directory, not a regular file"))
    }

    func testCSVCasesAreReproducibleAndReachTheDecoder() throws {
        let context = try DatasetAndExperimentTargetTests.context("csv-cases")
        defer { Scratch.removeTree(context.scratch) }
        let target = try CSVTarget(context: context)
        let (_, m) = Self.reproducibleSweep(target, name: "csv", distinctAtLeast: 270)
        XCTAssertGreaterThan(m.success, 20)
        XCTAssertGreaterThan(m.named.count, 150)
        // Refused by the CSV reader, the listing (classes, columns) and the image files behind it.
        for what in ["train.csv: line", "is not a class of train.csv", "the header has", target.folder + "/images/"] {
            XCTAssertTrue(m.named.contains { $0.contains(what) }, what)
        }
    }

    /// `mixfuzz replay --seed --case` regenerates the new targets' cases exactly.
    func testReplayRegeneratesImageAndCSVCases() throws {
        try FuzzRunTests.assertReplayRegenerates(targets: ["image", "csv"], case: 31, in: "replay-image-csv")
    }
}
